package heard

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// speechLike is a deterministic signal with speech's traits for the
// comparison: a voiced buzz whose pitch wanders, under a syllable-rate
// envelope with pauses, never repeating itself.
func speechLike(n, rate int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	s := make([]float32, n)
	var phase, env, target float64
	pitch := 110 + r.Float64()*60
	for i := range s {
		if i%(rate/5) == 0 { // a new syllable, or a pause, five times a second
			target = 0
			if r.Float64() < 0.75 {
				target = 0.3 + 0.7*r.Float64()
			}
			pitch = max(80, min(250, pitch+r.NormFloat64()*20))
		}
		env += (target - env) * 0.002
		phase += 2 * math.Pi * pitch / float64(rate)
		var v float64
		for k := 1; k <= 8; k++ { // harmonics up to ~2 kHz, falling off
			v += math.Sin(float64(k)*phase) / float64(k)
		}
		v += 0.3 * r.NormFloat64() // breath
		s[i] = float32(0.15 * env * v)
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

	// A sink that underran at 3 s plays the rest 80 ms late: each stretch
	// is matched at its own lag.
	jumped := make([]int16, len(played)+InRate)
	copy(jumped[InRate*230/1000:], pcm(item[:3*Rate], 0.3))
	copy(jumped[InRate*(230+3000+80)/1000:], pcm(item[3*Rate:], 0.3))
	jumped = jumped[:len(played)]

	tests := []struct {
		name      string
		capt      []int16 // from t0-2s, nil = nothing captured
		want      *bool
		minDB     float64
		wantBgLow bool
	}{
		{"heard, 230 ms late, quieter, over room noise", withBg(around(delayed)), ptr(true), -40, true},
		{"heard, the capture 80 ms later from halfway", withBg(around(jumped)), ptr(true), -40, true},
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
			if r.Heard && (r.Lag < 225*time.Millisecond || r.Lag > 315*time.Millisecond) {
				t.Errorf("lag %v, want 230 ms (or 310 after the jump)", r.Lag)
			}
			if r.Heard && r.Corr < 0.8 {
				t.Errorf("corr %.3f, want at least 0.8", r.Corr)
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
// not a multiple of the decimation and whose dates jitter by a few hundred
// µs, and places a real jump where it is.
func TestTrackBlocks(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	s := pcm(speechLike(Rate/4, Rate, 3), 1)
	whole := newTrack(time.Minute)
	whole.Add(s, t0)
	want, _ := whole.Span(t0, len(s)/factor)

	tr := newTrack(time.Minute)
	tr.Add(s[:7], t0)
	tr.Add(s[7:500], t0.Add(7*time.Second/InRate+300*time.Microsecond))
	tr.Add(s[500:], t0.Add(500*time.Second/InRate-400*time.Microsecond))
	got, held := tr.Span(t0, len(s)/factor)
	if held != len(s)/factor {
		t.Fatalf("held %d, want %d", held, len(s)/factor)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sample %d = %v, want %v (as one block)", i, got[i], want[i])
		}
	}
	end := t0.Add(time.Duration(len(s)) * time.Second / InRate)
	if u := tr.Until(); absDur(u.Sub(end)) > time.Microsecond {
		t.Errorf("until %v, want %v", u.Sub(t0), end.Sub(t0))
	}
	// A block a second later leaves a hole of zeros, not a shift.
	tr.Add(s[:60], end.Add(time.Second))
	got, _ = tr.Span(end.Add(time.Second-2*time.Second/Rate), 3)
	if got[0] != 0 || got[1] != 0 || got[2] == 0 {
		t.Errorf("after a jump: %v, want two zeros, then sound", got)
	}
}

// BenchmarkMeasure is the work at the end of a long item: its last 10 s
// against 14 s of capture.
func BenchmarkMeasure(b *testing.B) {
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	item := pcm(speechLike(30*Rate, Rate, 5), 1)
	m := New(nil)
	feed(m.Played, item, t0)
	feed(m.Captured, item, t0)
	b.ResetTimer()
	for b.Loop() {
		if r := m.Measure(t0.Add(5*time.Second), t0.Add(27*time.Second)); r == nil || !r.Heard {
			b.Fatalf("got %+v", r)
		}
	}
}
