package heard

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// speechLike is a deterministic signal with speech's traits for the
// comparison: several tones whose loudness comes and goes.
func speechLike(n, rate int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	f := []float64{150 + r.Float64()*100, 350 + r.Float64()*200, 800 + r.Float64()*400, 1700 + r.Float64()*800}
	s := make([]float32, n)
	for i := range s {
		t := float64(i) / float64(rate)
		env := 0.5 + 0.5*math.Sin(2*math.Pi*(2+float64(seed%3))*t+float64(seed))
		var v float64
		for k, hz := range f {
			v += math.Sin(2*math.Pi*hz*t+float64(k)) / float64(k+1)
		}
		s[i] = float32(0.2 * env * v)
	}
	return s
}

func noise(n int, level float64, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 2))
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64() * level)
	}
	return s
}

func TestCorrelate(t *testing.T) {
	const n, lag = 4 * Rate, Rate / 2
	ref := speechLike(n, Rate, 1)
	shifted := func(d int, gain float64, extra []float32) []float32 {
		c := make([]float32, n+2*lag)
		for i, v := range ref {
			if j := lag + d + i; j >= 0 && j < len(c) {
				c[j] = float32(gain) * v
			}
		}
		for i := range extra {
			c[i] += extra[i]
		}
		return c
	}
	tests := []struct {
		name         string
		capt         []float32
		wantLag      int
		minCorr, max float64
	}{
		{"same instant", shifted(0, 1, nil), 0, 0.999, 1},
		{"delayed 180 ms, quieter, with noise", shifted(Rate*180/1000, 0.1, noise(n+2*lag, 0.01, 3)), Rate * 180 / 1000, 0.5, 1},
		{"early 40 ms, inverted", shifted(-Rate*40/1000, -0.5, nil), -Rate * 40 / 1000, 0.99, 1},
		{"noise only", noise(n+2*lag, 0.1, 4), 0, 0, 0.1},
		{"another signal", speechLike(n+2*lag, Rate, 9), 0, 0, 0.2},
		{"silence", make([]float32, n+2*lag), 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Correlate(ref, tc.capt, lag)
			c := math.Abs(m.Corr)
			if c < tc.minCorr || c > tc.max {
				t.Fatalf("|corr| = %.4f, want in [%.3f, %.3f]", c, tc.minCorr, tc.max)
			}
			if tc.minCorr > 0 && m.Lag != tc.wantLag {
				t.Errorf("lag = %d samples, want %d", m.Lag, tc.wantLag)
			}
		})
	}
	if m := Correlate(make([]float32, n), shifted(0, 1, nil), lag); m.Corr != 0 {
		t.Errorf("silent reference: corr %v, want 0", m.Corr)
	}
	if m := Correlate(ref, ref, lag); m.Corr != 0 {
		t.Errorf("capture of the wrong length: corr %v, want 0", m.Corr)
	}
}

func TestDBFS(t *testing.T) {
	full := make([]float32, 1000)
	for i := range full {
		full[i] = 1
		if i%2 == 1 {
			full[i] = -1
		}
	}
	half := make([]float32, len(full))
	for i, v := range full {
		half[i] = v / 2
	}
	for _, tc := range []struct {
		s    []float32
		want float64
	}{{full, 0}, {half, -6.02}, {make([]float32, 10), Floor}, {nil, Floor}} {
		if got := DBFS(tc.s); math.Abs(got-tc.want) > 0.01 {
			t.Errorf("DBFS = %.2f, want %.2f", got, tc.want)
		}
	}
}

// pcm turns a signal at Rate into 48 kHz int16 by holding each sample.
func pcm(s []float32, gain float64) []int16 {
	out := make([]int16, 0, len(s)*factor)
	for _, v := range s {
		for range factor {
			out = append(out, int16(max(-32767, min(32767, float64(v)*gain*32767))))
		}
	}
	return out
}

// feed adds s to a track in blocks of 62.5 ms, as the player and the capture
// do, from at on.
func feed(add func([]int16, time.Time), s []int16, at time.Time) {
	const blk = InRate / 16
	for i := 0; i < len(s); i += blk {
		add(s[i:min(len(s), i+blk)], at.Add(time.Duration(i)*time.Second/InRate))
	}
}

