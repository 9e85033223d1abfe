package player

import (
	"errors"
	"io"
	"sync"
)

const frameLen = Rate / 50 // 20 ms

// source decodes an item ahead of the audio path into a small queue of
// frames, so the mixer never waits on the decoder. It plays the file
// Repeat+1 times with Gap silence in between.
type source struct {
	frames chan []int16
	quit   chan struct{}
	once   sync.Once
	cur    []int16
	err    error // set before frames is closed
}

func newSource(it Item) (*source, error) {
	s := &source{frames: make(chan []int16, 25), quit: make(chan struct{})}
	go s.run(it)
	return s, nil
}

func (s *source) run(it Item) {
	defer close(s.frames)
	for rep := 0; rep <= it.Repeat; rep++ {
		if rep > 0 {
			for gap := int(it.Gap.Seconds() * Rate); gap > 0; gap -= frameLen {
				if !s.send(make([]int16, min(gap, frameLen))) {
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
			f := make([]int16, frameLen)
			n, err := st.read(f)
			if n > 0 && !s.send(f[:n]) {
				st.close()
				return
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

func (s *source) send(f []int16) bool {
	select {
	case s.frames <- f:
		return true
	case <-s.quit:
		return false
	}
}

// read copies decoded samples, scaled by gain, into out. It never blocks:
// n may be short when the decoder is behind; eof is true at the end.
func (s *source) read(out []int16, gain float64) (n int, eof bool) {
	for n < len(out) {
		if len(s.cur) == 0 {
			select {
			case f, ok := <-s.frames:
				if !ok {
					return n, true
				}
				s.cur = f
			default:
				return n, false
			}
		}
		c := min(len(s.cur), len(out)-n)
		for i := 0; i < c; i++ {
			out[n+i] = int16(float64(s.cur[i]) * gain)
		}
		s.cur = s.cur[c:]
		n += c
	}
	return n, false
}

func (s *source) close() { s.once.Do(func() { close(s.quit) }) }
