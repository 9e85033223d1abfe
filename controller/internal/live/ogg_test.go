package live

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// oggPage builds one Ogg page (for tests and tools): header, lacing of the
// given segments' packets, no CRC.
func oggPage(flags byte, packets ...[]byte) []byte {
	var lacing, body []byte
	for _, p := range packets {
		n := len(p)
		for n >= 255 {
			lacing = append(lacing, 255)
			n -= 255
		}
		lacing = append(lacing, byte(n))
		body = append(body, p...)
	}
	h := make([]byte, 27, 27+len(lacing)+len(body))
	copy(h, "OggS")
	h[5] = flags
	binary.LittleEndian.PutUint32(h[14:], 1) // serial
	h[26] = byte(len(lacing))
	return append(append(h, lacing...), body...)
}

func TestOggReader(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 600) // spans lacing values of 255
	var stream []byte
	stream = append(stream, oggPage(0x02, []byte("OpusHead\x01\x01"))...)
	stream = append(stream, oggPage(0, []byte("OpusTags"))...)
	stream = append(stream, oggPage(0, []byte{1}, []byte{2, 2}, big[:510])...)
	// The last packet of that page ended with two 255 lacing values and
	// the 0 terminator, so it is complete; now one continued over pages.
	first := oggPage(0, big[:255])
	first = append(first[:27], append([]byte{255}, big[:255]...)...) // lacing [255]: the packet goes on
	first[26] = 1
	stream = append(stream, first...)
	stream = append(stream, oggPage(0x01, big[:345])...)
	o := newOggReader(bytes.NewReader(stream))
	var got [][]byte
	for {
		p, err := o.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, append([]byte(nil), p...))
	}
	want := [][]byte{{1}, {2, 2}, big[:510], big[:600]}
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("packet %d: %d bytes, want %d", i, len(got[i]), len(want[i]))
		}
	}
	if _, err := newOggReader(bytes.NewReader([]byte("ID3 not ogg at all, sorry......"))).next(); !errors.Is(err, errOggCapture) {
		t.Errorf("non-Ogg input: %v", err)
	}
	if _, err := newOggReader(bytes.NewReader(oggPage(0x02, []byte("Vorbis")))).next(); err == nil {
		t.Error("a non-Opus stream was read")
	}
}
