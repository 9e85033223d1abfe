package player

import (
	"math"
	"testing"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/internal/audiotest"
	livestream "github.com/communeradio/radio/node/internal/stream"
)

// toneDecoder "decodes" frame k (one byte, k) into the k-th 20 ms of a
// continuous 880 Hz tone. A fake inside a unit test: the node's tests play
// real Opus through the real decoder.
type toneDecoder struct{}

func (toneDecoder) Decode(f []byte) ([]int16, error) {
	pcm := make([]int16, nodeproto.StreamSamplesPerFrame)
	for i := range pcm {
		n := int(f[0])*len(pcm) + i
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*880*float64(n)/Rate))
	}
	return pcm, nil
}

func (toneDecoder) Close() {}

// liveBuffer holds frames 0..n-1 of the tone but those in missing; the
// session ends after frame n-1.
func liveBuffer(n int, missing ...int) *livestream.Buffer {
	b := livestream.NewBuffer(toneDecoder{}, livestream.Open, 0)
	for k := 0; k < n; k++ {
		skip := false
		for _, m := range missing {
			skip = skip || m == k
		}
		if !skip {
			b.Put(int64(k*frameLen), [][]byte{{byte(k)}}, false)
		}
	}
	b.Put(int64(n*frameLen), nil, true)
	return b
}

// A live session cuts in at its start sample like a file, plays silence
// for a missing frame and counts it, and what it interrupted resumes.
func TestMixerLiveSession(t *testing.T) {
	m := newManual(t)
	const aAt, lAt = 4800, 19200 // 0.1 s, 0.4 s
	m.play(Item{ID: "A", Path: opusFile(t, 440, 1), PlayAt: m.at(aAt), Resume: true})
	m.play(Item{ID: "L", Live: liveBuffer(15, 5), PlayAt: m.at(lAt), Priority: 2})
	m.pull(2 * Rate)
	m.segment("live before the hole", lAt, lAt+5*frameLen, 880)
	m.segment("live after the hole", lAt+6*frameLen, lAt+15*frameLen, 880)
	if tone := audiotest.Analyze(m.out[lAt+5*frameLen+48:lAt+6*frameLen-48], Rate); tone.Found {
		t.Errorf("sound where the missing frame is: %+v", tone)
	}
	m.segment("A resumed", lAt+15*frameLen, lAt+15*frameLen+(Rate-(lAt-aAt)), 440)
	evs := m.events()
	if got, want := summary(evs), "started:A interrupted:A started:L finished:L resumed:A finished:A"; got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
	st, fin := evs[2], evs[3]
	if d := st.At.Sub(m.at(lAt)); d < -50*time.Microsecond || d > 50*time.Microsecond {
		t.Errorf("live started %v from its start sample", d)
	}
	if d := fin.At.Sub(m.at(lAt + 15*frameLen)); d < -50*time.Microsecond || d > 50*time.Microsecond {
		t.Errorf("live finished %v from its last sample", d)
	}
	if fin.Played != 300*time.Millisecond || fin.Gaps != 1 || fin.Gap != 20*time.Millisecond {
		t.Errorf("finished: played %v, %d gaps of %v; want 300ms, 1 gap of 20ms", fin.Played, fin.Gaps, fin.Gap)
	}
}

// A session handed over after its start plays its present: its sample n
// is still heard at PlayAt + n/Rate, from the next whole frame on.
func TestMixerLiveJoinedLate(t *testing.T) {
	m := newManual(t)
	m.pull(Rate / 2)
	start := len(m.out) - 7*frameLen - 100 // began 7 frames and 100 samples ago
	m.play(Item{ID: "L", Live: liveBuffer(40), PlayAt: m.at(start)})
	m.pull(Rate)
	first := start + 8*frameLen
	m.segment("joined", first, start+40*frameLen, 880)
	evs := m.events()
	if got := summary(evs); got != "started:L finished:L" {
		t.Fatalf("events %q", got)
	}
	if d := evs[0].At.Sub(m.at(first)); d < -50*time.Microsecond || d > 50*time.Microsecond {
		t.Errorf("started %v from frame 8's instant", d)
	}
	if evs[1].Played != 32*20*time.Millisecond || evs[1].Gaps != 0 {
		t.Errorf("finished: played %v, %d gaps; want 640ms, none", evs[1].Played, evs[1].Gaps)
	}
}
