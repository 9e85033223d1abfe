package player

/*
#cgo pkg-config: opus
#include <opus.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Rate is the one sample rate of the delivery format and of the output.
const Rate = 48000

// maxFrame is the longest Opus frame (120 ms) at 48 kHz.
const maxFrame = Rate * 120 / 1000

type opusDecoder struct{ d *C.OpusDecoder }

// newOpusDecoder decodes any Opus stream to mono 48 kHz (libopus downmixes).
func newOpusDecoder() (*opusDecoder, error) {
	var e C.int
	d := C.opus_decoder_create(Rate, 1, &e)
	if e != C.OPUS_OK || d == nil {
		return nil, fmt.Errorf("opus: decoder_create: %d", int(e))
	}
	return &opusDecoder{d: d}, nil
}

// decode decodes one packet into out (at least maxFrame long).
func (d *opusDecoder) decode(pkt []byte, out []int16) (int, error) {
	if len(pkt) == 0 {
		return 0, errors.New("opus: empty packet")
	}
	n := C.opus_decode(d.d, (*C.uchar)(unsafe.Pointer(&pkt[0])), C.opus_int32(len(pkt)),
		(*C.opus_int16)(unsafe.Pointer(&out[0])), C.int(len(out)), 0)
	if n < 0 {
		return 0, fmt.Errorf("opus: decode: %s", C.GoString(C.opus_strerror(n)))
	}
	return int(n), nil
}

func (d *opusDecoder) close() {
	if d.d != nil {
		C.opus_decoder_destroy(d.d)
		d.d = nil
	}
}

// Decoder decodes the Opus frames of a live session one after the other,
// keeping the codec's state from frame to frame as a file's stream does.
// It is not safe for concurrent use.
type Decoder struct {
	d   *opusDecoder
	buf []int16
}

// NewDecoder makes a mono 48 kHz decoder.
func NewDecoder() (*Decoder, error) {
	d, err := newOpusDecoder()
	if err != nil {
		return nil, err
	}
	return &Decoder{d: d, buf: make([]int16, maxFrame)}, nil
}

// Decode decodes one Opus frame into new PCM samples.
func (d *Decoder) Decode(frame []byte) ([]int16, error) {
	if d.d == nil {
		return nil, errors.New("opus: decoder closed")
	}
	n, err := d.d.decode(frame, d.buf)
	if err != nil {
		return nil, err
	}
	return append([]int16(nil), d.buf[:n]...), nil
}

// Close frees the decoder.
func (d *Decoder) Close() { d.d.close() }
