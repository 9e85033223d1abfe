package amp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// fakeLine records what the relay drove.
type fakeLine struct {
	sets   []bool
	closed bool
}

func (f *fakeLine) Set(on bool) error { f.sets = append(f.sets, on); return nil }
func (f *fakeLine) Close() error      { f.closed = true; return nil }

// The relay's timing, step by step on plain times: on a pre-roll before a
// start (within the one-second slack of the node's tick), on while
// playing, off a hold after the last play, overrides honoured.
func TestRelayTiming(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	type step struct {
		t      float64 // seconds after t0
		do     string  // "expect:S" (a start at S), "mode:M", "" (just update)
		busy   bool
		wantOn bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a scheduled start: on a pre-roll before, off a hold after", []step{
			{0, "expect:10", false, false}, // handed over 10 s ahead: not yet
			{6, "", false, false},          // 4 s before: still off (pre-roll 2 s + 1 s slack)
			{7.5, "", false, true},         // 2.5 s before: on
			{10, "", true, true},           // playing
			{40, "", true, true},           // still playing
			{41, "", false, true},          // finished: held
			{50.5, "", false, true},        // 9.5 s after: held
			{51.5, "", false, false},       // 10.5 s after: off
		}},
		{"plays back to back keep it on", []step{
			{0, "", true, true},
			{5, "", false, true},
			{9, "", true, true}, // within the hold: never switched off
			{12, "", false, true},
			{21, "", false, true},
			{22.5, "", false, false},
		}},
		{"a start that never came: off a hold after it", []step{
			{0, "expect:2", false, true},
			{3.5, "", false, true},   // the start is forgotten a second after it: idle from here
			{13, "", false, true},    // held
			{13.6, "", false, false}, // a hold after
		}},
		{"operator override: off stays off while playing, on stays on idle", []step{
			{0, "mode:off", true, false},
			{1, "mode:on", false, true},
			{100, "", false, true},
			{101, "mode:auto", false, false}, // idle for 101 s already
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := &fakeLine{}
			r := New(line, 2*time.Second, 10*time.Second, nil)
			for _, s := range tc.steps {
				switch kind, arg, _ := strings.Cut(s.do, ":"); kind {
				case "expect":
					var sec float64
					fmt.Sscan(arg, &sec)
					r.Expect(at(sec))
				case "mode":
					if err := r.SetMode(arg); err != nil {
						t.Fatal(err)
					}
				}
				r.Update(at(s.t), s.busy)
				if r.On() != s.wantOn {
					t.Fatalf("at %vs (busy %v, %q): on = %v, want %v", s.t, s.busy, s.do, r.On(), s.wantOn)
				}
				if n := len(line.sets); n > 0 && line.sets[n-1] != r.On() {
					t.Fatalf("at %vs: line driven %v, relay says %v", s.t, line.sets[n-1], r.On())
				}
			}
			for i := 1; i < len(line.sets); i++ {
				if line.sets[i] == line.sets[i-1] {
					t.Fatalf("line driven %v twice in a row: %v", line.sets[i], line.sets)
				}
			}
		})
	}
}

// An item asked to play at once waits for what is left of the pre-roll.
func TestRelayLead(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	r := New(&fakeLine{}, 2*time.Second, 0, nil)
	if got := r.Lead(t0); got != 2*time.Second {
		t.Errorf("amplifier off: lead %v, want the whole pre-roll", got)
	}
	r.Update(t0, true)
	if got := r.Lead(t0.Add(500 * time.Millisecond)); got != 1500*time.Millisecond {
		t.Errorf("on for 0.5 s: lead %v, want 1.5 s", got)
	}
	if got := r.Lead(t0.Add(5 * time.Second)); got != 0 {
		t.Errorf("on for 5 s: lead %v, want 0", got)
	}
	r.SetMode(Off)
	if got := r.Lead(t0); got != 0 {
		t.Errorf("mode off: lead %v, want 0 (nothing to wait for)", got)
	}
	if none := New(nil, 0, 0, nil); none.Lead(t0) != 0 {
		t.Error("no relay wired: an immediate item must not wait")
	}
	if err := r.SetMode("loud"); err == nil {
		t.Error("mode loud accepted")
	}
	line := &fakeLine{}
	r = New(line, 0, 0, nil)
	r.Update(t0, true)
	r.Close()
	if !line.closed || line.sets[len(line.sets)-1] {
		t.Errorf("Close left the amplifier on or the line open: %v closed %v", line.sets, line.closed)
	}
}

// The uAPI v2 structures and requests have the kernel's sizes and numbers
// (linux/gpio.h: sizeof(struct gpio_v2_line_request) is 592; the requests'
// values as the kernel headers compute them).
func TestGPIOABI(t *testing.T) {
	if s := unsafe.Sizeof(lineRequest{}); s != 592 {
		t.Errorf("gpio_v2_line_request is %d bytes, want 592", s)
	}
	if s := unsafe.Sizeof(lineConfig{}); s != 272 {
		t.Errorf("gpio_v2_line_config is %d bytes, want 272", s)
	}
	if s := unsafe.Sizeof(lineValues{}); s != 16 {
		t.Errorf("gpio_v2_line_values is %d bytes, want 16", s)
	}
	if o := unsafe.Offsetof(lineRequest{}.FD); o != 588 {
		t.Errorf("fd at %d, want 588", o)
	}
	if ioctlGetLine != 0xC250B407 || ioctlSetValues != 0xC010B40F {
		t.Errorf("ioctls %#x %#x, want 0xc250b407 0xc010b40f", ioctlGetLine, ioctlSetValues)
	}
}

// With no GPIO chip on this machine, the request goes to the kernel for a
// device that is not one, and the error says which line and why.
func TestOpenGPIOErrors(t *testing.T) {
	_, err := OpenGPIO(GPIOConfig{Chip: "/dev/null", Line: 17})
	if !errors.Is(err, syscall.ENOTTY) || !strings.Contains(err.Error(), "/dev/null line 17") {
		t.Errorf("a chip that is not one: %v, want ENOTTY naming the line", err)
	}
	if _, err := OpenGPIO(GPIOConfig{Chip: "gpiochip-missing", Line: 3}); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "/dev/gpiochip-missing") {
		t.Errorf("a missing chip: %v", err)
	}
	for _, c := range []GPIOConfig{{Chip: "", Line: 1}, {Chip: "gpiochip0", Line: -1}, {Chip: "gpiochip0", Line: 5000}} {
		if err := c.Check(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestFileLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "value")
	l := OpenFile(p)
	for _, on := range []bool{true, false} {
		if err := l.Set(on); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		if want := map[bool]string{true: "1\n", false: "0\n"}[on]; string(b) != want {
			t.Errorf("Set(%v) wrote %q, want %q", on, b, want)
		}
	}
	if err := OpenFile(filepath.Join(p, "not-a-dir")).Set(true); err == nil {
		t.Error("writing under a file succeeded")
	}
}
