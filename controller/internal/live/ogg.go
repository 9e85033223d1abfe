package live

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// oggReader splits an Ogg Opus stream (RFC 7845), as ffmpeg writes it to a
// pipe, into Opus packets, skipping the OpusHead and OpusTags headers. It
// reads one logical stream; a chained stream (a new OpusHead) restarts
// header skipping. The controller does not import the node's player, so
// this is its own small reader: it needs no seeking, no granule positions
// and no CRC (the bytes come from a local pipe).
type oggReader struct {
	r       *bufio.Reader
	partial []byte   // a packet continued on the next page
	queue   [][]byte // complete packets not yet returned
	headers int      // header packets still to skip
}

func newOggReader(r io.Reader) *oggReader {
	return &oggReader{r: bufio.NewReaderSize(r, 64<<10), headers: 2}
}

var errOggCapture = errors.New("live: not an Ogg page (capture pattern missing)")

// next returns the next Opus packet.
func (o *oggReader) next() ([]byte, error) {
	for len(o.queue) == 0 {
		if err := o.page(); err != nil {
			return nil, err
		}
	}
	p := o.queue[0]
	o.queue = o.queue[1:]
	return p, nil
}

func (o *oggReader) page() error {
	var h [27]byte
	if _, err := io.ReadFull(o.r, h[:]); err != nil {
		return err
	}
	if string(h[:4]) != "OggS" || h[4] != 0 {
		return errOggCapture
	}
	flags := h[5]
	lacing := make([]byte, h[26])
	if _, err := io.ReadFull(o.r, lacing); err != nil {
		return fmt.Errorf("live: ogg segment table: %w", err)
	}
	total := 0
	for _, l := range lacing {
		total += int(l)
	}
	body := make([]byte, total)
	if _, err := io.ReadFull(o.r, body); err != nil {
		return fmt.Errorf("live: ogg page body: %w", err)
	}
	if flags&0x01 == 0 { // not a continuation: a stale partial packet is dropped
		o.partial = nil
	}
	if flags&0x02 != 0 { // beginning of a stream
		o.headers = 2
	}
	off := 0
	for _, l := range lacing {
		o.partial = append(o.partial, body[off:off+int(l)]...)
		off += int(l)
		if l == 255 {
			continue // the packet goes on
		}
		pkt := o.partial
		o.partial = nil
		if o.headers > 0 {
			if o.headers == 2 && !bytes.HasPrefix(pkt, []byte("OpusHead")) {
				return fmt.Errorf("live: ogg stream is not Opus")
			}
			o.headers--
			continue
		}
		if len(pkt) > 0 {
			o.queue = append(o.queue, pkt)
		}
	}
	return nil
}
