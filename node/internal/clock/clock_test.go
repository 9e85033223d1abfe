package clock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// fake is a system clock and a monotonic clock the test moves.
type fake struct{ sys, mono time.Time }

func newFake(t *testing.T, cfg Config) (*Clock, *fake) {
	t.Helper()
	f := &fake{sys: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC), mono: time.Unix(1000, 0)}
	cfg.System = func() time.Time { return f.sys }
	cfg.mono = func() time.Time { return f.mono }
	if cfg.SyncFile == "" {
		cfg.SyncFile = filepath.Join(t.TempDir(), "synchronized")
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, f
}

func (f *fake) step(d time.Duration) { f.sys, f.mono = f.sys.Add(d), f.mono.Add(d) }

func TestControllerAnswerSetsClock(t *testing.T) {
	c, f := newFake(t, Config{Sources: []string{SourceController}, Offset: -8760 * time.Hour})
	real := f.sys
	if c.Synced() {
		t.Fatal("synchronised before any source said so")
	}
	if got := c.Now(); real.Sub(got) != 8760*time.Hour {
		t.Fatalf("Now %v, want the simulated year behind %v", got, real)
	}
	req := c.Ask()
	if req == 0 || c.Ask() != 0 {
		t.Fatalf("Ask: %d then another at once; want one request, then none for a while", req)
	}
	f.step(40 * time.Millisecond)
	controller := f.sys.Add(3 * time.Millisecond) // the controller's clock is a little ahead
	f.step(60 * time.Millisecond)                 // round trip 100 ms
	if _, err := c.Answer(req+1, controller.UnixMilli()); !errors.Is(err, ErrNotAsked) {
		t.Errorf("answer to another request: %v, want ErrNotAsked", err)
	}
	st, err := c.Answer(req, controller.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	if !st.Synced || st.Source != nodeproto.ClockController || st.ErrorMS != 51 {
		t.Errorf("status %+v, want synced by the controller with a 51 ms bound", st)
	}
	// The controller read its clock 60 ms before the answer arrived; the
	// estimate assumes the middle of the round trip (50 ms): 10 ms off,
	// within the bound.
	want := controller.Add(60 * time.Millisecond)
	if d := c.Now().Sub(want); d < -51*time.Millisecond || d > 51*time.Millisecond {
		t.Errorf("Now %v, %v from the controller's time", c.Now(), d)
	}
	if _, err := c.Answer(req, controller.UnixMilli()); !errors.Is(err, ErrNotAsked) {
		t.Errorf("the same answer replayed: %v, want ErrNotAsked", err)
	}
	if c.Ask() != 0 {
		t.Error("asked again right after a good answer")
	}
	f.step(askRefresh)
	if c.Ask() == 0 {
		t.Error("no refresh request 10 minutes later")
	}
}

func TestSlowAnswerRefused(t *testing.T) {
	c, f := newFake(t, Config{Sources: []string{SourceController}})
	req := c.Ask()
	f.step(2*MaxControllerError + time.Millisecond)
	if _, err := c.Answer(req, f.sys.UnixMilli()); !errors.Is(err, ErrTooSlow) {
		t.Errorf("answer after a %v round trip: %v, want ErrTooSlow", 2*MaxControllerError, err)
	}
	if c.Synced() {
		t.Error("a slow answer synchronised the clock")
	}
	if c.Ask() != 0 {
		t.Error("asked again at once after a slow answer (want every 5 s)")
	}
	f.step(askUnsynced)
	if c.Ask() == 0 {
		t.Error("no new request 5 s later")
	}
}

// The system source: timesyncd's flag file appearing is NTP stepping the
// clock; the simulated offset ends and the controller's correction with it.
func TestSyncFileStepsSimulatedClock(t *testing.T) {
	c, f := newFake(t, Config{Sources: []string{SourceSystem, SourceController}, Offset: -48 * time.Hour})
	c.CheckSystem(context.Background())
	if c.Synced() {
		t.Fatal("synchronised without the flag file")
	}
	req := c.Ask()
	f.step(10 * time.Millisecond)
	if _, err := c.Answer(req, f.sys.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st.Source != nodeproto.ClockController {
		t.Fatalf("status %+v, want the controller's time", st)
	}
	if err := os.WriteFile(c.cfg.SyncFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c.CheckSystem(context.Background())
	if st := c.Status(); !st.Synced || st.Source != nodeproto.ClockNTP || st.ErrorMS != 0 {
		t.Errorf("status %+v, want synced by NTP", st)
	}
	if got := c.Now(); !got.Equal(f.sys) {
		t.Errorf("Now %v, want the system clock %v once NTP set it", got, f.sys)
	}
	if c.Ask() != 0 {
		t.Error("asks the controller although NTP is synchronised")
	}
}

func TestRTCTrusted(t *testing.T) {
	c, _ := newFake(t, Config{Sources: []string{SourceRTC}})
	if st := c.Status(); !st.Synced || st.Source != nodeproto.ClockRTC {
		t.Errorf("status %+v, want synced (rtc)", st)
	}
	if _, err := New(Config{Sources: []string{"gps"}}); err == nil {
		t.Error("an unknown source accepted")
	}
}

func TestChronyTracking(t *testing.T) {
	for _, c := range []struct {
		out  string
		want bool
	}{
		{"Reference ID    : C0A80001 (gw)\nStratum         : 3\nLeap status     : Normal\n", true},
		{"Reference ID    : 00000000 ()\nStratum         : 0\nLeap status     : Not synchronised\n", false},
		{"", false},
	} {
		if got := leapNormal(c.out); got != c.want {
			t.Errorf("leapNormal(%q) = %v, want %v", c.out, got, c.want)
		}
	}
}
