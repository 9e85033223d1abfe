package player

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/communeradio/radio/internal/audiotest"
)

var (
	fileMu sync.Mutex
	files  = map[string]string{}
)

// opusFile makes (once per test binary) a tone in the delivery format, the
// way the controller transcodes uploads.
func opusFile(t testing.TB, hz int, seconds float64) string {
	t.Helper()
	fileMu.Lock()
	defer fileMu.Unlock()
	key := fmt.Sprintf("%d-%g", hz, seconds)
	if f, ok := files[key]; ok {
		return f
	}
	dir, err := os.MkdirTemp("", "playertest")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, key+".opus")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
		fmt.Sprintf("sine=frequency=%d:duration=%g:sample_rate=48000", hz, seconds),
		"-c:a", "libopus", "-ar", "48000", "-ac", "1", "-b:a", "32k", "-f", "ogg", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (run make test, which installs it): %v %s", err, b)
	}
	files[key] = out
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, f := range files {
		os.RemoveAll(filepath.Dir(f))
	}
	os.Exit(code)
}

func decodeAll(t *testing.T, path string) []int16 {
	t.Helper()
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
	for _, c := range []struct {
		hz      int
		seconds float64
	}{{440, 1}, {440, 1.5}, {1000, 0.25}, {300, 7}} {
		t.Run(fmt.Sprintf("%dHz-%gs", c.hz, c.seconds), func(t *testing.T) {
			pcm := decodeAll(t, opusFile(t, c.hz, c.seconds))
			// Pre-skip and end padding trimmed: exactly the encoded length.
			if want := int(c.seconds * Rate); len(pcm) != want {
				t.Errorf("decoded %d samples, want %d", len(pcm), want)
			}
			tone := audiotest.Analyze(pcm, Rate)
			hz := audiotest.Dominant(pcm, Rate, 50, 5000)
			if math.Abs(tone.Freq-float64(c.hz)) > float64(c.hz)/200 || math.Abs(hz-float64(c.hz)) > float64(c.hz)/200 {
				t.Errorf("decoded tone at %.2f Hz (zero crossings), %.2f Hz (Goertzel), want %d", tone.Freq, hz, c.hz)
			}
			if math.Abs(tone.RMS-0.125/math.Sqrt2) > 0.01 { // ffmpeg's sine is at 1/8 of full scale
				t.Errorf("rms %.4f", tone.RMS)
			}
		})
	}
}

// pageEnds are the offsets just past each Ogg page of b.
func pageEnds(t *testing.T, b []byte) []int {
	var ends []int
	for off := 0; off+27 <= len(b); {
		if string(b[off:off+4]) != "OggS" {
			t.Fatalf("no page at %d", off)
		}
		n := int(b[off+26])
		size := 27 + n
		for _, s := range b[off+27 : off+27+n] {
			size += int(s)
		}
		off += size
		ends = append(ends, off)
	}
	return ends
}

func TestDecodeRejectsBadFiles(t *testing.T) {
	good, err := os.ReadFile(opusFile(t, 440, 1))
	if err != nil {
		t.Fatal(err)
	}
	ends := pageEnds(t, good)
	flip := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0x5a
		return b
	}
	garbage := bytes.Clone(good)
	for i := ends[1] + 40; i < len(garbage); i += 7 {
		garbage[i] ^= 0x5a
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not ogg", []byte("ID3\x03 this is an mp3, honest")},
		{"wav", append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), make([]byte, 100)...)},
		{"head only", good[:ends[0]]},
		{"headers only", good[:ends[1]]},
		{"truncated mid-page", good[:len(good)/2]},
		{"truncated at a page end", good[:ends[len(ends)-2]]},
		{"one flipped byte in the audio", flip(ends[1] + 60)},
		{"flipped byte in OpusHead", flip(30)},
		{"much garbage", garbage},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := openStream(p)
			if err == nil {
				defer s.close()
				buf := make([]int16, 4096)
				for range 1000 {
					if _, err = s.read(buf); err != nil {
						break
					}
				}
			}
			if err == nil || errors.Is(err, io.EOF) {
				t.Errorf("decoded to the end without an error (%v)", err)
			} else {
				t.Logf("%v", err)
			}
		})
	}
	pl := newPlayer(slog.Default())
	for _, name := range []string{"not_ogg", "headers_only", "flipped_byte_in_OpusHead"} {
		if err := pl.Play(Item{ID: name, Path: filepath.Join(dir, name)}); err == nil {
			t.Errorf("Play accepted %s", name)
		}
	}
	if err := pl.Play(Item{ID: "missing", Path: filepath.Join(dir, "nothing here")}); err == nil {
		t.Error("Play accepted a missing file")
	}
}

