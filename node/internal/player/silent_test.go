package player

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// A box without a real-time clock boots in 1970; NTP then steps its clock
// to the real time while the silent sink runs. An item due in the real
// time must start at its time, and its events must be dated in the real
// time, not in 1970.
func TestSilentSinkFollowsClockStep(t *testing.T) {
	m := &manual{t: t, p: newPlayer(slog.New(slog.NewTextHandler(io.Discard, nil)))}
	t.Cleanup(func() { m.p.Close() })
	s := newSilent()
	boot := time.Unix(42, 0)
	real := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	var elapsed, stepAt time.Duration
	wall := func() time.Time { return boot.Add(elapsed) }
	m.p.now = func() time.Time { return wall() }
	pull := func(d time.Duration) {
		for end := elapsed + d; elapsed < end; elapsed += 10 * time.Millisecond {
			m.settle()
			s.pull(m.p, wall(), elapsed)
		}
	}
	pull(time.Second) // a second in 1970
	stepAt = elapsed
	wall = func() time.Time { return real.Add(elapsed - stepAt) } // NTP stepped the clock
	playAt := real.Add(500 * time.Millisecond)
	m.play(Item{ID: "A", Path: opusFile(t, 440, 0.3), PlayAt: playAt})
	pull(1500 * time.Millisecond)

	evs := m.events()
	if got, want := summary(evs), "started:A finished:A"; got != want {
		t.Fatalf("events %q, want %q (the sink kept its boot-time clock?)", got, want)
	}
	if d := evs[0].At.Sub(playAt); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("started at %v, %v from its play_at %v", evs[0].At, d, playAt)
	}
	if d := evs[1].At.Sub(playAt.Add(300 * time.Millisecond)); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("finished at %v, want 300 ms after play_at %v", evs[1].At, playAt)
	}
}
