// Package heard tells whether what the node played was actually heard. A
// box with a microphone, or a line-in tapped after the amplifier, captures
// while it plays; at the end of each item the meter compares the capture
// with what the player wrote at the same instants (normalised
// cross-correlation over a lag window, PROTOCOL.md §7 "heard") and states
// the capture's level during the item and before it. A broken amplifier, a
// cut speaker cable or a muted line shows as played but not heard.
//
// The player hands every block it writes to Played, dated by the sample
// clock that dates proof of play; the capture (capture.go, ALSA) dates what
// it reads by when its reads return. Both are kept for a short span at
// 8 kHz, and an item is judged on its last Window of audio, stretch by
// stretch, each at its own lag.
package heard

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/communeradio/radio/node/internal/player"
)

// The method's constants (PROTOCOL.md §7 documents them).
const (
	// Window: an item is judged on its last 10 s on air (all of it when
	// shorter): enough speech for a clear peak, and a cut cable is found
	// by the end of the bulletin. It bounds the work and memory too.
	Window = 10 * time.Second
	// MinSpan: less audio than this is not judged (not measured).
	MinSpan = time.Second
	// MaxLag: the capture may run this far behind or ahead of the dating
	// of the played audio: a microphone metres away, a capture device's
	// latency misreported, or a sink's monitor that hands out audio when
	// the sink renders it, ahead of when it is heard. PulseAudio's null sink
	// did so by 50 ms on a quiet machine and past 500 ms on a loaded one
	// (it raises its latency after underruns).
	MaxLag = 2 * time.Second
	// CorrMin: heard when the correlation reaches it. Unrelated sound,
	// noise and silence give well under 0.1 (heard_test.go); a line-in
	// after the amplifier close to 1 (0.7-1.0 through PulseAudio on a
	// loaded machine). A microphone in front of a horn, with echo and room
	// noise, is expected between the two; no microphone here to measure it.
	CorrMin = 0.3
	// SilentRef: played audio below this level (dBFS) is silence (volume
	// 0, a silent file): nothing audible was played, so it is not heard.
	SilentRef = -70.0
	// Background: the capture's level is also stated for this span just
	// before the item began.
	Background = time.Second
	keep       = Window + 2*MaxLag + Background + 5*time.Second
)

// Result is the judgement of one item (its last stretch on air).
type Result struct {
	Heard bool
	Corr  float64 // normalised correlation at the best lag, 0..1 (each stretch's |r|, weighted by what was played)
	DB    float64 // capture RMS dBFS during the item, at that lag
	BgDB  float64 // capture RMS dBFS in the second before the item; Floor when not captured
	Lag   time.Duration
	// Stretches are each stretch's |r| and lag, for the log: a dating that
	// jumped, or a speaker that cut out halfway, shows in them.
	Stretches []Stretch
}

// Stretch is one stretch of the judged window.
type Stretch struct {
	Corr float64
	Lag  time.Duration
}

func (s Stretch) String() string { return fmt.Sprintf("%.2f@%v", s.Corr, s.Lag) }

// Meter holds what was played and what was captured.
type Meter struct {
	played   *track
	captured *track
	log      *slog.Logger
	now      func() time.Time
}

// New is a meter with nothing captured yet; Capture (or a test) feeds it.
func New(log *slog.Logger) *Meter {
	if log == nil {
		log = slog.Default()
	}
	return &Meter{played: newTrack(keep), captured: newTrack(keep), log: log, now: time.Now}
}

// Played records a block the player wrote (mono, 48 kHz), whose first
// sample is heard at at. It is the player's tap: it must be quick.
func (m *Meter) Played(s []int16, at time.Time) { m.played.Add(s, at) }

// Captured records a block read from the capture (mono, 48 kHz), whose
// first sample was captured at at.
func (m *Meter) Captured(s []int16, at time.Time) { m.captured.Add(s, at) }