// FuzzDecode: no input makes the demuxer or decoder crash or hang.
func FuzzDecode(f *testing.F) {
	good, err := os.ReadFile(opusFile(f, 440, 0.2))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/3])
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "x")
		os.WriteFile(p, b, 0o644)
		s, err := openStream(p)
		if err != nil {
			return
		}
		defer s.close()
		buf := make([]int16, 4096)
		for range 10000 {
			if _, err := s.read(buf); err != nil {
				return
			}
		}
		t.Fatal("no end after 10000 reads")
	})
}

// manual drives a player's mixer by hand in simulated time: sample k is
// heard at t0 + k/Rate exactly, and every source is given time to decode
// ahead before each pull, so the output is sample-exact and repeatable.
type manual struct {
	t   *testing.T
	p   *Player
	t0  time.Time
	out []int16
}

func newManual(t *testing.T) *manual {
	m := &manual{t: t, p: newPlayer(slog.Default()), t0: time.Now()}
	m.pull(Rate / 100) // first observation anchors the clock
	t.Cleanup(func() { m.p.Close() })
	return m
}

func (m *manual) at(sample int) time.Time {
	return m.t0.Add(time.Duration(sample) * time.Second / Rate)
}

// pull runs the mixer for n more samples, 10 ms at a time.
func (m *manual) pull(n int) {
	buf := make([]int16, Rate/100)
	for n > 0 {
		m.settle()
		k := min(n, len(buf))
		m.p.fill(buf[:k], m.at(len(m.out)))
		m.out = append(m.out, buf[:k]...)
		n -= k
	}
	if m.p.underruns > 0 {
		m.t.Fatalf("%d samples of underrun", m.p.underruns)
	}
}

func (m *manual) settle() {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m.p.mu.Lock()
		ok := true
		for _, e := range append(append([]*entry{m.p.cur}, m.p.pending...), m.p.paused...) {
			if e != nil && e.src != nil && !e.src.full() {
				ok = false
			}
		}
		m.p.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
	m.t.Fatal("decoder stuck")
}

func (m *manual) events() []Event {
	var evs []Event
	for {
		m.p.evMu.Lock()
		q := m.p.evq
		m.p.evq = nil
		m.p.evMu.Unlock()
		if len(q) == 0 {
			return evs
		}
		evs = append(evs, q...)
	}
}

func (m *manual) play(it Item) {
	m.t.Helper()
	if it.Volume == 0 {
		it.Volume = -1
	}
	if err := m.p.Play(it); err != nil {
		m.t.Fatal(err)
	}
}

func summary(evs []Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type+":"+e.ID)
	}
	return strings.Join(s, " ")
}

// segment checks that out[from:to] holds a tone of hz, and nothing sounds
// right before from (a 1 ms tolerance at each end).
func (m *manual) segment(name string, from, to int, hz float64) {
	m.t.Helper()
	const tol = Rate / 1000
	seg := m.out[from+tol : to-tol]
	if got := audiotest.Dominant(seg, Rate, 50, 5000); math.Abs(got-hz) > hz/100 {
		m.t.Errorf("%s: samples %d..%d at %.1f Hz, want %v", name, from, to, got, hz)
	}
	if tone := audiotest.Analyze(m.out[from-tol:to], Rate); !tone.Found || tone.Onset > 2*tol {
		m.t.Errorf("%s: sound begins %d samples after %d (%+v)", name, tone.Onset-tol, from, tone)
	}
}

