package player

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/internal/audiotest"
)

func opusFile(t testing.TB, hz int, seconds float64) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), fmt.Sprintf("t%d.opus", hz))
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
		fmt.Sprintf("sine=frequency=%d:duration=%g", hz, seconds), "-af", "volume=0.5",
		"-c:a", "libopus", "-ar", "48000", "-ac", "1", "-b:a", "32k", "-f", "ogg", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (run make test, which installs it): %v %s", err, b)
	}
	return out
}

func decodeAll(t *testing.T, path string) []int16 {
	s, err := openStream(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	var all []int16
	buf := make([]int16, 1000)
	for {
		n, err := s.read(buf)
		all = append(all, buf[:n]...)
		if errors.Is(err, io.EOF) {
			return all
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestDecode(t *testing.T) {
	pcm := decodeAll(t, opusFile(t, 440, 1.5))
	// Pre-skip and end padding trimmed: exactly the encoded length.
	if d := len(pcm) - 72000; d < -10 || d > 10 {
		t.Errorf("decoded %d samples, want 72000", len(pcm))
	}
	tone := audiotest.Analyze(pcm, Rate)
	if math.Abs(tone.Freq-440) > 2 {
		t.Errorf("decoded tone at %.1f Hz", tone.Freq)
	}
}

func TestDecodeRejectsBadFiles(t *testing.T) {
	good, _ := os.ReadFile(opusFile(t, 440, 1))
	dir := t.TempDir()
	cases := map[string][]byte{
		"empty":     nil,
		"not ogg":   []byte("ID3\x03 this is an mp3, honest"),
		"truncated": good[:len(good)/2],
		"head only": good[:60],
	}
	corrupt := append([]byte(nil), good...)
	for i := 200; i < len(corrupt); i += 7 {
		corrupt[i] ^= 0x5a
	}
	cases["corrupted"] = corrupt
	for name, b := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(p, b, 0o644)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: panic %v", name, r)
				}
			}()
			s, err := openStream(p)
			if err != nil {
				return // refused up front: fine
			}
			defer s.close()
			buf := make([]int16, 4096)
			for i := 0; i < 1000; i++ {
				_, err := s.read(buf)
				if err != nil {
					if name == "truncated" && errors.Is(err, io.EOF) {
						t.Errorf("%s: read to a clean EOF, want an error", name)
					}
					return
				}
			}
		}()
	}
	if err := probe(filepath.Join(dir, "not_ogg")); err == nil {
		t.Error("probe accepted a non-Ogg file")
	}
}

func collect(t *testing.T, p *Player, until func([]Event) bool, within time.Duration) []Event {
	t.Helper()
	var evs []Event
	deadline := time.After(within)
	for !until(evs) {
		select {
		case e := <-p.Events():
			evs = append(evs, e)
		case <-deadline:
			t.Fatalf("events so far: %v", summary(evs))
		}
	}
	return evs
}

func summary(evs []Event) []string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type+":"+e.ID)
	}
	return s
}

func has(evs []Event, typ, id string) bool {
	for _, e := range evs {
		if e.Type == typ && e.ID == id {
			return true
		}
	}
	return false
}

func TestTimingAndPreemption(t *testing.T) {
	p, err := New(Config{Output: "silent"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	normal := opusFile(t, 440, 2)
	urgent := opusFile(t, 880, 0.5)
	start := time.Now().Add(300 * time.Millisecond)
	p.Play(Item{ID: "bulletin", Path: normal, PlayAt: start, Volume: -1, Resume: true})
	p.Play(Item{ID: "alarm", Path: urgent, PlayAt: start.Add(time.Second), Priority: 2, Volume: -1})
	p.Play(Item{ID: "later-normal", Path: urgent, PlayAt: start.Add(1100 * time.Millisecond), Volume: -1})
	evs := collect(t, p, func(e []Event) bool { return has(e, "finished", "bulletin") && has(e, "finished", "later-normal") }, 10*time.Second)
	want := []string{"started:bulletin", "interrupted:bulletin", "started:alarm", "finished:alarm", "resumed:bulletin", "finished:bulletin", "started:later-normal", "finished:later-normal"}
	if got := summary(evs); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events:\n got %v\nwant %v", got, want)
	}
	for _, e := range evs {
		switch {
		case e.Type == "started" && e.ID == "bulletin":
			if d := e.At.Sub(start); d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("bulletin started %v from play_at, want on the sample", d)
			}
		case e.Type == "started" && e.ID == "alarm":
			if d := e.At.Sub(start.Add(time.Second)); d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("alarm cut in %v from its play_at", d)
			}
		case e.Type == "finished" && e.ID == "bulletin":
			if e.Played < 1990*time.Millisecond || e.Played > 2010*time.Millisecond {
				t.Errorf("bulletin played %v in all, want 2 s (resumed where it stopped)", e.Played)
			}
		}
	}
}

