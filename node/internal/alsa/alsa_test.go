package alsa

import (
	"strings"
	"testing"
	"time"
)

// A device that does not exist is refused with the name of each one tried.
func TestOpenNamesEachDeviceTried(t *testing.T) {
	_, _, err := Open([]string{"no-such-pcm-1", "no-such-pcm-2"}, Capture, 1, 48000, 200*time.Millisecond)
	if err == nil {
		t.Fatal("opened a device that does not exist")
	}
	for _, want := range []string{"no capture device", `"no-such-pcm-1"`, `"no-such-pcm-2"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
}

// ALSA's null PCM takes the parameters, gives a period, and takes writes
// of whole stereo frames; its delay is answered.
func TestNullPlayback(t *testing.T) {
	p, period, err := Open([]string{"null"}, Playback, 2, 48000, 100*time.Millisecond)
	if err != nil {
		t.Fatalf("ALSA's null device (alsa-lib's own configuration): %v", err)
	}
	defer p.Close()
	if period <= 0 || period > 48000/10 {
		t.Errorf("period %d frames for a 100 ms buffer", period)
	}
	if err := p.Write(make([]int16, 2*period)); err != nil {
		t.Errorf("write: %v", err)
	}
	if _, _, ok := p.Delay(); !ok {
		t.Error("no delay after a write")
	}
}
