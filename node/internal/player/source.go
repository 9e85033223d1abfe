package player

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

const (
	frameLen    = Rate / 50 // 20 ms
	queueFrames = 25        // decoded ahead: 0.5 s, 48 KB
)

// source decodes an item ahead of the audio path into a small queue of
// frames, so the mixer never waits on the decoder. It plays the file
// Repeat+1 times with Gap silence in between. Frame buffers go back to the
// decoder through free, so steady playback does not allocate.
type source struct {
	frames chan []int16
	free   chan []int16
	primed chan struct{} // closed once the first frame is queued, or at the end
	quit   chan struct{}
	once   sync.Once
	cur    []int16 // frame being played
	spent  []int16 // cur's whole buffer, to give back
	err    error   // set before frames is closed
	ended  atomic.Bool
}

func newSource(it Item) *source {
	s := &source{frames: make(chan []int16, queueFrames), free: make(chan []int16, queueFrames+1),
		primed: make(chan struct{}), quit: make(chan struct{})}
	go s.run(it)
	return s
}

func (s *source) run(it Item) {
	defer close(s.frames)
	defer s.ended.Store(true)
	var prime sync.Once
	defer prime.Do(func() { close(s.primed) })
	for rep := 0; rep <= it.Repeat; rep++ {
		if rep > 0 {
			for gap := int(it.Gap.Seconds() * Rate); gap > 0; gap -= frameLen {
				f := s.buffer()[:min(gap, frameLen)]
				clear(f)
				if !s.send(f) {
					return
				}
			}
		}
		st, err := openStream(it.Path)
		if err != nil {
			s.err = err
			return
		}
		for {
			f := s.buffer()
			n, err := st.read(f)
			if n > 0 {
				if !s.send(f[:n]) {
					st.close()
					return
				}
				prime.Do(func() { close(s.primed) })
			}
			if errors.Is(err, io.EOF) || (err == nil && n == 0) {
				break
			}
			if err != nil {
				s.err = err
				st.close()
				return
			}
		}
		st.close()
	}
}

func (s *source) buffer() []int16 {
	select {
	case f := <-s.free:
		return f[:frameLen]
	default:
		return make([]int16, frameLen)
	}
}

func (s *source) send(f []int16) bool {
	select {
	case s.frames <- f:
		return true
	case <-s.quit:
		return false
	}
}

// read copies decoded samples into out. It never blocks: n is short when
// the decoder is behind; eof is true at the end (err tells how it ended).
func (s *source) read(out []int16) (n int, eof bool) {
	for n < len(out) {
		if len(s.cur) == 0 {
			if s.spent != nil {
				select {
				case s.free <- s.spent:
				default:
				}
				s.spent = nil
			}
			select {
			case f, ok := <-s.frames:
				if !ok {
					return n, true
				}
				s.cur, s.spent = f, f
			default:
				return n, false
			}
		}
		c := copy(out[n:], s.cur)
		s.cur = s.cur[c:]
		n += c
	}
	return n, false
}

// full reports whether the decoder is as far ahead as it goes.
func (s *source) full() bool { return s.ended.Load() || len(s.frames) == cap(s.frames) }

func (s *source) close() { s.once.Do(func() { close(s.quit) }) }
