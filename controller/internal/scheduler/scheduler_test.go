package scheduler

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/communeradio/radio/controller/internal/desired"
	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

var sha = strings.Repeat("ab", 32)

const programme = `station st-1 Đài xã
bulletin morning
  title Bản tin sáng
  source media ` + "abababababababababababababababababababababababababababababababab" + `
  target zone z1
  status approved
  daily 06:30
bulletin draft-notice
  title Thông báo nháp
  source media ` + "abababababababababababababababababababababababababababababababab" + `
  target commune
  daily 12:00
bulletin flood
  title Cảnh báo lũ
  source media ` + "abababababababababababababababababababababababababababababababab" + `
  target nodes n3
  priority emergency
  daily 20:00
`

type publishLog struct {
	mu    sync.Mutex
	calls map[string]int
}

// fixed resolves every plan's targets with f.
func fixed(f func(station string, t schedule.Target) (map[string]time.Duration, error)) func(context.Context) (Resolver, error) {
	return func(context.Context) (Resolver, error) {
		return func(station string, t schedule.Target, _ time.Time) (map[string]time.Duration, error) {
			return f(station, t)
		}, nil
	}
}

func newTestScheduler(t *testing.T, pl *publishLog) *Scheduler {
	s := New(Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Targets: fixed(func(station string, tg schedule.Target) (map[string]time.Duration, error) {
			switch tg.Kind {
			case schedule.TargetZone:
				return map[string]time.Duration{"n1": 0, "n2": 150 * time.Millisecond}, nil
			case schedule.TargetNodes:
				out := map[string]time.Duration{}
				for _, id := range tg.IDs {
					out[id] = 0
				}
				return out, nil
			}
			return map[string]time.Duration{"n1": 0, "n2": 0, "n3": 0}, nil
		}),
		Media: func(context.Context, string) (Media, bool) {
			return Media{Size: 1000, Duration: 30 * time.Second}, true
		},
		Hand: func(plans map[string]desired.Plan) {
			pl.mu.Lock()
			for node := range plans {
				pl.calls[node]++
			}
			pl.mu.Unlock()
		},
	})
	sc, err := schedule.Parse("test.radio", []byte(programme))
	if err != nil {
		t.Fatal(err)
	}
	s.Set("test", sc)
	return s
}

// On a fake clock: nodes get a week of slots at once, drafts stay off air
// (emergency excepted), zone offsets apply, and the plan rolls forward as
// days pass without republishing when nothing changed.
func TestSchedulerPlansAWeekAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl := &publishLog{calls: map[string]int{}}
		s := newTestScheduler(t, pl)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go s.Run(ctx)
		synctest.Wait()

		n1, n2, n3 := s.Slots("n1"), s.Slots("n2"), s.Slots("n3")
		if len(n1) != 7 || len(n2) != 7 {
			t.Fatalf("zone nodes got %d and %d slots, want 7 mornings each", len(n1), len(n2))
		}
		if len(n3) != 7 || n3[0].Priority != nodeproto.PriorityEmergency {
			t.Fatalf("n3 slots = %+v, want 7 emergency evenings (draft notice must not air)", n3)
		}
		for i := range n1 {
			at := time.UnixMilli(n1[i].PlayAt).In(schedule.Zone)
			if at.Hour() != 6 || at.Minute() != 30 || at.Second() != 0 {
				t.Errorf("slot %d at %v, want 06:30 Vietnam time", i, at)
			}
			if d := n2[i].PlayAt - n1[i].PlayAt; d != 150 {
				t.Errorf("zone offset %d ms, want 150", d)
			}
			if n1[i].ID != n2[i].ID || !nodeproto.ValidID(n1[i].ID) {
				t.Errorf("occurrence ids %q / %q", n1[i].ID, n2[i].ID)
			}
		}
		if c := Content(n1); len(c) != 1 || c[0].Media != sha {
			t.Errorf("content = %+v", c)
		}
		pl.mu.Lock()
		first := pl.calls["n1"]
		pl.mu.Unlock()
		if first != 1 {
			t.Errorf("n1 published %d times at start, want 1", first)
		}

		// An hour later nothing changed: no republish.
		time.Sleep(time.Hour + time.Second)
		synctest.Wait()
		pl.mu.Lock()
		if pl.calls["n1"] != 1 {
			t.Errorf("republished without a change: %d", pl.calls["n1"])
		}
		pl.mu.Unlock()

		// A day later the first morning has passed: the plan rolled forward.
		old := n1[0].ID
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		now := s.Slots("n1")
		if now[0].ID == old || len(now) != 7 {
			t.Errorf("after a day: first slot %s (was %s), %d slots", now[0].ID, old, len(now))
		}
		pl.mu.Lock()
		if pl.calls["n1"] < 2 {
			t.Errorf("n1 not republished after its plan changed")
		}
		pl.mu.Unlock()

		// Removing the schedule clears every node's slots and tells them.
		s.Set("test", nil)
		synctest.Wait()
		if len(s.Slots("n1")) != 0 || len(s.Slots("n3")) != 0 {
			t.Error("slots left after the schedule was removed")
		}
		cancel()
	})
}

