package player

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/ebitengine/oto/v3"
)

// mixReader is the never-ending stream the device pulls: silence when idle.
//
// The device runs in stereo with the mono mix on both channels: horn
// amplifiers are often wired to either channel, and a mono stream through
// ALSA's plug layer is routed by each card's own defaults.
type mixReader struct {
	p   *Player
	buf []int16
}

func (m *mixReader) Read(b []byte) (int, error) {
	now := time.Now()
	n := len(b) / 4
	if n == 0 {
		return 0, nil
	}
	if cap(m.buf) < n {
		m.buf = make([]int16, n)
	}
	buf := m.buf[:n]
	m.p.fill(buf, now)
	for i, v := range buf {
		binary.LittleEndian.PutUint16(b[4*i:], uint16(v))
		binary.LittleEndian.PutUint16(b[4*i+2:], uint16(v))
	}
	return 4 * n, nil
}

// oto allows one context per process, with a fixed format, and none after
// it failed: it is made once and kept; each Player attaches its own stream.
var (
	otoMu     sync.Mutex
	otoCtx    *oto.Context
	otoCtxErr error
)

func otoContext(bufSize time.Duration) (*oto.Context, error) {
	otoMu.Lock()
	defer otoMu.Unlock()
	if otoCtx != nil || otoCtxErr != nil {
		if otoCtxErr == nil {
			otoCtxErr = otoCtx.Err()
		}
		return otoCtx, otoCtxErr
	}
	quietALSA()
	ctx, ready, err := oto.NewContext(&oto.NewContextOptions{SampleRate: Rate, ChannelCount: 2,
		Format: oto.FormatSignedInt16LE, BufferSize: bufSize})
	if err != nil {
		otoCtxErr = err
		return nil, err
	}
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		otoCtxErr = errors.New("the sound device did not become ready in 10 s")
		return nil, otoCtxErr
	}
	// A missing device is reported here, not by NewContext.
	if err := ctx.Err(); err != nil {
		otoCtxErr = err
		return nil, err
	}
	otoCtx = ctx
	return ctx, nil
}

type otoOut struct {
	player *oto.Player // kept reachable: the GC closes a player still playing
	stop   chan struct{}
	once   sync.Once
}

func (o *otoOut) Close() error {
	var err error
	o.once.Do(func() {
		close(o.stop)
		o.player.Pause() // oto 3.4 players need no Close; the stream is idle from here
	})
	return err
}

func startOto(p *Player, bufSize time.Duration) (io.Closer, error) {
	ctx, err := otoContext(bufSize)
	if err != nil {
		return nil, err // oto's errors say "oto:"
	}
	pl := ctx.NewPlayer(&mixReader{p: p})
	// oto's mixer asks the stream for a whole player buffer at a time and
	// refills it whenever it is below that size, so this sets both the
	// chunk of each pull and how far the mixer runs ahead of the device.
	frameBytes := 4
	pl.SetBufferSize(int(bufSize.Seconds()*Rate) * frameBytes)
	// Before a pull the player buffer holds about one device period and the
	// device buffer is full: the speaker is about two buffers behind the
	// pull. Checked against a recording in TestPlaysThroughALSA.
	p.clock.reset(2 * bufSize)
	pl.Play()
	// ALSA can fail on the first write too: give it a moment.
	time.Sleep(3 * bufSize / 2)
	if err := ctx.Err(); err != nil {
		pl.Pause()
		return nil, err
	}
	o := &otoOut{player: pl, stop: make(chan struct{})}
	go o.watch(p, ctx)
	return o, nil
}

// watch polls for an unrecoverable device error, which oto only reports
// through Err, and moves the player to the silent sink when one comes.
func (o *otoOut) watch(p *Player, ctx *oto.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-t.C:
		}
		err := ctx.Err()
		if err == nil {
			err = o.player.Err()
		}
		if err != nil {
			o.Close()
			p.deviceFailed(err)
			return
		}
	}
}

// silentOut pulls the mixer at the real-time rate by the wall clock: the
// same timing and events as a sound card, with nothing heard.
type silentOut struct {
	stop chan struct{}
	once sync.Once
}

func (s *silentOut) Close() error {
	s.once.Do(func() { close(s.stop) })
	return nil
}

func startSilent(p *Player) io.Closer {
	s := &silentOut{stop: make(chan struct{})}
	go func() {
		start := time.Now()
		var done int64
		buf := make([]int16, Rate/100)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			due := int64(time.Since(start).Seconds()*Rate) + Rate/100 // keep 10 ms ahead
			for done < due {
				n := int(min(due-done, int64(len(buf))))
				// Sample k of this sink is "heard" at start + k/Rate.
				p.fill(buf[:n], start.Add(time.Duration(done)*time.Second/Rate))
				done += int64(n)
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}
