package node

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/node/internal/heard"
	"github.com/communeradio/radio/node/internal/player"
)

// startHeard starts the capture when the config names a device (PROTOCOL.md
// §7 "heard"); nil without one: the node then says nothing about heard. A
// device that does not open is logged and the node plays on unmeasured.
func startHeard(ctx context.Context, cfg Config, log *slog.Logger, now func() time.Time) *heard.Meter {
	if cfg.CaptureDevice == "" {
		return nil
	}
	m := heard.New(log)
	m.UseClock(now) // the player's: the capture and what was played are dated alike
	if err := m.Capture(ctx, cfg.CaptureDevice); err != nil {
		log.Error("heard: no capture: proof of play will not say whether it was heard", "err", err)
		return nil
	}
	log.Info("heard: capturing", "device", cfg.CaptureDevice)
	return m
}

// measured passes the player's events on, judged by the meter when there
// is one.
func measured(ctx context.Context, m *heard.Meter, in <-chan player.Event) <-chan heard.Measured {
	if m != nil {
		return m.Watch(ctx, in)
	}
	out := make(chan heard.Measured)
	go func() {
		for {
			select {
			case ev := <-in:
				select {
				case out <- heard.Measured{Event: ev}:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// setHeard puts the judgement in the proof-of-play event, rounded as the
// wire shows it.
func setHeard(pe *nodeproto.Event, r *heard.Result) {
	if r == nil {
		return
	}
	round := func(v float64, unit float64) *float64 {
		v = math.Round(v/unit) * unit
		return &v
	}
	h := r.Heard
	pe.Heard = &h
	pe.HeardCorr = round(max(-1, min(1, r.Corr)), 0.001)
	pe.HeardDB = round(max(nodeproto.HeardFloorDB, min(nodeproto.HeardMaxDB, r.DB)), 0.1)
	pe.HeardBgDB = round(max(nodeproto.HeardFloorDB, min(nodeproto.HeardMaxDB, r.BgDB)), 0.1)
}
