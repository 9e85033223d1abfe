package player

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// oggOpus reads Opus packets from an Ogg stream (RFC 7845): it checks the
// OpusHead, skips OpusTags, joins packets that span pages, and reports the
// pre-skip and, on the last page, the end granule for trimming.
type oggOpus struct {
	r        *bufio.Reader
	preSkip  int
	channels int
	queue    [][]byte // complete packets of the current page
	partial  []byte   // a packet continuing on the next page
	granule  int64    // granule of the page the queued packets came from
	eos      bool     // that page was the last
	done     bool
}

var errNotOpus = errors.New("not an Ogg Opus file")

const maxPacket = 1 << 16 // no sane Opus packet is larger

func newOggOpus(r io.Reader) (*oggOpus, error) {
	o := &oggOpus{r: bufio.NewReaderSize(r, 16<<10)}
	head, err := o.next()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotOpus, err)
	}
	if len(head) < 19 || string(head[:8]) != "OpusHead" || head[8]>>4 != 0 {
		return nil, errNotOpus
	}
	o.channels = int(head[9])
	o.preSkip = int(binary.LittleEndian.Uint16(head[10:]))
	if o.channels < 1 || o.channels > 2 {
		return nil, fmt.Errorf("%w: %d channels", errNotOpus, o.channels)
	}
	tags, err := o.next()
	if err != nil || len(tags) < 8 || string(tags[:8]) != "OpusTags" {
		return nil, fmt.Errorf("%w: no OpusTags", errNotOpus)
	}
	return o, nil
}

// next returns the next packet; io.EOF at the end of the stream.
func (o *oggOpus) next() ([]byte, error) {
	for len(o.queue) == 0 {
		if o.done {
			return nil, io.EOF
		}
		if err := o.page(); err != nil {
			return nil, err
		}
	}
	p := o.queue[0]
	o.queue = o.queue[1:]
	return p, nil
}

// last reports whether the packet just returned was the stream's final one,
// and the end granule that bounds the output.
func (o *oggOpus) last() (bool, int64) {
	return len(o.queue) == 0 && o.eos, o.granule
}

func (o *oggOpus) page() error {
	var h [27]byte
	if _, err := io.ReadFull(o.r, h[:]); err != nil {
		if errors.Is(err, io.EOF) && o.partial == nil {
			o.done = true
			return nil
		}
		return fmt.Errorf("ogg: truncated page header: %w", err)
	}
	if string(h[:4]) != "OggS" || h[4] != 0 {
		return errors.New("ogg: bad page header")
	}
	flags := h[5]
	o.granule = int64(binary.LittleEndian.Uint64(h[6:]))
	nseg := int(h[26])
	segs := make([]byte, nseg)
	if _, err := io.ReadFull(o.r, segs); err != nil {
		return fmt.Errorf("ogg: truncated segment table: %w", err)
	}
	total := 0
	for _, s := range segs {
		total += int(s)
	}
	body := make([]byte, total)
	if _, err := io.ReadFull(o.r, body); err != nil {
		return fmt.Errorf("ogg: truncated page: %w", err)
	}
	if flags&1 == 0 && o.partial != nil {
		o.partial = nil // continuation missing: drop the broken packet
	}
	off := 0
	for _, s := range segs {
		o.partial = append(o.partial, body[off:off+int(s)]...)
		off += int(s)
		if len(o.partial) > maxPacket {
			return errors.New("ogg: packet too large")
		}
		if s < 255 {
			o.queue = append(o.queue, o.partial)
			o.partial = nil
		}
	}
	if flags&4 != 0 {
		o.eos = true
		o.done = true
	}
	return nil
}
