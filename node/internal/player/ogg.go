package player

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// oggOpus reads Opus packets from an Ogg stream (RFC 3533, RFC 7845): it
// checks each page's CRC, follows the first logical stream (pages of any
// other serial are skipped), checks the OpusHead, skips OpusTags, joins
// packets that span pages, and reports the pre-skip and, on the last page,
// the end granule for trimming.
type oggOpus struct {
	r        *bufio.Reader
	preSkip  int
	channels int
	serial   uint32
	started  bool     // serial is set
	queue    [][]byte // complete packets of the current page
	partial  []byte   // a packet continuing on the next page
	granule  int64    // granule of the page the queued packets came from
	eos      bool     // that page was the last
	done     bool
	page     [255 * 255]byte // body of the current page; packets are slices of it or of partial
}

var errNotOpus = errors.New("not an Ogg Opus file")

const maxPacket = 1 << 16 // no sane Opus packet is larger

func newOggOpus(r io.Reader) (*oggOpus, error) {
	o := &oggOpus{r: bufio.NewReaderSize(r, 8<<10)}
	head, err := o.next()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotOpus, err)
	}
	if len(head) < 19 || string(head[:8]) != "OpusHead" || head[8]>>4 != 0 {
		return nil, errNotOpus
	}
	o.channels = int(head[9])
	o.preSkip = int(binary.LittleEndian.Uint16(head[10:]))
	if o.channels < 1 || o.channels > 2 || head[18] != 0 {
		return nil, fmt.Errorf("%w: %d channels, mapping family %d (want mono or stereo, family 0)", errNotOpus, o.channels, head[18])
	}
	tags, err := o.next()
	if err != nil || len(tags) < 8 || string(tags[:8]) != "OpusTags" {
		return nil, fmt.Errorf("%w: no OpusTags", errNotOpus)
	}
	return o, nil
}

// next returns the next packet; io.EOF at the end of the stream. The
// packet is valid until the following call.
func (o *oggOpus) next() ([]byte, error) {
	for len(o.queue) == 0 {
		if o.done {
			return nil, io.EOF
		}
		if err := o.readPage(); err != nil {
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

func (o *oggOpus) readPage() error {
	var h [27]byte
	if _, err := io.ReadFull(o.r, h[:]); err != nil {
		if errors.Is(err, io.EOF) && o.started {
			// The file ends on a page boundary, but not with the page that
			// ends the stream: cut short, e.g. by an interrupted copy.
			return errors.New("ogg: truncated: the stream has no last page")
		}
		return fmt.Errorf("ogg: truncated page header: %w", err)
	}
	if string(h[:4]) != "OggS" || h[4] != 0 {
		return errors.New("ogg: bad page header")
	}
	flags := h[5]
	granule := int64(binary.LittleEndian.Uint64(h[6:]))
	serial := binary.LittleEndian.Uint32(h[14:])
	want := binary.LittleEndian.Uint32(h[22:])
	nseg := int(h[26])
	var segs [255]byte
	if _, err := io.ReadFull(o.r, segs[:nseg]); err != nil {
		return fmt.Errorf("ogg: truncated segment table: %w", err)
	}
	total := 0
	for _, s := range segs[:nseg] {
		total += int(s)
	}
	body := o.page[:total]
	if _, err := io.ReadFull(o.r, body); err != nil {
		return fmt.Errorf("ogg: truncated page: %w", err)
	}
	h[22], h[23], h[24], h[25] = 0, 0, 0, 0
	crc := oggCRC(oggCRC(oggCRC(0, h[:]), segs[:nseg]), body)
	if crc != want {
		return fmt.Errorf("ogg: page checksum mismatch (damaged file)")
	}
	if !o.started {
		if flags&2 == 0 {
			return errors.New("ogg: first page is not a beginning of stream")
		}
		o.serial, o.started = serial, true
	} else if serial != o.serial {
		return nil // another logical stream: not ours
	}
	o.granule = granule
	if flags&1 == 0 && o.partial != nil {
		return errors.New("ogg: packet continuation missing")
	}
	o.queue = o.queue[:0]
	off := 0
	for _, s := range segs[:nseg] {
		seg := body[off : off+int(s)]
		off += int(s)
		if o.partial != nil || s == 255 {
			// Part of a packet that may continue: copy, the page buffer is reused.
			o.partial = append(o.partial, seg...)
			if len(o.partial) > maxPacket {
				return errors.New("ogg: packet too large")
			}
			if s < 255 {
				o.queue = append(o.queue, o.partial)
				o.partial = nil
			}
			continue
		}
		o.queue = append(o.queue, seg)
	}
	if flags&4 != 0 {
		o.eos = true
		o.done = true
	}
	return nil
}

var oggTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

// oggCRC is Ogg's CRC-32: polynomial 0x04c11db7, MSB first, no reflection,
// initial value and final xor 0.
func oggCRC(crc uint32, b []byte) uint32 {
	for _, v := range b {
		crc = crc<<8 ^ oggTable[byte(crc>>24)^v]
	}
	return crc
}
