package player

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// fakePCM is a device whose queue and state the test sets.
type fakePCM struct {
	queued  int
	running bool
	written int // frames
}

func (f *fakePCM) delay() (int, bool, error) { return f.queued, f.running, nil }
func (f *fakePCM) write(frames []int16) error {
	f.written += len(frames) / 2
	return nil
}
func (f *fakePCM) close() {}

// writer drives alsaOut.writeOnce with a fake device and a fake clock.
type writer struct {
	t    *testing.T
	p    *Player
	o    *alsaOut
	dev  *fakePCM
	now  time.Time // the node's wall clock
	mono time.Time // elapsed time, which a clock step does not move
}

const testPeriod = 480 // 10 ms

func newWriter(t *testing.T) *writer {
	p := newPlayer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	w := &writer{t: t, p: p, o: &alsaOut{period: testPeriod}, dev: &fakePCM{}, now: time.Unix(1_800_000_000, 0), mono: time.Unix(1000, 0)}
	w.o.elapsed = func() time.Time { return w.mono }
	return w
}

// write makes one write, dt after the previous one.
func (w *writer) write(dt time.Duration) {
	w.t.Helper()
	w.now, w.mono = w.now.Add(dt), w.mono.Add(dt)
	if err := w.o.writeOnce(w.p, w.dev, make([]int16, testPeriod), make([]int16, 2*testPeriod), func() time.Time { return w.now }); err != nil {
		w.t.Fatal(err)
	}
}

// steady starts the device and writes 2 s with queued frames before each
// write, one write per period.
func (w *writer) steady(queued int) {
	w.write(0)
	w.dev.running, w.dev.queued = true, queued
	for i := 0; i < 200; i++ {
		w.write(10 * time.Millisecond)
	}
}

// heardAt is when the clock says the first sample of the last write is
// heard.
func (w *writer) heardAt() time.Time {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.clock.timeOf(w.p.total - testPeriod)
}

// The device's queue, not a guess from the buffer size, dates the samples:
// the first sample of a write is heard once what was queued before it has
// played.
func TestALSADelayDatesSamples(t *testing.T) {
	w := newWriter(t)
	w.write(0) // not running yet: nothing to learn
	w.dev.running, w.dev.queued = true, 5900
	for i := 0; i < 200; i++ { // 2 s of steady writes, one per period
		w.write(10 * time.Millisecond)
	}
	want := w.now.Add(5900 * time.Second / Rate)
	if got := w.heardAt(); !got.Equal(want) {
		t.Errorf("last write heard %v after it, want %v (the queued 5900 frames)", got.Sub(w.now), want.Sub(w.now))
	}
}

// Readings in the first moments of a running device are not trusted: the
// PulseAudio plugin reports a latency tens of ms off while it settles.
func TestALSASettlingReadingsIgnored(t *testing.T) {
	w := newWriter(t)
	w.write(0)
	w.dev.running, w.dev.queued = true, 1000 // settling: far too little
	w.write(10 * time.Millisecond)
	w.dev.queued = 5900
	for i := 0; i < 200; i++ {
		w.write(10 * time.Millisecond)
	}
	want := w.now.Add(5900 * time.Second / Rate)
	if got := w.heardAt(); !got.Equal(want) {
		t.Errorf("last write heard %v after it, want %v: a settling reading was used", got.Sub(w.now), want.Sub(w.now))
	}
}

// After an underrun the speaker is behind for good by the gap: the clock
// takes the new anchor as soon as the device has settled, instead of
// keeping the earlier one (a minimum over the last seconds would).
func TestALSAUnderrunRealigns(t *testing.T) {
	w := newWriter(t)
	w.steady(4800)
	// The writer stalls 150 ms: the queue ran dry and the device played
	// 50 ms of silence; from here every sample is heard 50 ms later.
	w.dev.queued = 0
	w.write(150 * time.Millisecond)
	if w.o.underruns != 1 {
		t.Fatalf("underruns = %d, want 1", w.o.underruns)
	}
	w.dev.queued = 4800
	for i := 0; i < 150; i++ { // 1.5 s: past the settling time
		w.write(10 * time.Millisecond)
	}
	want := w.now.Add(4800 * time.Second / Rate)
	if got := w.heardAt(); !got.Equal(want) {
		t.Errorf("last write heard %v after it, want %v: the anchor from before the underrun was kept", got.Sub(w.now), want.Sub(w.now))
	}
}

// While the device settles, its rough datings stand in for none: the clock
// must not map the present to the next sample written, which would start
// at once every item played in a node's first second.
func TestALSASettlingDatesProvisionally(t *testing.T) {
	w := newWriter(t)
	w.write(0)
	w.dev.running, w.dev.queued = true, 12000
	w.write(10 * time.Millisecond)
	want := w.now.Add(12000 * time.Second / Rate)
	if got := w.heardAt(); !got.Equal(want) {
		t.Errorf("last write heard %v after it, want %v (the queue, provisionally)", got.Sub(w.now), want.Sub(w.now))
	}
}

// The node's clock steps back (a box whose clock ran 3 minutes fast is
// synchronised): the device's datings follow at once. The settling time
// is elapsed time; on the wall clock, the settling begun before the step
// lasted 3 minutes more, the window kept the old datings, and every item
// of those minutes started as soon as it was handed over, seconds early.
func TestALSAFollowsClockStepBack(t *testing.T) {
	w := newWriter(t)
	w.steady(4800)
	w.now = w.now.Add(-3 * time.Minute)
	for i := 0; i < 10; i++ { // 100 ms
		w.write(10 * time.Millisecond)
	}
	want := w.now.Add(4800 * time.Second / Rate)
	if got := w.heardAt(); !got.Equal(want) {
		t.Errorf("last write heard %v after it, want %v: the datings from before the step were kept", got.Sub(w.now), want.Sub(w.now))
	}
}
