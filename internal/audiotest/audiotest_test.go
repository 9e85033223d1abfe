package audiotest

import (
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// sine writes n samples of a hz tone at amplitude amp (1 = full scale) into
// s from index on.
func sine(s []int16, hz float64, rate, on, n int, amp float64) []int16 {
	for i := 0; i < n; i++ {
		s[on+i] += int16(amp * 32767 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
	}
	return s
}

func TestAnalyzeSynthetic(t *testing.T) {
	for _, hz := range []float64{220, 440, 660, 1000, 3150} {
		s := sine(make([]int16, 80000), hz, Rate, 12000, 48000, 0.5)
		got := Analyze(s, Rate)
		period := float64(Rate) / hz
		if !got.Found || math.Abs(got.Freq-hz) > hz*0.002 {
			t.Errorf("%v Hz: freq %.2f", hz, got.Freq)
		}
		if got.Onset < 12000 || float64(got.Onset) > 12000+period/2 || math.Abs(float64(got.Length-48000)) > period {
			t.Errorf("%v Hz: onset %d length %d, want ~12000 and ~48000", hz, got.Onset, got.Length)
		}
		if math.Abs(got.RMS-0.5/math.Sqrt2) > 0.01 {
			t.Errorf("%v Hz: rms %.3f", hz, got.RMS)
		}
		if d := Dominant(s[got.Onset:got.Onset+got.Length], Rate, 50, 5000); math.Abs(d-hz) > hz*0.002 {
			t.Errorf("%v Hz: dominant %.2f", hz, d)
		}
	}
	if Analyze(make([]int16, 1000), Rate).Found {
		t.Error("silence analysed as a tone")
	}
}

func TestDominantInNoise(t *testing.T) {
	s := sine(make([]int16, Rate), 523.25, Rate, 0, Rate, 0.2)
	s = sine(s, 1500, Rate, 0, Rate, 0.05) // a weaker second tone
	r := rand.New(rand.NewPCG(1, 2))
	for i := range s {
		s[i] += int16(r.NormFloat64() * 1500)
	}
	if d := Dominant(s, Rate, 50, 5000); math.Abs(d-523.25) > 1 {
		t.Errorf("dominant %.2f Hz, want 523.25", d)
	}
}

func TestSegments(t *testing.T) {
	// 0.5 s of 440, 0.3 s silence, 0.4 s of 880, 0.05 s silence (too short
	// to split), 0.2 s of 880.
	s := make([]int16, 2*Rate)
	sine(s, 440, Rate, 4800, 24000, 0.5)
	sine(s, 880, Rate, 43200, 19200, 0.5)
	sine(s, 880, Rate, 64800, 9600, 0.5)
	got := Segments(s, Rate, 100*time.Millisecond)
	if len(got) != 2 {
		t.Fatalf("%d segments, want 2: %+v", len(got), got)
	}
	want := []struct {
		on, n int
		hz    float64
	}{{4800, 24000, 440}, {43200, 64800 + 9600 - 43200, 880}}
	for i, w := range want {
		g := got[i]
		if abs(g.Onset-w.on) > 60 || abs(g.Length-w.n) > 120 {
			t.Errorf("segment %d: onset %d length %d, want %d %d", i, g.Onset, g.Length, w.on, w.n)
		}
		if d := Dominant(s[g.Onset:g.Onset+g.Length], Rate, 50, 5000); math.Abs(d-w.hz) > 1 {
			t.Errorf("segment %d: %.1f Hz, want %v", i, d, w.hz)
		}
	}
}

func abs(x int) int { return max(x, -x) }

// Two sinks: a 1 s tone played into one through ALSA's default device (as
// the node plays: ALSA -> pulse plugin -> sink) is recorded there, at about
// the time it was played, and not in the other.
func TestPulseSinksAreSeparate(t *testing.T) {
	p := StartPulse(t, "a", "b")
	dir := t.TempDir()
	wav := filepath.Join(dir, "t.wav")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "sine=frequency=440:duration=1:sample_rate=48000", "-af", "volume=0.5", "-ac", "1",
		"-c:a", "pcm_s16le", wav).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (run make test, which installs it): %v %s", err, out)
	}
	ra, rb := p.Record(t, "a"), p.Record(t, "b")
	cmd := exec.Command("aplay", "-q", wav)
	cmd.Env = append(os.Environ(), p.Env("a")...)
	launched := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aplay through ALSA->pulse: %v %s", err, out)
	}
	took := time.Since(launched)
	time.Sleep(300 * time.Millisecond)
	a, err := ra.Stop()
	if err != nil {
		t.Error(err)
	}
	b, err := rb.Stop()
	if err != nil {
		t.Error(err)
	}
	ta, tb := Analyze(a, Rate), Analyze(b, Rate)
	if !ta.Found || math.Abs(ta.Freq-440) > 4 || math.Abs(float64(ta.Length)/Rate-1) > 0.05 {
		t.Errorf("sink a: %+v, want a 1 s 440 Hz tone", ta)
	}
	if tb.Found {
		t.Errorf("sink b recorded sound: %+v", tb)
	}
	onset := ra.TimeOf(ta.Onset)
	t.Logf("sink a: %.2f Hz (Goertzel %.2f), %.3f s, rms %.3f; onset %v after aplay was launched; aplay ran %v",
		ta.Freq, Dominant(a[ta.Onset:], Rate, 50, 5000), float64(ta.Length)/Rate, ta.RMS, onset.Sub(launched), took)
	// Real time: a 1 s file takes about 1 s to play, and its sound falls
	// inside the time aplay ran (loose bounds, this is a shared machine).
	if took < 800*time.Millisecond {
		t.Errorf("aplay played 1 s in %v: the sink does not pace", took)
	}
	if d := onset.Sub(launched); d < -50*time.Millisecond || d > took {
		t.Errorf("tone recorded %v after aplay was launched, which ran %v", d, took)
	}
}