// A controller back after two days says which occurrences fell into its
// downtime beyond the grace window, and remembers when it last planned.
func TestReportDowntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logbuf strings.Builder
		var last time.Time
		s := New(Config{
			Logger:     slog.New(slog.NewTextHandler(&logbuf, nil)),
			Targets:    fixed(func(string, schedule.Target) (map[string]time.Duration, error) { return nil, nil }),
			Media:      func(context.Context, string) (Media, bool) { return Media{Size: 1}, true },
			Hand:       func(map[string]desired.Plan) {},
			LastRun:    func() time.Time { return last },
			SetLastRun: func(t time.Time) { last = t },
		})
		sc, err := schedule.Parse("t.radio", []byte(programme))
		if err != nil {
			t.Fatal(err)
		}
		s.Set("t", sc)
		now := time.Now()
		last = now.Add(-48 * time.Hour)
		s.ReportDowntime(context.Background(), now)
		// Two days: two approved mornings and two emergency evenings; drafts are not reported.
		if n := strings.Count(logbuf.String(), "fell while the controller was down"); n != 4 {
			t.Errorf("reported %d occurrences, want 4:\n%s", n, logbuf.String())
		}
		if strings.Contains(logbuf.String(), "draft-notice") {
			t.Error("a draft was reported")
		}
		s.Replan(context.Background(), now)
		if !last.Equal(now) {
			t.Errorf("last run = %v, want %v", last, now)
		}
	})
}

// A bulletin approved after its time is not sent for that time (it is not
// a missed bulletin); a slot already sent stays while it is in the grace
// window; right after a start, the grace window does send recent slots.
func TestPastSlotsOnlyAfterAStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The bubble's clock starts at 2000-01-01 00:00 UTC, 07:00 in Vietnam.
		item := func(id, at string) string {
			return "bulletin " + id + "\n  title T\n  source media " + sha + "\n  target commune\n  status approved\n  daily " + at + "\n"
		}
		set := func(s *Scheduler, name, body string) {
			sc, err := schedule.Parse(name+".radio", []byte("station st-1\n"+body))
			if err != nil {
				t.Fatal(err)
			}
			s.Set(name, sc)
		}
		has := func(s *Scheduler, id string) bool {
			for _, sl := range s.Slots("n1") {
				if sl.ID == id {
					return true
				}
			}
			return false
		}
		ctx := context.Background()
		pl := &publishLog{calls: map[string]int{}}
		s := newTestScheduler(t, pl)
		set(s, "a", item("early", "07:01"))
		s.Replan(ctx, time.Now())
		time.Sleep(3 * time.Minute) // 07:03: early's slot is past, within the 10 min grace
		set(s, "b", item("late", "07:02"))
		s.Replan(ctx, time.Now())
		if !has(s, "early-20000101-070100") {
			t.Error("a slot already sent was dropped while within the grace window")
		}
		if has(s, "late-20000101-070200") {
			t.Error("a bulletin added after its time was sent for that time")
		}
		if !has(s, "late-20000102-070200") {
			t.Error("the late bulletin's next day is missing")
		}
		// Approved moments before its time, planned moments after: it still airs.
		set(s, "c", item("just", "07:02:30"))
		s.Replan(ctx, time.Now())
		if !has(s, "just-20000101-070230") {
			t.Error("a bulletin planned 30 s after its time was dropped (nodes start up to a minute late)")
		}

		// A controller starting at 07:03 sends what fell in the grace window.
		s2 := newTestScheduler(t, &publishLog{calls: map[string]int{}})
		set(s2, "b", item("late", "07:02"))
		s2.Replan(ctx, time.Now())
		if !has(s2, "late-20000101-070200") {
			t.Error("after a start, the grace window's occurrence was not sent")
		}
	})
}

