package heard

import (
	"context"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/internal/audiotest"
	"github.com/communeradio/radio/node/internal/player"
)

// speechFile is an Ogg Opus file of a Vietnamese bulletin spoken by
// espeak-ng: speech, with its pauses, is what a capture has to recognise,
// and it matches itself at one lag only.
func speechFile(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	wav, out := filepath.Join(dir, "tin.wav"), filepath.Join(dir, "tin.opus")
	if b, err := exec.Command("espeak-ng", "-v", "vi", "-w", wav, "Thông báo của Ủy ban nhân dân xã An Phú về lịch tiêm chủng.").CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng (run make test, which installs it): %v %s", err, b)
	}
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-i", wav,
		"-c:a", "libopus", "-ar", "48000", "-ac", "1", "-b:a", "32k", "-f", "ogg", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (run make test, which installs it): %v %s", err, b)
	}
	return out
}

// The node's real path: the player writes to ALSA (PulseAudio's plugin) into
// a null sink, the capture reads the sink's monitor through ALSA as well.
// Played through: heard, at a small lag. The monitor muted (a cut speaker
// cable): played, measured, not heard.
func TestCaptureHearsThePlayer(t *testing.T) {
	pulse := audiotest.StartPulse(t, "box")
	for _, kv := range append(pulse.Env("box"), "PULSE_SOURCE=box.monitor") {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m := New(log)
	if err := m.Capture(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	pl, err := player.New(player.Config{Logger: log, Output: "oto", Tap: m.Played})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	events := m.Watch(ctx, pl.Events())
	// PulseAudio takes a moment to start a capture stream here, and the
	// capture dates its frames only once it settled.
	deadline := time.Now().Add(20 * time.Second)
	for m.captured.Until().IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("the capture delivered nothing")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(settle)
	f := speechFile(t)
	play := func(id string) *Result {
		t.Helper()
		if err := pl.Play(player.Item{ID: id, Media: id, Path: f, PlayAt: time.Now().Add(500 * time.Millisecond), Volume: 100}); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case ev := <-events:
				if ev.ID == id && ev.Type == player.Finished {
					if ev.Heard == nil {
						t.Fatalf("%s: not measured", id)
					}
					t.Logf("%s: %+v", id, *ev.Heard)
					return ev.Heard
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("%s: no finished event", id)
			}
		}
	}
	r := play("loud")
	if !r.Heard || r.Corr < 0.8 || r.DB < -30 || r.DB <= r.BgDB+20 {
		t.Errorf("played into the captured sink: %+v, want heard, corr >= 0.8, level well above the background", *r)
	}
	if math.Abs(float64(r.Lag)) > float64(50*time.Millisecond) {
		t.Errorf("lag %v: the capture and the player are dated apart", r.Lag)
	}
	if b, err := exec.Command("pactl", "set-source-mute", "box.monitor", "1").CombinedOutput(); err != nil {
		t.Fatalf("pactl: %v %s", err, b)
	}
	r = play("muted")
	if r.Heard || math.Abs(r.Corr) >= CorrMin {
		t.Errorf("capture muted: %+v, want not heard", *r)
	}
}
