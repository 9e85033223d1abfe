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
// it reads by the device's queue in the same way. Both are kept for a short
// span at 8 kHz, and an item is judged on its last Window of audio.
package heard

import (
	"context"
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
	// of the played audio (a microphone metres away, a device's latency
	// misreported).
	MaxLag = 500 * time.Millisecond
	// CorrMin: heard when |correlation| reaches it. Unrelated sound gives
	// well under 0.1 over Window; a loudspeaker heard through a microphone
	// with room noise and echo still gives 0.5 or more.
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
	Corr  float64 // normalised correlation at the best lag
	DB    float64 // capture RMS dBFS during the item, at that lag
	BgDB  float64 // capture RMS dBFS in the second before the item; Floor when not captured
	Lag   time.Duration
}

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
	if DBFS(ref) >= SilentRef { // else silence was played: nothing to hear
		match := Correlate(ref, capt, lag)
		r.Corr = match.Corr
		r.Lag = time.Duration(match.Lag) * time.Second / Rate
		r.Heard = math.Abs(match.Corr) >= CorrMin
	}
	k := lag + int(r.Lag/(time.Second/Rate))
	r.DB = DBFS(capt[k : k+n])
	// The background is the second before the item as the capture heard
	// it: shifted by the lag, so that none of the item is in it.
	r.BgDB = Floor
	if bg, got := m.captured.Span(start.Add(r.Lag-Background), Rate*int(Background/time.Second)); got > len(bg)/2 {
		r.BgDB = DBFS(bg)
	}
	return r
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
	m.log.Info("heard", "id", ev.ID, "heard", r.Heard, "corr", round2(r.Corr), "db", round2(r.DB), "bg_db", round2(r.BgDB), "lag", r.Lag)
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
