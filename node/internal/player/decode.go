package player

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// stream decodes an Ogg Opus file to mono 48 kHz PCM, trimming the
// encoder's pre-skip and end padding.
type stream struct {
	f     *os.File
	ogg   *oggOpus
	dec   *opusDecoder
	skip  int   // pre-skip samples still to drop
	out   int64 // samples produced (after pre-skip)
	buf   []int16
	pend  []int16 // decoded, not yet returned
	ended bool
}

func openStream(path string) (*stream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	o, err := newOggOpus(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d, err := newOpusDecoder()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &stream{f: f, ogg: o, dec: d, skip: o.preSkip, buf: make([]int16, maxFrame)}, nil
}

// read fills p with PCM; io.EOF at the end.
func (s *stream) read(p []int16) (int, error) {
	n := 0
	for n < len(p) {
		if len(s.pend) == 0 {
			if s.ended {
				break
			}
			if err := s.decodeNext(); err != nil {
				return n, err
			}
			continue
		}
		c := copy(p[n:], s.pend)
		s.pend = s.pend[c:]
		n += c
	}
	if n == 0 && s.ended {
		return 0, io.EOF
	}
	return n, nil
}

func (s *stream) decodeNext() error {
	pkt, err := s.ogg.next()
	if errors.Is(err, io.EOF) {
		s.ended = true
		return nil
	}
	if err != nil {
		return err
	}
	k, err := s.dec.decode(pkt, s.buf)
	if err != nil {
		return err
	}
	pcm := s.buf[:k]
	if s.skip > 0 {
		d := min(s.skip, len(pcm))
		pcm, s.skip = pcm[d:], s.skip-d
	}
	if last, granule := s.ogg.last(); last {
		// The final page's granule marks the true end: drop the padding.
		end := granule - int64(s.ogg.preSkip)
		if keep := end - s.out; keep >= 0 && keep < int64(len(pcm)) {
			pcm = pcm[:keep]
		}
		s.ended = true
	}
	s.out += int64(len(pcm))
	s.pend = pcm
	return nil
}

func (s *stream) close() {
	s.dec.close()
	s.f.Close()
}

// probe checks that a file is a decodable Ogg Opus stream: it decodes the
// first packet and walks every page (checksums, framing, the last page),
// so a damaged or cut file is refused before it is scheduled.
func probe(path string) error {
	s, err := openStream(path)
	if err != nil {
		return err
	}
	defer s.close()
	buf := make([]int16, 960)
	if _, err := s.read(buf); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", path, err)
	}
	for !s.ended {
		if _, err := s.ogg.next(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}