// A node whose desired state was cut short of the plan (fleet's byte
// budget) is published again once it reaches less than a day ahead, even
// though its plan did not change; Planned says how far the plan reaches.
func TestCutScheduleIsRefreshed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl := &publishLog{calls: map[string]int{}}
		s := newTestScheduler(t, pl)
		now := time.Now()
		reach := map[string]time.Time{}
		s.cfg.Reach = func(node string) time.Time { return reach[node] }
		s.Replan(context.Background(), now)
		if _, until := s.Planned("n1"); !until.Equal(now.Add(7 * 24 * time.Hour)) {
			t.Errorf("n1 planned until %v, want a week ahead of %v", until, now)
		}
		// n1 was sent 30 hours, n3 everything: nothing changes in an hour.
		reach["n1"], reach["n3"] = now.Add(30*time.Hour), now.Add(7*24*time.Hour)
		s.Replan(context.Background(), now.Add(time.Hour))
		if pl.calls["n1"] != 1 || pl.calls["n3"] != 1 {
			t.Fatalf("published %v after an hour, want each node once", pl.calls)
		}
		// 7 hours on (no occurrence enters or leaves the plan) n1 holds
		// less than a day: sent again, n3 not.
		s.Replan(context.Background(), now.Add(7*time.Hour))
		if pl.calls["n1"] != 2 || pl.calls["n3"] != 1 {
			t.Errorf("published %v once n1 runs short, want n1 twice and n3 once", pl.calls)
		}
	})
}

// Relay items are not node slots: the scheduler hands their occurrences
// (not yet ended) to the controller's live side, with the item's target,
// priority and window, under the occurrence id that proof of play counts.
func TestRelayOccurrences(t *testing.T) {
	var got []Relay
	now := time.Date(2026, 12, 7, 6, 35, 0, 0, schedule.Zone)
	s := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now },
		Horizon: 36 * time.Hour,
		Targets: fixed(func(string, schedule.Target) (map[string]time.Duration, error) {
			return map[string]time.Duration{"n1": 0}, nil
		}),
		Media:  func(context.Context, string) (Media, bool) { return Media{}, false },
		Hand:   func(map[string]desired.Plan) {},
		Relays: func(_ context.Context, r []Relay) { got = r },
	})
	sc, err := schedule.Parse("relay.radio", []byte(`station st-1
bulletin vov
  title Tiếp sóng VOV1
  source relay http://vov.example/vov1.mp3
  target zone z1
  priority priority
  duration 30m
  status approved
  daily 06:30
`))
	if err != nil {
		t.Fatal(err)
	}
	s.Set("r", sc)
	s.Replan(context.Background(), now)
	// 06:30 today is still on air until 07:00; tomorrow's is in the horizon.
	if len(got) != 2 {
		t.Fatalf("relays %+v, want today's (still on air) and tomorrow's", got)
	}
	r := got[0]
	if r.ID != "vov-20261207-063000" || r.Source != "http://vov.example/vov1.mp3" || r.Priority != nodeproto.PriorityHigh ||
		r.Target.Kind != schedule.TargetZone || r.End.Sub(r.At) != 30*time.Minute || r.Station != "st-1" {
		t.Errorf("relay %+v", r)
	}
	if len(s.Slots("n1")) != 0 {
		t.Errorf("a relay became a node slot: %+v", s.Slots("n1"))
	}
}