func TestMixerSplicesAtPlayAt(t *testing.T) {
	m := newManual(t)
	a, b := opusFile(t, 440, 1), opusFile(t, 880, 0.3)
	const aAt, bAt = 24000, 38400 // 0.5 s, 0.8 s
	m.play(Item{ID: "A", Path: a, PlayAt: m.at(aAt), Resume: true})
	m.play(Item{ID: "B", Path: b, PlayAt: m.at(bAt), Priority: 2})
	m.pull(2 * Rate)
	m.segment("A before B", aAt, bAt, 440)
	m.segment("B", bAt, bAt+14400, 880)
	m.segment("A resumed", bAt+14400, bAt+14400+(Rate-(bAt-aAt)), 440)
	if tone := audiotest.Analyze(m.out, Rate); tone.Onset < aAt-5 || tone.Onset > aAt+48 || math.Abs(float64(tone.Onset+tone.Length-(aAt+Rate+14400))) > 48 {
		t.Errorf("sound from %d for %d samples, want from %d to %d", tone.Onset, tone.Length, aAt, aAt+Rate+14400)
	}
	evs := m.events()
	if got, want := summary(evs), "started:A interrupted:A started:B finished:B resumed:A finished:A"; got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
	for i, w := range []struct {
		sample int
		played time.Duration
		reason string
	}{{aAt, 0, ""}, {bAt, 300 * time.Millisecond, "preempted by B"}, {bAt, 0, ""},
		{bAt + 14400, 300 * time.Millisecond, ""}, {bAt + 14400, 300 * time.Millisecond, ""}, {aAt + Rate + 14400, time.Second, ""}} {
		e := evs[i]
		if d := e.At.Sub(m.at(w.sample)); d < -50*time.Microsecond || d > 50*time.Microsecond || e.Played != w.played || e.Reason != w.reason {
			t.Errorf("%s:%s at %v from sample %d, played %v, reason %q; want played %v, reason %q",
				e.Type, e.ID, d, w.sample, e.Played, e.Reason, w.played, w.reason)
		}
	}
}

func TestMixerRepeatGapAndVolume(t *testing.T) {
	m := newManual(t)
	f := opusFile(t, 660, 0.3)
	m.play(Item{ID: "r", Path: f, PlayAt: m.at(4800), Repeat: 2, Gap: 200 * time.Millisecond, Volume: 100})
	m.pull(2 * Rate)
	segs := audiotest.Segments(m.out, Rate, 100*time.Millisecond)
	if len(segs) != 3 {
		t.Fatalf("%d sounding parts, want 3: %+v", len(segs), segs)
	}
	for i, s := range segs {
		want := 4800 + i*(14400+9600)
		if abs(s.Onset-want) > 48 || abs(s.Length-14400) > 96 {
			t.Errorf("play %d: samples %d+%d, want %d+14400", i, s.Onset, s.Length, want)
		}
	}
	evs := m.events()
	if got := summary(evs); got != "started:r finished:r" {
		t.Errorf("events %q", got)
	}
	if len(evs) == 2 && evs[1].Played != 1300*time.Millisecond {
		t.Errorf("played %v, want 1.3 s", evs[1].Played)
	}

	// Software volume: the player's volume for Volume -1, ramping.
	m.out = m.out[:0]
	m.p.SetVolume(100)
	m.play(Item{ID: "v", Path: opusFile(t, 440, 1)})
	m.pull(Rate / 2)
	m.p.SetVolume(25)
	m.pull(Rate / 2)
	loud := audiotest.Analyze(m.out[Rate/10:Rate*4/10], Rate).RMS
	quiet := audiotest.Analyze(m.out[Rate*6/10:Rate*9/10], Rate).RMS
	if r := quiet / loud; math.Abs(r-0.25) > 0.01 {
		t.Errorf("volume 100 -> 25 scaled the sound by %.3f", r)
	}
}

func TestMixerPriorities(t *testing.T) {
	f := opusFile(t, 440, 1)
	short := opusFile(t, 880, 0.3)
	cases := []struct {
		name  string
		items []Item // PlayAt in samples via Gap field below
		at    []int
		want  string
	}{
		{"higher cuts in, no resume", []Item{{ID: "n", Path: f}, {ID: "e", Path: short, Priority: 2}}, []int{0, 9600},
			"started:n interrupted:n started:e finished:e"},
		{"equal replaces", []Item{{ID: "a", Path: f, Resume: true}, {ID: "b", Path: short}}, []int{0, 9600},
			"started:a interrupted:a started:b finished:b"},
		{"lower waits for the end", []Item{{ID: "e", Path: short, Priority: 2}, {ID: "n", Path: short}}, []int{0, 4800},
			"started:e finished:e started:n finished:n"},
		{"waiting equal queues behind a resumed one", []Item{{ID: "a", Path: f, Resume: true}, {ID: "e", Path: short, Priority: 2}, {ID: "b", Path: short}},
			[]int{0, 4800, 9600}, "started:a interrupted:a started:e finished:e resumed:a finished:a started:b finished:b"},
		{"priority over normal, under emergency", []Item{{ID: "n", Path: f, Resume: true}, {ID: "p", Path: f, Priority: 1, Resume: true}, {ID: "e", Path: short, Priority: 2}},
			[]int{0, 4800, 9600}, "started:n interrupted:n started:p interrupted:p started:e finished:e resumed:p finished:p resumed:n finished:n"},
		{"two due together: the later Play stays", []Item{{ID: "x", Path: short}, {ID: "y", Path: short}}, []int{4800, 4800},
			"interrupted:x started:y finished:y"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newManual(t)
			for i, it := range c.items {
				it.PlayAt = m.at(len(m.out) + c.at[i])
				m.play(it)
			}
			m.pull(4 * Rate)
			evs := m.events()
			if got := summary(evs); got != c.want {
				t.Errorf("events\n got %q\nwant %q", got, c.want)
			}
			// Sound without a hole between items: the end comes when all was played.
			played := map[string]time.Duration{} // Played is per item, cumulative
			for _, e := range evs {
				played[e.ID] = e.Played
			}
			var total time.Duration
			for _, d := range played {
				total += d
			}
			tone := audiotest.Analyze(m.out, Rate)
			if d := time.Duration(tone.Length)*time.Second/Rate - total; d < -2*time.Millisecond || d > 2*time.Millisecond {
				t.Errorf("%v of sound, events account for %v", time.Duration(tone.Length)*time.Second/Rate, total)
			}
		})
	}
}

