package heard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/communeradio/radio/node/internal/alsa"
)

// The capture reads the configured ALSA device as the player writes its
// own: directly, mono 48 kHz S16. A read that returns n frames at now dates
// its first frame at now - n/rate at the latest: a reading taken late (the
// reader was descheduled) dates the frames late, never early, so the dating
// of a frame index is the minimum over the readings of the last few seconds
// (a window, so the device's clock may drift against the system's). What
// the device buffered before handing frames over is a constant the
// meter's lag search absorbs. The device's own queue (snd_pcm_delay) is not
// used: PulseAudio's plugin answered anything from 0 to 28 ms at random
// for a capture read at a steady pace, and a dating that jumps by tens of
// ms moves whole stretches of the capture against what was played.

// openCapture opens device (or, failing that, through ALSA's plug
// converter) for mono 48 kHz capture and starts it.
func openCapture(device string) (*alsa.PCM, int, error) {
	dev, period, err := alsa.Open([]string{device, "plug:" + device}, alsa.Capture, 1, InRate, 200*time.Millisecond)
	if err != nil {
		return nil, 0, fmt.Errorf("heard: ALSA capture %q: %w", device, err)
	}
	if err := dev.Start(); err != nil {
		dev.Close()
		return nil, 0, fmt.Errorf("heard: ALSA capture %q: %w", device, err)
	}
	return dev, period, nil
}

// Capture opens the ALSA capture device and feeds the meter from it until
// ctx ends. It returns the first error opening the device; later errors
// (the device vanished) are logged and the device reopened every 5 s.
func (m *Meter) Capture(ctx context.Context, device string) error {
	dev, period, err := openCapture(device)
	if err != nil {
		return err
	}
	go func() {
		for {
			if dev != nil {
				err := m.captureFrom(ctx, dev, period)
				dev.Close()
				if ctx.Err() != nil {
					return
				}
				m.log.Error("heard: capture stopped; reopening", "device", device, "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
			if dev, period, err = openCapture(device); err != nil {
				m.log.Error("heard: capture", "err", err)
				dev = nil
			}
		}
	}()
	return nil
}

// datingWindow: readings older than this do not date new frames.
const datingWindow = 5 * time.Second

// settle: for this long after the capture starts its readings only date
// themselves. The first reads return what the device buffered while the
// stream started (PulseAudio here: 1.6 s to the first frame, then a burst),
// which would date every frame too early for the whole window.
const settle = 1500 * time.Millisecond

type reading struct {
	taken time.Time
	base  time.Time // when frame 0 was captured, by this reading
}

func (m *Meter) captureFrom(ctx context.Context, dev *alsa.PCM, period int) error {
	buf := make([]int16, period)
	var idx int64
	var readings []reading
	var started time.Time
	for ctx.Err() == nil {
		n, err := dev.Read(buf)
		if errors.Is(err, alsa.ErrOverrun) {
			// Frames were lost: the count no longer dates them. Start over.
			idx, readings = 0, nil
			continue
		}
		if err != nil {
			return err
		}
		now := m.now()
		if idx == 0 {
			started = now
		}
		base := now.Add(-time.Duration(idx+int64(n)) * time.Second / InRate)
		if now.Sub(started) >= settle {
			readings = append(readings, reading{taken: now, base: base})
			for len(readings) > 1 && now.Sub(readings[0].taken) > datingWindow {
				readings = readings[1:]
			}
			for _, r := range readings {
				base = minTime(base, r.base)
			}
		}
		m.Captured(buf[:n], base.Add(time.Duration(idx)*time.Second/InRate))
		idx += int64(n)
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
