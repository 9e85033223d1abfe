// Package stream is the node's side of live sessions (PROTOCOL.md §10): a
// jitter buffer keyed by sample position, and the set of sessions the node
// plays, which checks every packet against the key that signed its
// session's command. The buffer is what the player reads (player.Live):
// sample n of a session is heard at start_at + n/48000 s on every node, a
// frame is played at its instant or not at all, and what did not arrive is
// played as silence and counted.
package stream

import (
	"math"
	"sort"
	"sync"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Decoder turns one Opus frame into 48 kHz mono PCM, keeping the codec's
// state between frames (player.Decoder).
type Decoder interface {
	Decode(frame []byte) ([]int16, error)
	Close()
}

// Open is the end position of a session with no end known yet.
const Open = math.MaxInt64

// DefaultMaxFrames bounds the audio a buffer holds: 10 s of 20 ms frames,
// about 1 MB of PCM, far more than a controller sends ahead.
const DefaultMaxFrames = 500

type frame struct {
	pos int64
	pcm []int16
}

// Drops counts frames a buffer did not keep.
type Drops struct {
	Late      int // arrived after their instant
	Duplicate int // a frame at that position was already held
	Undecoded int // the decoder refused it
	Beyond    int // after the session's end, or pushed out by a full buffer
}

// Buffer is a jitter buffer for one session, keyed by sample position.
// Put (the node's loop) and ReadAt (the audio path) may run concurrently.
type Buffer struct {
	mu        sync.Mutex
	dec       Decoder
	max       int
	frames    []frame // by pos; once reading, none ends at or before cursor
	reading   bool
	cursor    int64 // the next position the player reads
	started   bool  // a sample of the session has been on air
	fromStart bool  // on air from position 0: a hole at the start is a gap
	end       int64 // position at which the session ends
	inHole    bool
	gaps      int
	missing   int64 // samples played as silence for missing audio
	drops     Drops
}

// NewBuffer makes a buffer whose session ends at position end (Open for
// none yet), holding at most maxFrames frames (DefaultMaxFrames if <= 0).
func NewBuffer(dec Decoder, end int64, maxFrames int) *Buffer {
	if maxFrames <= 0 {
		maxFrames = DefaultMaxFrames
	}
	return &Buffer{dec: dec, max: maxFrames, end: end}
}

// Put adds the frames of one packet, the first at sample position pos and
// each nodeproto.StreamSamplesPerFrame long. last marks the session's last
// packet: the session ends after its frames, even if they came too late.
// It returns how many frames were kept. Frames are decoded outside the
// lock, so the audio path never waits for the decoder.
func (b *Buffer) Put(pos int64, frames [][]byte, last bool) int {
	kept := 0
	for i, f := range frames {
		p := pos + int64(i)*nodeproto.StreamSamplesPerFrame
		if !b.wanted(p) {
			continue
		}
		pcm, err := b.dec.Decode(f)
		b.mu.Lock()
		switch {
		case err != nil || len(pcm) == 0:
			b.drops.Undecoded++
		case b.admit(p, pcm):
			kept++
		}
		b.mu.Unlock()
	}
	if last {
		b.EndAt(pos + int64(len(frames))*nodeproto.StreamSamplesPerFrame)
	}
	return kept
}

// wanted reports whether a frame at p would be kept, counting it if not.
func (b *Buffer) wanted(p int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, dup := b.find(p)
	switch {
	case p >= b.end:
		b.drops.Beyond++
	case b.reading && p < b.cursor:
		b.drops.Late++
	case dup:
		b.drops.Duplicate++
	default:
		return true
	}
	return false
}

// admit inserts a decoded frame, checking again what may have changed
// while it was decoded (the player read past it).
func (b *Buffer) admit(p int64, pcm []int16) bool {
	j, dup := b.find(p)
	switch {
	case dup:
		b.drops.Duplicate++
		return false
	case b.reading && p < b.cursor:
		b.drops.Late++
		return false
	}
	b.frames = append(b.frames, frame{})
	copy(b.frames[j+1:], b.frames[j:])
	b.frames[j] = frame{pos: p, pcm: pcm}
	if len(b.frames) > b.max {
		b.frames = b.frames[1:] // the oldest: the furthest behind when it is read
		b.drops.Beyond++
	}
	return true
}

// find returns where a frame at p is or would go, and whether it is there.
func (b *Buffer) find(p int64) (int, bool) {
	j := sort.Search(len(b.frames), func(j int) bool { return b.frames[j].pos >= p })
	return j, j < len(b.frames) && b.frames[j].pos == p
}

// EndAt ends the session at position end at the latest (its ends_at).
func (b *Buffer) EndAt(end int64) {
	b.mu.Lock()
	b.end = min(b.end, end)
	b.mu.Unlock()
}

// locate returns the index of the frame covering position q, or -1, and
// the index of the first frame starting after q.
func (b *Buffer) locate(q int64) (cover, next int) {
	next = sort.Search(len(b.frames), func(j int) bool { return b.frames[j].pos > q })
	if next > 0 {
		if f := b.frames[next-1]; q < f.pos+int64(len(f.pcm)) {
			return next - 1, next
		}
	}
	return -1, next
}

// ReadAt implements player.Live. A player that starts reading at position
// 0 or before plays the session from sample 0, and a hole there is a gap;
// one that starts later (a node that joined a running session) starts at
// the next frame that begins at or after its position.
func (b *Buffer) ReadAt(pos int64, out []int16) (lead, n int, eof bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.reading {
		b.reading, b.fromStart = true, pos <= 0
	}
	if pos != b.cursor {
		b.inHole = false // a jump (resumed, realigned) is not missing audio
	}
	i := 0
	for i < len(out) {
		q := pos + int64(i)
		if q >= b.end {
			eof = true
			break
		}
		room := len(out) - i
		if b.end-q < int64(room) {
			room = int(b.end - q)
		}
		if q < 0 {
			k := int(min(int64(room), -q))
			clear(out[i : i+k])
			i += k
			lead = i
			continue
		}
		cover, next := b.locate(q)
		nextAt := func(k int) int { // samples until the next frame, at most k
			if next < len(b.frames) {
				return int(min(int64(k), b.frames[next].pos-q))
			}
			return k
		}
		if !b.started {
			if b.fromStart || (cover >= 0 && b.frames[cover].pos == q) {
				b.started = true
			} else {
				k := nextAt(room)
				clear(out[i : i+k])
				i += k
				lead = i
				continue
			}
		}
		if cover >= 0 {
			f := b.frames[cover]
			k := copy(out[i:i+room], f.pcm[q-f.pos:])
			i += k
			b.inHole = false
			continue
		}
		k := nextAt(room)
		clear(out[i : i+k])
		i += k
		if !b.inHole {
			b.gaps++
			b.inHole = true
		}
		b.missing += int64(k)
	}
	b.cursor = pos + int64(i)
	drop := 0
	for drop < len(b.frames) && b.frames[drop].pos+int64(len(b.frames[drop].pcm)) <= b.cursor {
		drop++
	}
	b.frames = b.frames[drop:]
	return lead, i, eof
}

// Stats implements player.Live.
func (b *Buffer) Stats() (gaps int, missing time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gaps, time.Duration(b.missing) * time.Second / nodeproto.StreamRate
}

// Drops returns the frames dropped so far.
func (b *Buffer) Drops() Drops {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.drops
}
