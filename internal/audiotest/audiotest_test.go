package audiotest

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func sine(hz float64, rate int, on, n, total int, amp float64) []int16 {
	s := make([]int16, total)
	for i := 0; i < n; i++ {
		s[on+i] = int16(amp * 32767 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
	}
	return s
}

func TestAnalyzeSynthetic(t *testing.T) {
	for _, hz := range []float64{220, 440, 1000, 3150} {
		s := sine(hz, Rate, 12000, 48000, 80000, 0.5)
		got := Analyze(s, Rate)
		if !got.Found || math.Abs(got.Freq-hz) > hz*0.005 {
			t.Errorf("%v Hz: freq %.2f", hz, got.Freq)
		}
		if got.Onset < 12000 || got.Onset > 12000+Rate/int(hz) || math.Abs(float64(got.Length-48000)) > float64(Rate)/hz*2 {
			t.Errorf("%v Hz: onset %d length %d, want ~12000 and ~48000", hz, got.Onset, got.Length)
		}
		if math.Abs(got.RMS-0.5/math.Sqrt2) > 0.01 {
			t.Errorf("%v Hz: rms %.3f", hz, got.RMS)
		}
	}
	if Analyze(make([]int16, 1000), Rate).Found {
		t.Error("silence analysed as a tone")
	}
}

// Two sinks: a tone played into one (through ALSA's default device, as the
// node plays) is recorded there and not in the other.
func TestPulseSinksAreSeparate(t *testing.T) {
	p := StartPulse(t, "a", "b")
	wav := filepath.Join(t.TempDir(), "t.wav")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1:sample_rate=48000",
		"-af", "volume=0.5", "-ac", "1", "-c:a", "pcm_s16le", wav).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (run make test): %v %s", err, out)
	}
	ra, rb := p.Record(t, "a"), p.Record(t, "b")
	cmd := exec.Command("aplay", "-q", wav)
	cmd.Env = append(os.Environ(), p.Env("a")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aplay through ALSA->pulse: %v %s", err, out)
	}
	time.Sleep(300 * time.Millisecond)
	a, _ := ra.Stop()
	b, _ := rb.Stop()
	ta, tb := Analyze(a, Rate), Analyze(b, Rate)
	if !ta.Found || math.Abs(ta.Freq-440) > 4 || math.Abs(float64(ta.Length)/Rate-1) > 0.05 {
		t.Errorf("sink a: %+v, want a 1 s 440 Hz tone", ta)
	}
	if tb.Found {
		t.Errorf("sink b recorded sound: %+v", tb)
	}
}