func TestMeter(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	item := speechLike(6*Rate, Rate, 5)
	played := pcm(item, 1)
	span := 6 * time.Second
	// The capture runs 2 s before the item and 2 s after it.
	pad := make([]int16, 2*InRate)
	around := func(mid []int16) []int16 { return append(append(append([]int16{}, pad...), mid...), pad...) }
	bgNoise := pcm(noise(10*Rate, 0.003, 7), 1)
	withBg := func(s []int16) []int16 {
		out := make([]int16, len(s))
		for i := range s {
			out[i] = s[i] + bgNoise[i]
		}
		return out
	}
	delayed := make([]int16, len(played))
	copy(delayed[InRate*230/1000:], pcm(item, 0.3))

	tests := []struct {
		name      string
		capt      []int16 // from t0-2s, nil = nothing captured
		want      *bool
		minDB     float64
		wantBgLow bool
	}{
		{"heard, 230 ms late, quieter, over room noise", withBg(around(delayed)), ptr(true), -40, true},
		{"cable cut: room noise only", withBg(around(make([]int16, len(played)))), ptr(false), -60, true},
		{"muted capture: digital silence", around(make([]int16, len(played))), ptr(false), Floor, true},
		{"no capture", nil, nil, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := New(nil)
			feed(m.Played, played, t0)
			if tc.capt != nil {
				feed(m.Captured, tc.capt, t0.Add(-2*time.Second))
			}
			r := m.Measure(t0, t0.Add(span))
			if tc.want == nil {
				if r != nil {
					t.Fatalf("got %+v, want not measured", r)
				}
				return
			}
			if r == nil {
				t.Fatal("not measured, want a judgement")
			}
			if r.Heard != *tc.want {
				t.Fatalf("heard = %v (corr %.3f), want %v", r.Heard, r.Corr, *tc.want)
			}
			if r.DB < tc.minDB {
				t.Errorf("level %.1f dBFS, want at least %.1f", r.DB, tc.minDB)
			}
			if r.Heard && (r.Lag < 225*time.Millisecond || r.Lag > 235*time.Millisecond) {
				t.Errorf("lag %v, want 230 ms", r.Lag)
			}
			if r.Heard && r.BgDB > r.DB-10 {
				t.Errorf("background %.1f dBFS not below the item's %.1f", r.BgDB, r.DB)
			}
		})
	}

	t.Run("too short", func(t *testing.T) {
		m := New(nil)
		feed(m.Played, played, t0)
		feed(m.Captured, around(played), t0.Add(-2*time.Second))
		if r := m.Measure(t0, t0.Add(MinSpan/2)); r != nil {
			t.Fatalf("got %+v for half a second, want not measured", r)
		}
		if r := m.Measure(t0, t0.Add(span)); r == nil || !r.Heard {
			t.Fatalf("got %+v for the whole item, want heard", r)
		}
	})
	t.Run("volume 0", func(t *testing.T) {
		m := New(nil)
		feed(m.Played, make([]int16, len(played)), t0)
		feed(m.Captured, withBg(around(make([]int16, len(played)))), t0.Add(-2*time.Second))
		if r := m.Measure(t0, t0.Add(span)); r == nil || r.Heard {
			t.Fatalf("got %+v, want measured and not heard", r)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// A track keeps a continuous stream continuous across blocks whose length is
// not a multiple of the decimation, and places a jump where it is.
func TestTrackBlocks(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	tr := newTrack(time.Minute)
	s := make([]int16, 1000)
	for i := range s {
		s[i] = int16(i / factor)
	}
	tr.Add(s[:7], t0)
	tr.Add(s[7:500], t0.Add(7*time.Second/InRate))
	tr.Add(s[500:], t0.Add(500*time.Second/InRate))
	got, held := tr.Span(t0, 1000/factor)
	if held != 1000/factor {
		t.Fatalf("held %d, want %d", held, 1000/factor)
	}
	for i, v := range got {
		if want := float32(i) / 32768; math.Abs(float64(v-want)) > 1e-6 {
			t.Fatalf("sample %d = %v, want %v", i, v*32768, i)
		}
	}
	if u := tr.Until(); absDur(u.Sub(t0.Add(1000*time.Second/InRate))) > time.Microsecond {
		t.Errorf("until %v", u.Sub(t0))
	}
	// A block far later leaves a hole of zeros, not a shift.
	tr.Add(s[:60], t0.Add(time.Second))
	got, _ = tr.Span(t0.Add(time.Second-time.Second/Rate), 3)
	if got[0] != 0 || got[1] != 0 || got[2] != 1.0/32768 {
		t.Errorf("after a jump: %v", got)
	}
}