// Measure judges the audio played from start to end. It returns nil when it
// cannot (too short, or the capture or the player's tap did not cover it):
// not measured, which is never "not heard".
func (m *Meter) Measure(start, end time.Time) *Result {
	from := start
	if end.Sub(from) > Window {
		from = end.Add(-Window)
	}
	if end.Sub(from) < MinSpan {
		return nil
	}
	n := int(end.Sub(from) / (time.Second / Rate))
	lag := int(MaxLag / (time.Second / Rate))
	ref, held := m.played.Span(from, n)
	if held < n/2 {
		return nil
	}
	capt, got := m.captured.Span(from.Add(-MaxLag), n+2*lag)
	if got < (n+2*lag)*9/10 {
		return nil
	}
	r := &Result{}
	// Each stretch at its own lag: the dating of either side may jump
	// inside an item (a sink that underran and played late from then on),
	// and one lag for all would match only the part before or after.
	segs := max(1, (n+segLen/2)/segLen)
	var weight, sumCorr, sumSq, bestW float64
	var sc scratch
	for i := range segs {
		a, b := i*n/segs, (i+1)*n/segs
		x := ref[a:b]
		ex := energy(x)
		if DBFS(x) < SilentRef {
			continue // a pause in what was played: nothing to match
		}
		match := sc.correlate(x, capt[a:b+2*lag], lag)
		r.Stretches = append(r.Stretches, Stretch{Corr: math.Abs(match.Corr), Lag: time.Duration(match.Lag) * time.Second / Rate})
		weight += ex
		sumCorr += ex * math.Abs(match.Corr)
		sumSq += energy(capt[a+lag+match.Lag : b+lag+match.Lag])
		if ex > bestW {
			bestW, r.Lag = ex, time.Duration(match.Lag)*time.Second/Rate
		}
	}
	if weight == 0 {
		// Silence was played (volume 0, a silent file): nothing to hear.
		r.DB = DBFS(capt[lag : lag+n])
	} else {
		r.Corr = sumCorr / weight
		r.Heard = r.Corr >= CorrMin
		r.DB = dbOf(sumSq, n)
	}
	// The background is the second before the item as the capture heard
	// it: shifted by the lag, so that none of the item is in it.
	r.BgDB = Floor
	if bg, got := m.captured.Span(start.Add(r.Lag-Background), Rate*int(Background/time.Second)); got > len(bg)/2 {
		r.BgDB = DBFS(bg)
	}
	return r
}

// segLen is the stretch judged at one lag: long enough for a clear peak,
// short enough that a jump of the dating spoils little.
const segLen = 2 * Rate

func energy(s []float32) float64 {
	var e float64
	for _, v := range s {
		e += float64(v) * float64(v)
	}
	return e
}

// Measured is a player event with the judgement of the item's audio, on
// finished and interrupted events of items that played (nil otherwise, or
// when not measured).
type Measured struct {
	player.Event
	Heard *Result
}

// settleWait: how long past an item's end (plus MaxLag) the meter waits for
// the capture to cover it before giving up (a capture that stopped).
const settleWait = 3 * time.Second

// Watch passes the player's events on in order, holding a finished or
// interrupted event until the capture has covered the end of its item
// (played audio is dated ahead, when it reaches the speaker), then attaching
// the judgement.
func (m *Meter) Watch(ctx context.Context, in <-chan player.Event) <-chan Measured {
	out := make(chan Measured)
	go func() {
		began := map[string]time.Time{} // item id -> start of its current stretch on air
		for {
			var ev player.Event
			select {
			case <-ctx.Done():
				return
			case ev = <-in:
			}
			res := (*Result)(nil)
			switch ev.Type {
			case player.Started, player.Resumed:
				began[ev.ID] = ev.At
			case player.Finished, player.Interrupted, player.Failed:
				start, ok := began[ev.ID]
				delete(began, ev.ID)
				if ok && ev.Type != player.Failed {
					if !m.waitCaptured(ctx, ev.At.Add(MaxLag)) {
						return
					}
					res = m.Measure(start, ev.At)
					m.logResult(ev, res)
				}
			}
			select {
			case out <- Measured{Event: ev, Heard: res}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// waitCaptured waits until the capture holds audio up to t, or settleWait
// past it; false when ctx ended.
func (m *Meter) waitCaptured(ctx context.Context, t time.Time) bool {
	deadline := t.Add(settleWait)
	for {
		now := m.now()
		if !m.captured.Until().Before(t) || now.After(deadline) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (m *Meter) logResult(ev player.Event, r *Result) {
	if r == nil {
		m.log.Warn("heard: not measured (too short, or the capture did not cover it)", "id", ev.ID)
		return
	}
	m.log.Info("heard", "id", ev.ID, "heard", r.Heard, "corr", round2(r.Corr), "db", round2(r.DB), "bg_db", round2(r.BgDB), "lag", r.Lag, "stretches", r.Stretches)
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// UseClock dates captured blocks by now, the clock the player dates what
// it plays by (the node's corrected clock), so that the two tracks line up
// even while the system clock is off.
func (m *Meter) UseClock(now func() time.Time) {
	if now != nil {
		m.now = now
	}
}
