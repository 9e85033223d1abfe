package player

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/ebitengine/oto/v3"
)

// mixReader is the never-ending stream the device pulls.
type mixReader struct {
	p   *Player
	buf []int16
}

func (m *mixReader) Read(b []byte) (int, error) {
	// The device runs in stereo (oto's ALSA path is most reliable there);
	// the mono mix goes to both channels.
	n := len(b) / 4
	if n == 0 {
		return 0, nil
	}
	if cap(m.buf) < n {
		m.buf = make([]int16, n)
	}
	buf := m.buf[:n]
	if debugReads {
		fmt.Fprintln(os.Stderr, "READ", time.Now().UnixMicro(), len(b))
	}
	m.p.mu.Lock()
	s0 := m.p.total
	m.p.mu.Unlock()
	m.p.clock.observe(time.Now(), s0)
	m.p.fill(buf)
	for i, v := range buf {
		binary.LittleEndian.PutUint16(b[4*i:], uint16(v))
		binary.LittleEndian.PutUint16(b[4*i+2:], uint16(v))
	}
	return 4 * n, nil
}

type otoOut struct {
	ctx    *oto.Context
	player *oto.Player // kept reachable: the GC would close a player still playing
}

func (o *otoOut) Close() error {
	o.player.Pause()
	return o.player.Close()
}

// otoOnce: oto allows one context per process.
var otoOnce sync.Once

func startOto(p *Player, bufSize time.Duration) (io.Closer, error) {
	var out *otoOut
	var err error
	used := true
	otoOnce.Do(func() {
		used = false
		var ctx *oto.Context
		var ready chan struct{}
		ctx, ready, err = oto.NewContext(&oto.NewContextOptions{SampleRate: Rate, ChannelCount: 2,
			Format: oto.FormatSignedInt16LE, BufferSize: bufSize})
		if err != nil {
			return
		}
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			err = errors.New("the sound device did not become ready in 10 s")
			return
		}
		if err = ctx.Err(); err != nil {
			return
		}
		pl := ctx.NewPlayer(&mixReader{p: p})
		// oto's mixer pulls a whole device period from the player at once; a
		// player buffer smaller than that plays gaps. One device buffer's worth.
		pl.SetBufferSize(int(bufSize.Seconds()*Rate) * 4)
		// A pull runs ahead of the speaker by about the player's buffer plus
		// the device's.
		p.clock.setLead(2 * bufSize)
		pl.Play()
		// ALSA reports a missing device asynchronously, after ready.
		time.Sleep(100 * time.Millisecond)
		if err = ctx.Err(); err != nil {
			pl.Close()
			return
		}
		out = &otoOut{ctx: ctx, player: pl}
	})
	if used {
		return nil, errors.New("player: the sound device is already in use by this process")
	}
	if err != nil {
		return nil, fmt.Errorf("oto: %w", err)
	}
	return out, nil
}

// silentOut pulls the mixer at the real-time rate by the wall clock: the
// same timing and events as a sound card, with nothing heard.
type silentOut struct{ stop chan struct{} }

func (s *silentOut) Close() error {
	close(s.stop)
	return nil
}

func startSilent(p *Player) io.Closer {
	s := &silentOut{stop: make(chan struct{})}
	go func() {
		start := time.Now()
		var done int64
		buf := make([]int16, Rate/10)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case now := <-t.C:
				due := int64(now.Sub(start).Seconds()*Rate) + Rate/100 // keep 10 ms ahead
				for done < due {
					n := int(min(due-done, int64(len(buf))))
					p.clock.observe(start.Add(time.Duration(done)*time.Second/Rate), done)
					p.fill(buf[:n])
					done += int64(n)
				}
			}
		}
	}()
	return s
}

var debugReads = os.Getenv("PLAYER_DEBUG_READS") != ""