func TestEqualPriorityReplacesAndStop(t *testing.T) {
	p, _ := New(Config{Output: "silent"})
	defer p.Close()
	f := opusFile(t, 440, 3)
	p.Play(Item{ID: "a", Path: f, Volume: -1})
	time.Sleep(300 * time.Millisecond)
	p.Play(Item{ID: "b", Path: f, Volume: -1, Repeat: 1, Gap: time.Second})
	time.Sleep(300 * time.Millisecond)
	if now := p.Now(); now == nil || now.ID != "b" {
		t.Fatalf("Now = %+v, want b", now)
	}
	p.Stop("")
	evs := collect(t, p, func(e []Event) bool { return has(e, "interrupted", "b") }, 5*time.Second)
	want := "started:a interrupted:a started:b interrupted:b"
	if got := strings.Join(summary(evs), " "); got != want {
		t.Errorf("events %q, want %q", got, want)
	}
	if !strings.HasPrefix(evs[1].Reason, "replaced by b") || evs[3].Reason != "stopped" {
		t.Errorf("reasons %q, %q", evs[1].Reason, evs[3].Reason)
	}
	if p.Now() != nil {
		t.Error("still playing after Stop")
	}
}

// The real thing: the player in a child process plays through oto and ALSA
// into a PulseAudio null sink; the recording holds the tone, starting where
// the player said it would.
func TestPlaysThroughALSA(t *testing.T) {
	if os.Getenv("PLAYER_CHILD") == "1" {
		childPlay()
		return
	}
	pulse := audiotest.StartPulse(t, "p1")
	f := opusFile(t, 660, 1)
	rec := pulse.Record(t, "p1")
	playAt := time.Now().Add(2500 * time.Millisecond)
	cmd := exec.Command(os.Args[0], "-test.run=^TestPlaysThroughALSA$", "-test.v")
	cmd.Env = append(append(os.Environ(), pulse.Env("p1")...), "PLAYER_CHILD=1", "PLAYER_FILE="+f,
		fmt.Sprintf("PLAYER_AT=%d", playAt.UnixNano()))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	samples, _ := rec.Stop()
	tone := audiotest.Analyze(samples, audiotest.Rate)
	if !tone.Found {
		t.Fatalf("nothing recorded; child said:\n%s", out)
	}
	var reported int64
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "STARTED "); ok {
			fmt.Sscan(v, &reported)
		}
	}
	if !strings.Contains(string(out), "BACKEND alsa") {
		t.Errorf("child did not use the sound device:\n%s", out)
	}
	onset := rec.Started.Add(time.Duration(tone.Onset) * time.Second / audiotest.Rate)
	t.Logf("recorded %.1f Hz for %.3f s; onset - play_at = %v; reported first sample - play_at = %v",
		tone.Freq, float64(tone.Length)/audiotest.Rate, onset.Sub(playAt), time.Unix(0, reported).Sub(playAt))
	if math.Abs(tone.Freq-660) > 7 || math.Abs(float64(tone.Length)/audiotest.Rate-1) > 0.05 {
		t.Errorf("recorded %+v, want 1 s at 660 Hz", tone)
	}
	if d := onset.Sub(playAt); d < -150*time.Millisecond || d > 300*time.Millisecond {
		t.Errorf("tone began %v from play_at", d)
	}
}

func childPlay() {
	p, err := New(Config{Output: "oto"})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("BACKEND", p.Backend())
	var at int64
	fmt.Sscan(os.Getenv("PLAYER_AT"), &at)
	if err := p.Play(Item{ID: "x", Path: os.Getenv("PLAYER_FILE"), PlayAt: time.Unix(0, at), Volume: 100}); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	for e := range p.Events() {
		if e.Type == "started" {
			fmt.Println("STARTED", e.At.UnixNano())
		}
		if e.Type == "finished" {
			p.mu.Lock()
			fmt.Println("UNDERRUNS", p.underruns, "TOTAL", p.total)
			p.mu.Unlock()
			time.Sleep(300 * time.Millisecond) // let the device drain
			p.Close()
			os.Exit(0)
		}
	}
}
