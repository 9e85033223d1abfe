// Package amp switches the amplifier's power relay (PROTOCOL.md §4 `amp`):
// in `auto` mode on before anything plays, with a pre-roll so that the
// amplifier has settled (and its speaker-protection relay clicked in) by
// the first sample, and off after a hold time with nothing to play, so an
// idle horn does not hum all night and a box on solar power saves energy;
// `on` and `off` are the operator's overrides.
//
// The relay is a Line: a GPIO line through the Linux GPIO character device
// (gpio.go), or a file that takes "1"/"0" (a sysfs GPIO value file, or
// anything a box maker's script watches). Relay decides when; it reads no
// clock of its own, so its timing is tested with plain times.
package amp

import (
	"fmt"
	"log/slog"
	"time"
)

// Line is the relay's control line.
type Line interface {
	// Set drives the line: on powers the amplifier (the line's polarity is
	// the Line's business).
	Set(on bool) error
	Close() error
}

// Modes (PROTOCOL.md §4 `amp`).
const (
	Auto = "auto"
	On   = "on"
	Off  = "off"
)

// Defaults for a relay whose config leaves them out.
const (
	DefaultPreRoll = 2 * time.Second  // amplifiers' soft start and protection relays take 1-3 s
	DefaultHold    = 10 * time.Second // nothing to play for this long: off
	// Slack: the node looks at the relay once a second, so it switches on
	// up to this much earlier than the pre-roll asks, never later.
	Slack = time.Second
)

// Relay decides when the amplifier is on. It is not safe for concurrent
// use: the node's agent loop owns it.
type Relay struct {
	line    Line // nil: no relay wired, only the state is kept
	log     *slog.Logger
	preRoll time.Duration
	hold    time.Duration

	mode    string
	on      bool
	onSince time.Time
	idle    time.Time   // since when nothing played or was due; zero while busy
	due     []time.Time // starts coming up that need the amplifier
}

// New is a relay on line (nil for none), off, in auto mode. A zero preRoll
// or hold takes the default; a negative preRoll means none.
func New(line Line, preRoll, hold time.Duration, log *slog.Logger) *Relay {
	if log == nil {
		log = slog.Default()
	}
	if preRoll == 0 {
		preRoll = DefaultPreRoll
	}
	if hold <= 0 {
		hold = DefaultHold
	}
	return &Relay{line: line, log: log, preRoll: max(0, preRoll), hold: hold, mode: Auto}
}

// On reports whether the amplifier is on.
func (r *Relay) On() bool { return r.on }

// SetMode sets auto, on or off ("" keeps the mode).
func (r *Relay) SetMode(mode string) error {
	switch mode {
	case "":
	case Auto, On, Off:
		r.mode = mode
	default:
		return fmt.Errorf("amp: mode %q: want auto, on or off", mode)
	}
	return nil
}

// Expect says that something starts playing at at: in auto mode the
// amplifier goes on a pre-roll before.
func (r *Relay) Expect(at time.Time) { r.due = append(r.due, at) }

// Lead is how long an item asked to play at once should wait so that the
// amplifier has had its pre-roll: 0 when it has been on long enough, or
// when the relay is not in auto mode (off means off: the item plays into a
// switched-off amplifier, as the operator asked). Call Update first.
func (r *Relay) Lead(now time.Time) time.Duration {
	if r.line == nil || r.mode != Auto {
		return 0
	}
	if !r.on {
		return r.preRoll
	}
	return max(0, r.preRoll-now.Sub(r.onSince))
}

// Update switches the line as the mode, what plays (busy: an item on air or
// waiting for its content) and the starts expected ask at now, and reports
// whether the state changed.
func (r *Relay) Update(now time.Time, busy bool) bool {
	// A start that passed is done with: the item plays (busy says so from
	// then on) or never came, and the hold counts from it.
	keep := r.due[:0]
	soon := false
	for _, at := range r.due {
		if now.Sub(at) > Slack {
			continue
		}
		keep = append(keep, at)
		soon = soon || at.Sub(now) <= r.preRoll+Slack
	}
	r.due = keep
	switch {
	case busy || soon:
		r.idle = time.Time{}
	case r.idle.IsZero():
		r.idle = now
	}
	var want bool
	switch r.mode {
	case On:
		want = true
	case Off:
		want = false
	default:
		want = busy || soon || r.on && now.Sub(r.idle) < r.hold
	}
	if want == r.on {
		return false
	}
	r.on = want
	if want {
		r.onSince = now
	}
	if r.line != nil {
		if err := r.line.Set(want); err != nil {
			r.log.Error("amplifier relay", "on", want, "err", err)
		}
	}
	r.log.Info("amplifier", "on", want, "mode", r.mode)
	return true
}

// Close switches the amplifier off and releases the line.
func (r *Relay) Close() error {
	if r.line == nil {
		return nil
	}
	if r.on {
		r.line.Set(false)
		r.on = false
	}
	return r.line.Close()
}
