package stream

import (
	"errors"
	"testing"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

const spf = nodeproto.StreamSamplesPerFrame

// markDecoder "decodes" a frame into one frame of samples all equal to its
// first byte, so a test can tell which frame sounded where. (A fake inside
// a unit test; the node's tests decode real Opus.)
type markDecoder struct{ closed bool }

func (d *markDecoder) Decode(f []byte) ([]int16, error) {
	if f[0] == 0 {
		return nil, errors.New("undecodable")
	}
	pcm := make([]int16, spf)
	for i := range pcm {
		pcm[i] = int16(f[0])
	}
	return pcm, nil
}

func (d *markDecoder) Close() { d.closed = true }

// frames returns one frame per mark, marks being 1..255.
func frames(marks ...byte) [][]byte {
	var fs [][]byte
	for _, m := range marks {
		fs = append(fs, []byte{m})
	}
	return fs
}

// play reads the buffer from pos, chunk samples at a time, until its end or
// until samples have been read, and returns the lead (silence before the
// first sample on air) and what sounded after it, one mark per frame-sized
// slot (0 for silence, -1 for a slot of mixed content), and whether it ended.
func play(t *testing.T, b *Buffer, pos int64, chunk, samples int) (marks []int, lead int, eof bool) {
	t.Helper()
	var out []int16
	buf := make([]int16, chunk)
	onAir := false
	for len(out) < samples && !eof {
		var l, n int
		l, n, eof = b.ReadAt(pos+int64(len(out)), buf[:min(chunk, samples-len(out))])
		if onAir && l != 0 {
			t.Fatalf("lead %d after sound began", l)
		}
		lead += l
		onAir = onAir || l < n
		out = append(out, buf[:n]...)
	}
	for i := lead; i < len(out); i += spf {
		s := out[i:min(len(out), i+spf)]
		m := int(s[0])
		for _, v := range s {
			if int(v) != m {
				m = -1
			}
		}
		marks = append(marks, m)
	}
	return marks, lead, eof
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBufferPlaysInOrderAndEnds(t *testing.T) {
	b := NewBuffer(&markDecoder{}, Open, 0)
	// Out of order, and the last packet first: position, not arrival, decides.
	b.Put(5*spf, frames(6, 7, 8), true)
	b.Put(0, frames(1, 2, 3, 4, 5), false)
	marks, lead, eof := play(t, b, 0, 480, 100*spf)
	if want := []int{1, 2, 3, 4, 5, 6, 7, 8}; !equal(marks, want) || lead != 0 || !eof {
		t.Errorf("played %v lead %d eof %v, want %v lead 0 eof", marks, lead, eof, want)
	}
	if g, m := b.Stats(); g != 0 || m != 0 {
		t.Errorf("stats %d holes %v, want none", g, m)
	}
}

func TestBufferHolesLateAndDuplicates(t *testing.T) {
	b := NewBuffer(&markDecoder{}, Open, 0)
	b.Put(0, frames(1, 2), false)
	// 3 and 4 never come; 5 comes twice (the second copy says 99).
	b.Put(4*spf, frames(5), false)
	b.Put(4*spf, frames(99), false)
	b.Put(5*spf, frames(6), false)
	marks, _, _ := play(t, b, 0, 960, 6*spf)
	// Frame 7 comes after its instant has been played: dropped.
	if kept := b.Put(6*spf, frames(7), false); kept != 1 {
		t.Fatalf("a frame still ahead was not kept")
	}
	m2, _, _ := play(t, b, 6*spf, 960, spf)
	if kept := b.Put(2*spf, frames(3), false); kept != 0 {
		t.Errorf("a late frame was kept")
	}
	// 8 missing, 9 is an undecodable frame, 10 comes, the session ends.
	b.Put(8*spf, frames(0), false)
	b.Put(9*spf, frames(10), true)
	m3, _, eof := play(t, b, 7*spf, 480, 10*spf)
	marks = append(append(marks, m2...), m3...)
	if want := []int{1, 2, 0, 0, 5, 6, 7, 0, 0, 10}; !equal(marks, want) || !eof {
		t.Errorf("played %v (eof %v), want %v", marks, eof, want)
	}
	gaps, missing := b.Stats()
	if gaps != 2 || missing != 80*time.Millisecond {
		t.Errorf("stats %d holes %v, want 2 holes, 80ms", gaps, missing)
	}
	if d := b.Drops(); d != (Drops{Late: 1, Duplicate: 1, Undecoded: 1}) {
		t.Errorf("drops %+v", d)
	}
}

func TestBufferJoinsAtNextFrame(t *testing.T) {
	cases := []struct {
		name      string
		pos       int64
		wantLead  int
		wantMarks []int
		wantGaps  int
		wantMiss  time.Duration
	}{
		// A player on air before sample 0 waits for it; a missing first
		// frame is then a hole like any other.
		{"from before the start", -spf, spf, []int{0, 2, 3, 4, 5, 6}, 1, 20 * time.Millisecond},
		// A late joiner in the middle of frame 3 starts with frame 4: what
		// it waited for is not a hole.
		{"mid-way", 2*spf + 100, spf - 100, []int{4, 5, 6}, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := NewBuffer(&markDecoder{}, Open, 0)
			b.Put(spf, frames(2, 3, 4, 5, 6), true) // frame at 0 lost
			if c.pos < 0 {
				b = NewBuffer(&markDecoder{}, Open, 0)
				b.Put(2*spf, frames(3, 4, 5, 6), true) // frames at 0 and spf lost
				b.Put(spf, frames(2), false)           // the second arrives
			}
			marks, lead, eof := play(t, b, c.pos, 480, 20*spf)
			if lead != c.wantLead || !equal(marks, c.wantMarks) || !eof {
				t.Errorf("lead %d, played %v eof %v; want lead %d, %v", lead, marks, eof, c.wantLead, c.wantMarks)
			}
			if g, m := b.Stats(); g != c.wantGaps || m != c.wantMiss {
				t.Errorf("stats %d holes %v, want %d %v", g, m, c.wantGaps, c.wantMiss)
			}
		})
	}
}

func TestBufferJumpIsNotAHole(t *testing.T) {
	b := NewBuffer(&markDecoder{}, 10*spf, 0)
	b.Put(0, frames(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), false)
	m1, _, _ := play(t, b, 0, 960, 2*spf)
	// Paused by a higher item for 5 frames, then on air again at the
	// session's present: the frames it missed while off air are no holes.
	m2, _, eof := play(t, b, 7*spf, 960, 10*spf)
	if want := []int{1, 2, 8, 9, 10}; !equal(append(m1, m2...), want) || !eof {
		t.Errorf("played %v eof %v, want %v (ends_at after 10 frames)", append(m1, m2...), eof, want)
	}
	if g, _ := b.Stats(); g != 0 {
		t.Errorf("%d holes, want 0", g)
	}
}

func TestBufferEnds(t *testing.T) {
	// The last packet came too late to be played: the session still ends
	// after it, and the audio it carried is a hole.
	b := NewBuffer(&markDecoder{}, Open, 0)
	b.Put(0, frames(1, 2), false)
	play(t, b, 0, 960, 3*spf)
	b.Put(2*spf, frames(3), true)
	marks, _, eof := play(t, b, 3*spf, 960, 10*spf)
	if len(marks) != 0 || !eof {
		t.Errorf("after the late last packet: %v eof %v", marks, eof)
	}
	if g, m := b.Stats(); g != 1 || m != 20*time.Millisecond {
		t.Errorf("stats %d %v, want 1 hole of 20ms", g, m)
	}
	// ends_at cuts a frame in the middle; frames beyond it are not kept.
	b = NewBuffer(&markDecoder{}, Open, 0)
	b.EndAt(spf + 480)
	if kept := b.Put(0, frames(1, 2, 3), false); kept != 2 {
		t.Errorf("kept %d frames, want 2", kept)
	}
	if _, n, eof := b.ReadAt(0, make([]int16, 3*spf)); n != spf+480 || !eof {
		t.Errorf("read %d samples (eof %v), want %d up to ends_at", n, eof, spf+480)
	}
}

func TestBufferBound(t *testing.T) {
	b := NewBuffer(&markDecoder{}, Open, 3)
	b.Put(0, frames(1, 2, 3, 4, 5), false)
	marks, _, _ := play(t, b, 0, 960, 5*spf)
	if want := []int{0, 0, 3, 4, 5}; !equal(marks, want) {
		t.Errorf("played %v, want %v (the oldest pushed out)", marks, want)
	}
	if d := b.Drops(); d.Beyond != 2 {
		t.Errorf("drops %+v, want 2 beyond", d)
	}
}
