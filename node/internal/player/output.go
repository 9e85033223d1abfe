package player

import (
	"io"
	"sync"
	"time"
)

// silentOut pulls the mixer at the real-time rate: the same timing and
// events as a sound card, with nothing heard.
//
// How many samples are due follows the monotonic clock (a sink plays at its
// rate whatever the wall clock does); when they are heard is dated on the
// node's wall clock read at every pull. A box without a real-time clock
// starts in 1970 or at its last shutdown and NTP steps its clock later: an
// anchor taken once at start would date every later sample in the old time
// (events stamped 1970, items due in the real time never reached).
type silentOut struct {
	stop chan struct{}
	once sync.Once
	done int64 // samples handed to the mixer
	buf  []int16
	// The wall clock at elapsed anchorAt: samples are dated from here on the
	// monotonic clock, so that a pull preempted between its two clock reads
	// does not shift them; a step of the wall clock (NTP, a correction)
	// beyond stepTolerance re-anchors.
	anchor   time.Time
	anchorAt time.Duration
}

const stepTolerance = 50 * time.Millisecond

func (s *silentOut) Close() error {
	s.once.Do(func() { close(s.stop) })
	return nil
}

func startSilent(p *Player) io.Closer {
	s := newSilent()
	go func() {
		start := time.Now() // monotonic only: elapsed time, never a date
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			s.pull(p, p.now(), time.Since(start))
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func newSilent() *silentOut {
	return &silentOut{stop: make(chan struct{}), buf: make([]int16, Rate/100)}
}

// pull hands the mixer what is due after elapsed (keeping 10 ms ahead):
// the sample at elapsed is heard at wall, those after it later.
func (s *silentOut) pull(p *Player, wall time.Time, elapsed time.Duration) {
	wall = wall.Round(0) // a date: compared by wall time, not a monotonic reading an NTP step leaves alone
	predicted := s.anchor.Add(elapsed - s.anchorAt)
	if s.anchor.IsZero() || wall.Sub(predicted).Abs() > stepTolerance {
		s.anchor, s.anchorAt, predicted = wall, elapsed, wall
	}
	wall = predicted
	heard := int64(elapsed.Seconds() * Rate)
	due := heard + Rate/100
	for s.done < due {
		n := int(min(due-s.done, int64(len(s.buf))))
		p.fill(s.buf[:n], wall.Add(time.Duration(s.done-heard)*time.Second/Rate))
		s.done += int64(n)
	}
}
