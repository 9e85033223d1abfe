package heard

import (
	"math"
	"sync"
	"time"
)

// InRate is the rate of what the player writes and the capture reads; Rate
// is the rate the meter keeps and compares (speech lies below 4 kHz, and a
// sixth of the samples makes the comparison cheap enough for a Pi).
const (
	InRate = 48000
	Rate   = 8000
	factor = InRate / Rate
)

// track keeps the last span of a signal at Rate, in blocks dated by the
// wall time of their first sample. Blocks rather than one dated stream: the
// player's and the capture's dating may jump (an underrun, a re-based
// clock), and a gap or an overlap then stays local to one block.
type track struct {
	mu     sync.Mutex
	keep   time.Duration
	blocks []block
	// The decimator's unfinished sum, carried into the next Add when it
	// continues the same stream (its first sample is dated where the
	// previous one ended).
	acc   float32
	accN  int
	lp    lowpass
	next  time.Time // when the sample after the last one added is due
	accAt time.Time // date of the decimated sample acc is building
}

// snap: a block dated within this of where the last one ended continues
// it. Readings of a device's queue jitter by a few hundred µs; a real jump
// (an underrun, a re-based clock) is tens of ms.
const snap = 5 * time.Millisecond

type block struct {
	at time.Time
	s  []float32
}

func newTrack(keep time.Duration) *track { return &track{keep: keep} }

// Add appends mono 48 kHz samples, the first heard (or captured) at at.
// Each run of six becomes one sample, their mean: a box filter, enough to
// keep speech and tones below 4 kHz for the comparison.
func (t *track) Add(s []int16, at time.Time) {
	if len(s) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch d := absDur(at.Sub(t.next)); {
	case t.next.IsZero():
	case d <= snap:
		// The same stream, dated a little apart by the jitter of its
		// clock: it continues where the last block ended, sample for
		// sample. A waveform compared at 8 kHz turns to mush if its
		// blocks move by a fraction of a millisecond against each other.
		at = t.next
	default:
		t.accN, t.acc = 0, 0 // a jump (an underrun, a new dating): drop the partial sample
		t.lp = lowpass{}
	}
	out := make([]float32, 0, (len(s)+t.accN)/factor)
	first := time.Time{}
	for i, v := range s {
		if t.accN == 0 {
			t.accAt = at.Add(time.Duration(i) * time.Second / InRate)
		}
		t.acc += float32(v) / 32768
		t.accN++
		if t.accN == factor {
			if first.IsZero() {
				first = t.accAt
			}
			out = append(out, t.lp.filter(t.acc/factor))
			t.acc, t.accN = 0, 0
		}
	}
	t.next = at.Add(time.Duration(len(s)) * time.Second / InRate)
	if len(out) > 0 {
		t.blocks = append(t.blocks, block{at: first, s: out})
	}
	// Drop what is older than keep behind the newest sample.
	cut := t.next.Add(-t.keep)
	i := 0
	for i < len(t.blocks) && t.blocks[i].end().Before(cut) {
		i++
	}
	if i > 0 {
		t.blocks = append(t.blocks[:0], t.blocks[i:]...)
	}
}

func (b block) end() time.Time {
	return b.at.Add(time.Duration(len(b.s)) * time.Second / Rate)
}

// Until is the date just past the newest sample (zero before any).
func (t *track) Until() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.next
}

// Span returns n samples at Rate from from on: what the track holds, zeros
// where it holds nothing, and how many samples it held.
func (t *track) Span(from time.Time, n int) ([]float32, int) {
	out := make([]float32, n)
	t.mu.Lock()
	defer t.mu.Unlock()
	held := 0
	for _, b := range t.blocks {
		off := int(roundDiv(b.at.Sub(from), time.Second/Rate))
		for i, v := range b.s {
			if j := off + i; j >= 0 && j < n {
				out[j] = v
				held++
			}
		}
	}
	return out, min(held, n)
}

func roundDiv(d, unit time.Duration) int64 {
	if d < 0 {
		return -int64((-d + unit/2) / unit)
	}
	return int64((d + unit/2) / unit)
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// lowpass is a second-order Butterworth low-pass at 1.5 kHz (at Rate),
// applied to both tracks alike after the box filter. It keeps what carries
// speech (its fundamental and first formants) and drops what makes a
// waveform comparison brittle: the upper band, where the box filter lets
// aliases through and where an offset of half a sample at 8 kHz (62.5 µs)
// is already a large turn of phase.
type lowpass struct{ x1, x2, y1, y2 float32 }

// Coefficients of the RBJ cookbook low-pass, fc 1500 Hz, Q 1/√2, fs 8000 Hz.
var lpB0, lpB1, lpB2, lpA1, lpA2 = func() (b0, b1, b2, a1, a2 float32) {
	w := 2 * math.Pi * 1500 / Rate
	alpha := math.Sin(w) / (2 * math.Sqrt2 / 2)
	c := math.Cos(w)
	a0 := 1 + alpha
	return float32((1 - c) / 2 / a0), float32((1 - c) / a0), float32((1 - c) / 2 / a0), float32(-2 * c / a0), float32((1 - alpha) / a0)
}()

func (f *lowpass) filter(x float32) float32 {
	y := lpB0*x + lpB1*f.x1 + lpB2*f.x2 - lpA1*f.y1 - lpA2*f.y2
	f.x2, f.x1, f.y2, f.y1 = f.x1, x, f.y1, y
	return y
}
