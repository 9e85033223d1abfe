package player

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/communeradio/radio/node/internal/alsa"
)

// The sound device, through ALSA directly. The output must know when each
// sample it writes will be heard, to the sample: before each write it asks
// the device how many frames are queued ahead of it (snd_pcm_delay, which
// the PulseAudio and PipeWire plugins answer from their stream's own
// latency, sink included), so the first sample of the write is heard at
// now + delay. oto, which this replaced, hides its PCM; the node could only
// guess the delay from when oto pulled (two buffers behind, it assumed),
// and the zone's nodes were heard up to 23 ms apart while each reported
// its first sample within 10 µs (BENCHMARKS.md, "as heard").

// pcm is what the writer needs of a device: a fake in unit tests.
type pcm interface {
	// delay is how many frames are queued before the next one written,
	// and whether the device is running (a stopped device's delay says
	// nothing about when a frame will be heard).
	delay() (frames int, running bool, err error)
	// write writes interleaved stereo frames, recovering from an underrun.
	write(frames []int16) error
	close()
}

// alsaPCM is the ALSA playback PCM, 48 kHz stereo S16_LE, blocking.
type alsaPCM struct{ *alsa.PCM }

func openALSA(buffer time.Duration) (*alsaPCM, int, error) {
	// Four periods a buffer: the writer wakes every quarter buffer.
	dev, period, err := alsa.Open([]string{"default", "plug:default"}, alsa.Playback, 2, Rate, buffer)
	if err != nil {
		return nil, 0, fmt.Errorf("ALSA: %w", err)
	}
	return &alsaPCM{dev}, period, nil
}

func (a *alsaPCM) delay() (int, bool, error) {
	d, running, ok := a.Delay()
	if !ok {
		return 0, false, nil // an underrun: write recovers
	}
	return d, running, nil
}

func (a *alsaPCM) write(frames []int16) error { return a.Write(frames) }

func (a *alsaPCM) close() { a.Close() }

// alsaOut feeds a pcm from the mixer until closed.
type alsaOut struct {
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	period int // frames a write

	// settleUntil: readings of the delay are not trusted before it. They
	// are wrong for a moment after the device starts and after an
	// underrun: the PulseAudio plugin's latency is interpolated, and
	// converges over a few hundred ms from a value tens of ms early.
	settleUntil time.Time // on elapsed
	// elapsed times the settling (nil: time.Now, whose monotonic reading a
	// step of the node's wall clock does not move).
	elapsed func() time.Time
	// rebase: the first trusted reading after an underrun replaces the
	// clock's old ones, which date every sample too early by the gap the
	// underrun left (the speaker fell behind by it for good).
	rebase    bool
	underruns int
}

// settle is how long the delay readings are ignored after a disturbance.
const settle = time.Second

func (o *alsaOut) Close() error {
	o.once.Do(func() { close(o.stop) })
	<-o.done
	return nil
}

func startALSA(p *Player, buffer time.Duration) (io.Closer, error) {
	dev, period, err := openALSA(buffer)
	if err != nil {
		return nil, err
	}
	p.clock.reset(0) // the device says how far ahead it is: no lead to guess
	o := &alsaOut{stop: make(chan struct{}), done: make(chan struct{}), period: period}
	// The first write shows a device that opens but cannot play.
	mono := make([]int16, period)
	frames := make([]int16, 2*period)
	if err := o.writeOnce(p, dev, mono, frames, p.now); err != nil {
		dev.close()
		return nil, err
	}
	go func() {
		defer close(o.done)
		defer dev.close()
		for {
			select {
			case <-o.stop:
				return
			default:
			}
			if err := o.writeOnce(p, dev, mono, frames, p.now); err != nil {
				p.deviceFailed(err)
				return
			}
		}
	}()
	return o, nil
}

// writeOnce fills one period from the mixer and writes it. Its first
// sample is heard once the frames queued before it have played: at the
// time the delay was read plus the delay. A reading taken late (the writer
// was descheduled) dates the sample late, never early, which is what the
// sample clock's minimum over readings expects. A device that is not
// running, or whose queue ran nearly dry (an underrun: the writer was late
// and the speaker fell silent for a moment), starts a settling time.
func (o *alsaOut) writeOnce(p *Player, dev pcm, mono, frames []int16, clock func() time.Time) error {
	d, running, err := dev.delay()
	if err != nil {
		return err
	}
	now := clock()
	since := time.Now()
	if o.elapsed != nil {
		since = o.elapsed()
	}
	var heard time.Time
	switch {
	case !running || d < o.period:
		if running && !o.settleUntil.IsZero() {
			o.underruns++
			o.rebase = true
			p.log.Warn("sound device underrun: the speaker fell behind; realigning", "queued_frames", d, "underruns", o.underruns)
		}
		o.settleUntil = since.Add(settle)
		o.provisional(p, now, d)
	case since.Before(o.settleUntil):
		o.provisional(p, now, d)
	default:
		if o.rebase {
			p.clock.reset(0)
			o.rebase = false
		}
		heard = now.Add(time.Duration(d) * time.Second / Rate)
	}
	p.fill(mono, heard)
	for i, v := range mono {
		frames[2*i], frames[2*i+1] = v, v
	}
	return dev.write(frames)
}

// provisional gives the clock a rough dating while the device settles, so
// that an item played in the first second of a node's life is not taken
// for due at once (a clock with no dating at all maps every instant to the
// next sample).
func (o *alsaOut) provisional(p *Player, now time.Time, queued int) {
	p.mu.Lock()
	s0 := p.total
	p.mu.Unlock()
	p.clock.provisional(now.Add(time.Duration(queued)*time.Second/Rate), s0)
}
