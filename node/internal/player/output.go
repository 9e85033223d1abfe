package player

import (
	"io"
	"sync"
	"time"
)

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