func abs(x int) int { return max(x, -x) }

// The silent backend keeps real time: play_at is honoured by the wall clock
// and events arrive on the channel.
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

func has(evs []Event, typ, id string) bool {
	for _, e := range evs {
		if e.Type == typ && e.ID == id {
			return true
		}
	}
	return false
}

func TestSilentRealTime(t *testing.T) {
	p, err := New(Config{Output: "silent"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Backend() != "silent" {
		t.Errorf("backend %q", p.Backend())
	}
	normal, urgent := opusFile(t, 440, 1), opusFile(t, 880, 0.3)
	called := time.Now()
	start := called.Add(700 * time.Millisecond)
	p.Play(Item{ID: "bulletin", Path: normal, PlayAt: start, Volume: -1, Resume: true})
	p.Play(Item{ID: "alarm", Path: urgent, PlayAt: start.Add(500 * time.Millisecond), Priority: 2, Volume: -1})
	p.Play(Item{ID: "late", Path: urgent, PlayAt: time.Now().Add(-time.Hour), Volume: -1, Priority: 1})
	evs := collect(t, p, func(e []Event) bool { return has(e, Finished, "bulletin") }, 10*time.Second)
	want := "started:late finished:late started:bulletin interrupted:bulletin started:alarm finished:alarm resumed:bulletin finished:bulletin"
	if got := summary(evs); got != want {
		t.Errorf("events:\n got %v\nwant %v", got, want)
	}
	for _, e := range evs {
		switch {
		case e.Type == Started && e.ID == "late":
			if d := e.At.Sub(called); d < 0 || d > 200*time.Millisecond {
				t.Errorf("late item reported started %v after Play, want at once (not its play_at)", d)
			}
		case e.Type == Started && e.ID == "bulletin":
			if d := e.At.Sub(start); d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("bulletin started %v from play_at", d)
			}
		case e.Type == Finished && e.ID == "bulletin":
			if e.Played != time.Second {
				t.Errorf("bulletin played %v in all, want 1 s", e.Played)
			}
			if d := time.Since(e.At); d < -100*time.Millisecond || d > 100*time.Millisecond {
				t.Errorf("finished event %v from its time", d)
			}
		}
	}
}

func TestStopNowAndClose(t *testing.T) {
	p, _ := New(Config{Output: "silent"})
	f := opusFile(t, 440, 1)
	p.Play(Item{ID: "a", Path: f, Volume: -1})
	p.Play(Item{ID: "later", Path: f, Volume: -1, PlayAt: time.Now().Add(time.Hour)})
	time.Sleep(200 * time.Millisecond)
	if now := p.Now(); now == nil || now.ID != "a" || time.Since(now.Since) < 0 {
		t.Fatalf("Now = %+v, want a", now)
	}
	p.Stop("a")
	evs := collect(t, p, func(e []Event) bool { return has(e, Interrupted, "a") }, 5*time.Second)
	if got := summary(evs); got != "started:a interrupted:a" || evs[1].Reason != "stopped" {
		t.Errorf("events %q, reason %q", got, evs[1].Reason)
	}
	if p.Now() != nil {
		t.Error("still playing after Stop")
	}
	p.Stop("")
	evs = collect(t, p, func(e []Event) bool { return has(e, Interrupted, "later") }, 5*time.Second)
	if evs[0].Reason != "stopped" || evs[0].Played != 0 {
		t.Errorf("pending item stopped with %+v", evs[0])
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}
	if err := p.Play(Item{ID: "b", Path: f}); !errors.Is(err, ErrClosed) {
		t.Errorf("Play after Close: %v", err)
	}
}

// The real thing: players in child processes play through oto and ALSA
// into PulseAudio null sinks; the recordings hold the tone, starting where
// the players said, and the two nodes start together.
func TestPlaysThroughALSA(t *testing.T) {
	if os.Getenv("PLAYER_CHILD") == "1" {
		childPlay()
		return
	}
	sinks := []string{"n1", "n2"}
	pulse := audiotest.StartPulse(t, sinks...)
	f := opusFile(t, 660, 1)
	recs := map[string]*audiotest.Recording{}
	for _, s := range sinks {
		recs[s] = pulse.Record(t, s)
	}
	playAt := time.Now().Add(2500 * time.Millisecond)
	outs := map[string][]byte{}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, s := range sinks {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPlaysThroughALSA$", "-test.v")
		cmd.Env = append(append(os.Environ(), pulse.Env(s)...), "PLAYER_CHILD=1", "PLAYER_FILE="+f,
			fmt.Sprintf("PLAYER_AT=%d", playAt.UnixNano()))
		wg.Go(func() {
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("child on %s: %v\n%s", s, err, out)
			}
			mu.Lock()
			outs[s] = out
			mu.Unlock()
		})
	}
	wg.Wait()
	var onsets []time.Time
	for _, s := range sinks {
		samples, err := recs[s].Stop()
		if err != nil {
			t.Error(err)
		}
		out := string(outs[s])
		tone := audiotest.Analyze(samples, audiotest.Rate)
		if !tone.Found {
			t.Errorf("%s: nothing recorded; child said:\n%s", s, out)
			continue
		}
		if !strings.Contains(out, "BACKEND alsa") {
			t.Errorf("%s: child did not use the sound device:\n%s", s, out)
		}
		var reported int64
		var rss string
		for _, l := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "STARTED "); ok {
				fmt.Sscan(v, &reported)
			}
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "STATS "); ok {
				rss = v
			}
		}
		onset := recs[s].TimeOf(tone.Onset)
		onsets = append(onsets, onset)
		hz := audiotest.Dominant(samples[tone.Onset:], audiotest.Rate, 50, 5000)
		t.Logf("%s: recorded %.1f Hz for %.3f s; recorded onset - play_at = %v; reported first sample - play_at = %v; %s",
			s, hz, float64(tone.Length)/audiotest.Rate, onset.Sub(playAt), time.Unix(0, reported).Sub(playAt), rss)
		if math.Abs(hz-660) > 7 || math.Abs(float64(tone.Length)/audiotest.Rate-1) > 0.05 {
			t.Errorf("%s: recorded %.1f Hz for %d samples, want 1 s at 660 Hz", s, hz, tone.Length)
		}
		if d := onset.Sub(time.Unix(0, reported)); d < -150*time.Millisecond || d > 150*time.Millisecond {
			t.Errorf("%s: tone began %v from the reported start", s, d)
		}
	}
	if len(onsets) == 2 {
		t.Logf("start spread between the two nodes: %v", onsets[1].Sub(onsets[0]).Abs())
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
		switch e.Type {
		case Started:
			fmt.Println("STARTED", e.At.UnixNano())
		case Finished:
			status, _ := os.ReadFile("/proc/self/status")
			var rss string
			for _, l := range strings.Split(string(status), "\n") {
				if strings.HasPrefix(l, "VmHWM:") {
					rss = strings.Join(strings.Fields(l)[1:], " ")
				}
			}
			p.mu.Lock()
			fmt.Printf("STATS underruns=%d samples, peak RSS of the test binary %s\n", p.underruns, rss)
			p.mu.Unlock()
			time.Sleep(300 * time.Millisecond) // let the device drain
			p.Close()
			os.Exit(0)
		default:
			fmt.Println("EVENT", e.Type, e.Reason)
			os.Exit(1)
		}
	}
}