// Lag finds a shift of noise to the sample, and not of anything else.
func TestLagSynthetic(t *testing.T) {
	noise := make([]int16, 3*Rate/10)
	x := uint32(1)
	for i := range noise {
		x = x*1664525 + 1013904223
		noise[i] = int16(x >> 17)
	}
	s := append(make([]int16, 137), noise...)
	lag, score := Lag(noise, s, 1000, 4800, 480)
	if lag != 137 || score < 0.99 {
		t.Errorf("Lag = %d (score %.3f), want 137", lag, score)
	}
	if lag, _ := Lag(s, noise, 1137, 4800, 480); lag != -137 {
		t.Errorf("reverse Lag = %d, want -137", lag)
	}
}

// StartPulseMix: a sink's sound lands in its own channel of the shared
// recording, and nowhere else.
func TestPulseMixChannels(t *testing.T) {
	p := StartPulseMix(t, "a", "b", "c")
	dir := t.TempDir()
	wav := filepath.Join(dir, "n.wav")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "anoisesrc=d=0.5:c=white:seed=7:a=0.5:r=48000", "-ac", "1", "-c:a", "pcm_s16le", wav).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	rec := p.RecordMix(t)
	cmd := exec.Command("aplay", "-q", wav)
	cmd.Env = append(os.Environ(), p.Env("b")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aplay into b: %v %s", err, out)
	}
	time.Sleep(300 * time.Millisecond)
	all, err := rec.Stop()
	if err != nil {
		t.Fatal(err)
	}
	for c, name := range []string{"a", "b", "c"} {
		got := Analyze(Channel(all, c, 3), Rate)
		if want := name == "b"; got.Found != want {
			t.Errorf("channel %d (%s): sound %v, want %v (%+v)", c, name, got.Found, want, got)
		}
	}
}
