package node

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/communeradio/radio/node/internal/amp"
	"github.com/communeradio/radio/node/internal/player"
)

// AmpGPIO is the amplifier relay's GPIO line (config amp_gpio).
type AmpGPIO struct {
	Chip      string `json:"chip"`                 // gpiochip0, or /dev/gpiochip0
	Line      int    `json:"line"`                 // the line's offset on the chip
	ActiveLow bool   `json:"active_low,omitempty"` // the relay closes on a low line
}

func (g AmpGPIO) amp() amp.GPIOConfig {
	return amp.GPIOConfig{Chip: g.Chip, Line: g.Line, ActiveLow: g.ActiveLow}
}

// checkAmp validates the relay's part of the config.
func (c *Config) checkAmp() error {
	if c.AmpGPIO != nil {
		if c.AmpPath != "" {
			return fmt.Errorf("node: config: amp_path and amp_gpio both set: one relay, one way to drive it")
		}
		if err := c.AmpGPIO.amp().Check(); err != nil {
			return fmt.Errorf("node: config: %w", err)
		}
	}
	if c.AmpPreRollMS < 0 || c.AmpPreRollMS > 10_000 {
		return fmt.Errorf("node: config: amp_preroll_ms %d: want 0 (the default, 2000) to 10000", c.AmpPreRollMS)
	}
	if c.AmpHoldS < 0 || c.AmpHoldS > 3600 {
		return fmt.Errorf("node: config: amp_hold_s %d: want 0 (the default, 10) to 3600", c.AmpHoldS)
	}
	return nil
}

// openRelay is the amplifier relay the config names; without one the relay
// only keeps the state the node reports. A GPIO line that cannot be had is
// a problem reported in the node's state: the node plays on, and the
// amplifier stays as it is.
func openRelay(cfg Config, log *slog.Logger) (*amp.Relay, string) {
	var line amp.Line
	var problem string
	switch {
	case cfg.AmpGPIO != nil:
		l, err := amp.OpenGPIO(cfg.AmpGPIO.amp())
		if err != nil {
			log.Error("amplifier relay unavailable", "err", err)
			problem = "amplifier relay: " + err.Error()
		} else {
			line = l
		}
	case cfg.AmpPath != "":
		line = amp.OpenFile(cfg.AmpPath)
	}
	return amp.New(line, time.Duration(cfg.AmpPreRollMS)*time.Millisecond, time.Duration(cfg.AmpHoldS)*time.Second, log), problem
}

// ampFor readies the amplifier for an item handed to the player: it goes on
// a pre-roll before the item's start. An item asked to play at once starts
// when the pre-roll is over (an amplifier that is still powering up would
// swallow the first words); an item with a play_at keeps it, since the
// zone's nodes start together.
func (a *agent) ampFor(it *player.Item, now time.Time) {
	if it.PlayAt.IsZero() && it.Live == nil {
		if lead := a.relay.Lead(now); lead > 0 {
			it.PlayAt = now.Add(lead)
		}
	}
	start := it.PlayAt
	if start.IsZero() {
		start = now
	}
	a.relay.Expect(start)
	a.applyAmp(now)
}

// applyAmp switches the relay as the mode and what plays ask.
func (a *agent) applyAmp(now time.Time) {
	if err := a.relay.SetMode(a.ampMode); err != nil {
		a.log.Error("amplifier", "err", err)
	}
	if a.relay.Update(now, a.play.Now() != nil || len(a.pending) > 0) {
		a.amp = a.relay.On()
		a.stateDirty = true
	}
}