// With no sound device, "auto" warns and plays into the silent sink; when
// the device goes away while playing, the player moves there and the item
// still finishes, with its events.
func TestDeviceMissingOrLost(t *testing.T) {
	if os.Getenv("PLAYER_CHILD") == "2" {
		childFallback()
		return
	}
	pulse := audiotest.StartPulse(t, "s")
	f := opusFile(t, 440, 3)
	run := func(env ...string) func() error {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDeviceMissingOrLost$")
		cmd.Env = append(append(append(os.Environ(), pulse.Env("s")...), env...), "PLAYER_CHILD=2", "PLAYER_FILE="+f)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return func() error {
			err := cmd.Wait()
			t.Logf("child said:\n%s", out.String())
			return outErr(err, out.String())
		}
	}
	// No device: the pulse plugin finds no server.
	wait := run("PULSE_SERVER=unix:" + filepath.Join(t.TempDir(), "none"))
	if err := wait(); err != nil {
		t.Error(err)
	}
	// Device lost while playing.
	wait = run()
	time.Sleep(1500 * time.Millisecond)
	pulse.Stop()
	if err := wait(); err != nil {
		t.Error(err)
	}
}

func outErr(err error, out string) error {
	if err != nil {
		return fmt.Errorf("child: %v", err)
	}
	if !strings.Contains(out, "BACKEND silent") || !strings.Contains(out, "nothing will be heard") || !strings.Contains(out, "FINISHED") {
		return errors.New("child did not end up on the silent sink with the item finished")
	}
	return nil
}

func childFallback() {
	p, err := New(Config{Output: "auto", Logger: slog.New(slog.NewTextHandler(os.Stdout, nil))})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	if err := p.Play(Item{ID: "x", Path: os.Getenv("PLAYER_FILE"), Volume: -1}); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	for e := range p.Events() {
		fmt.Println("EVENT", e.Type, e.Reason, e.Played)
		if e.Type == Finished {
			fmt.Println("FINISHED BACKEND", p.Backend())
			fmt.Println("BACKEND", p.Backend())
			p.Close()
			os.Exit(0)
		}
	}
}

// decodeToEnd decodes a whole file, as the mixer's source does.
func decodeToEnd(b *testing.B, f string, buf []int16) {
	s, err := openStream(f)
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	for {
		if _, err := s.read(buf); err != nil {
			return
		}
	}
}

// BenchmarkDecode reports decoding speed as a multiple of real time.
func BenchmarkDecode(b *testing.B) {
	f := opusFile(b, 440, 7)
	buf := make([]int16, frameLen)
	for b.Loop() {
		decodeToEnd(b, f, buf)
	}
	b.ReportMetric(7*float64(b.N)/b.Elapsed().Seconds(), "x_realtime")
}

// BenchmarkDecodeVsFFmpeg decodes a 60 s speech-rate Opus file with the
// node's decoder and with ffmpeg (the C peer, one thread, to null) in the
// same run, and reports CPU seconds per audio minute for both and their ratio
// (target: within 1.5x of the C decoder).
func BenchmarkDecodeVsFFmpeg(b *testing.B) {
	f := opusFile(b, 440, 60)
	buf := make([]int16, frameLen)
	var ours, theirs time.Duration
	for b.Loop() {
		start := cpuTime()
		decodeToEnd(b, f, buf)
		ours += cpuTime() - start

		cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-threads", "1", "-i", f, "-f", "null", "-")
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		theirs += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	n := float64(b.N)
	b.ReportMetric(ours.Seconds()/n, "node-cpu-s/min")
	b.ReportMetric(theirs.Seconds()/n, "ffmpeg-cpu-s/min")
	b.ReportMetric(ours.Seconds()/theirs.Seconds(), "ratio")
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The tap sees every sample the output gets, after the gain, dated as
// the sample clock dates proof of play.
func TestTapSeesWhatIsPlayed(t *testing.T) {
	m := newManual(t)
	var tapped []int16
	var dates []time.Time
	m.p.mu.Lock()
	m.p.tap = func(s []int16, at time.Time) {
		tapped = append(tapped, s...)
		dates = append(dates, at)
	}
	m.p.mu.Unlock()
	from := len(m.out)
	m.play(Item{ID: "A", Path: opusFile(t, 440, 0.3), PlayAt: m.at(from + 4800), Volume: 30})
	m.pull(Rate / 2)
	if !slices.Equal(tapped, m.out[from:]) {
		t.Fatalf("tap got %d samples unlike the %d the output got", len(tapped), len(m.out)-from)
	}
	if audiotest.Analyze(tapped, Rate).Length == 0 {
		t.Fatal("the tap saw no tone")
	}
	for i, at := range dates {
		if d := at.Sub(m.at(from + i*Rate/100)); d < -50*time.Microsecond || d > 50*time.Microsecond {
			t.Fatalf("block %d dated %v off", i, d)
		}
	}
}
