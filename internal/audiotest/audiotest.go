// Package audiotest is the real-sound harness of the tests: a private
// PulseAudio daemon with one null sink per node (it paces playback in real
// time), an ALSA configuration that sends a process's default device to its
// sink, recording of each sink's monitor with parec, and analysis of what
// came out (where a tone starts, how long it lasts, its frequency).
package audiotest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
)

// Rate is the sample rate of sinks and recordings (mono s16le).
const Rate = 48000

// Pulse is a running private PulseAudio daemon.
type Pulse struct {
	dir    string
	socket string
	cmd    *exec.Cmd
	exited chan struct{}
	// mixChannels is the channel count of MixSink (StartPulseMix), else 0.
	mixChannels int
}

// Stop ends the daemon now (it also stops when the test ends): its
// clients see the sound device disappear.
func (p *Pulse) Stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(3 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// StartPulse starts a private PulseAudio daemon with one null sink (mono,
// 48 kHz, paced in real time) per name, and stops it when the test ends.
// The daemon reads no system or user configuration, listens only on its own
// socket, never exits when idle, and runs as root as well.
func StartPulse(t testing.TB, sinks ...string) *Pulse {
	t.Helper()
	var mods []string
	for _, s := range sinks {
		mods = append(mods, fmt.Sprintf("module-null-sink sink_name=%s rate=%d channels=1 format=s16le", s, Rate))
	}
	return startPulse(t, sinks, mods)
}

// MixSink is the multi-channel sink of StartPulseMix.
const MixSink = "all"

// StartPulseMix is StartPulse with one shared sample clock: a single null
// sink (MixSink) with one channel per name, and for each name a mono sink
// remapped onto its channel. Recording MixSink (RecordMix) captures every
// sink in the same frames, so the offsets between channels are exact to the
// sample, with no capture start time to estimate.
func StartPulseMix(t testing.TB, sinks ...string) *Pulse {
	t.Helper()
	chans := auxMap(len(sinks))
	mods := []string{fmt.Sprintf("module-null-sink sink_name=%s rate=%d channels=%d channel_map=%s format=s16le",
		MixSink, Rate, len(sinks), strings.Join(chans, ","))}
	for i, s := range sinks {
		mods = append(mods, fmt.Sprintf("module-remap-sink sink_name=%s master=%s channels=1 master_channel_map=%s channel_map=mono",
			s, MixSink, chans[i]))
	}
	p := startPulse(t, append([]string{MixSink}, sinks...), mods)
	p.mixChannels = len(sinks)
	return p
}

func auxMap(n int) []string {
	m := make([]string, n)
	for i := range m {
		m[i] = fmt.Sprintf("aux%d", i)
	}
	return m
}

func startPulse(t testing.TB, sinks, modules []string) *Pulse {
	t.Helper()
	bin, err := exec.LookPath("pulseaudio")
	if err != nil {
		t.Fatal("pulseaudio is not installed: run make test, which installs it (scripts/install-deps.sh)")
	}
	for _, tool := range []string{"pactl", "parec"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run make test, which installs it (pulseaudio-utils)", tool)
		}
	}
	// A unix socket path is limited to 108 bytes, which t.TempDir (named
	// after the test) can exceed: use a short directory then.
	dir := t.TempDir()
	if len(dir) > 80 {
		if dir, err = os.MkdirTemp("", "pa"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	p := &Pulse{dir: dir, socket: filepath.Join(dir, "native")}
	files := map[string]string{
		// Found through XDG_CONFIG_HOME before /etc/pulse: nothing of the
		// machine's configuration applies.
		"pulse/daemon.conf": "daemonize = no\nexit-idle-time = -1\nhigh-priority = no\nrealtime-scheduling = no\n" +
			"flat-volumes = no\ndefault-sample-format = s16le\ndefault-sample-rate = 48000\n" +
			"alternate-sample-rate = 48000\ndefault-sample-channels = 1\navoid-resampling = yes\n",
		// Clients must never start a daemon of their own.
		"client.conf": "autospawn = no\n",
		"asoundrc":    "pcm.!default { type pulse }\nctl.!default { type pulse }\n",
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	args := []string{"-n", "--daemonize=no", "--system=false", "--exit-idle-time=-1", "--disallow-exit",
		"--use-pid-file=no", "--disable-shm=yes", "--log-target=stderr", "--log-level=error",
		"-L", "module-native-protocol-unix socket=" + p.socket + " auth-anonymous=1"}
	for _, m := range modules {
		args = append(args, "-L", m)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_RUNTIME_DIR="+filepath.Join(dir, "run"),
		"PULSE_RUNTIME_PATH="+filepath.Join(dir, "run"), "PULSE_STATE_PATH="+filepath.Join(dir, "state"))
	var log lockedBuffer
	p.cmd.Stdout, p.cmd.Stderr = &log, &log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("pulseaudio: %v", err)
	}
	exited := make(chan struct{})
	p.exited = exited
	go func() { p.cmd.Wait(); close(exited) }()
	t.Cleanup(p.Stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := p.pactl("list", "short", "sinks")
		if err == nil && countSinks(out, sinks) == len(sinks) {
			return p
		}
		select {
		case <-exited:
			t.Fatalf("pulseaudio exited: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pulseaudio did not come up: %v %s\n%s", err, out, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countSinks(list []byte, names []string) int {
	n := 0
	for _, line := range strings.Split(string(list), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && slices.Contains(names, f[1]) {
			n++
		}
	}
	return n
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (p *Pulse) clientEnv() []string {
	return []string{"PULSE_SERVER=unix:" + p.socket, "PULSE_CLIENTCONFIG=" + filepath.Join(p.dir, "client.conf")}
}

func (p *Pulse) pactl(args ...string) ([]byte, error) {
	cmd := exec.Command("pactl", args...)
	cmd.Env = append(os.Environ(), p.clientEnv()...)
	return cmd.CombinedOutput()
}

// Env is the environment (to append to os.Environ()) that makes a child
// process's ALSA default device, the one oto and aplay open, play into sink.
func (p *Pulse) Env(sink string) []string {
	return append(p.clientEnv(),
		"PULSE_SINK="+sink,
		// alsa.conf must come first: it defines the plugins our file uses.
		"ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:"+filepath.Join(p.dir, "asoundrc"),
	)
}

// Recording is a running capture of one sink.
type Recording struct {
	// Started is the wall-clock time of the first recorded sample. Record
	// sets a first estimate; Stop refines it over the whole recording.
	Started time.Time
	// Launched is when parec was started.
	Launched time.Time
	cmd      *exec.Cmd
	stderr   lockedBuffer
	mu       sync.Mutex
	data     []byte
	best     time.Time // min over reads of (read time - samples so far)
	done     chan error
	channels int
}

// Record starts capturing what sink plays (its monitor), as mono s16le at
// Rate. The returned recording has received its first samples.
func (p *Pulse) Record(t testing.TB, sink string) *Recording {
	t.Helper()
	return p.record(t, sink, 1)
}

// RecordMix captures MixSink (see StartPulseMix): every sink of the daemon
// in one stream of interleaved frames, channel i being the i-th sink. Stop
// returns the interleaved samples; Channel takes one sink's out of them.
func (p *Pulse) RecordMix(t testing.TB) *Recording {
	t.Helper()
	if p.mixChannels == 0 {
		t.Fatal("audiotest: RecordMix needs a daemon started by StartPulseMix")
	}
	return p.record(t, MixSink, p.mixChannels)
}

func (p *Pulse) record(t testing.TB, sink string, channels int) *Recording {
	t.Helper()
	r := &Recording{done: make(chan error, 1), channels: channels}
	r.cmd = exec.Command("parec", "-d", sink+".monitor", "--format=s16le", fmt.Sprintf("--rate=%d", Rate),
		fmt.Sprintf("--channels=%d", channels), "--raw", "--latency-msec=10")
	if channels > 1 {
		// Without the sink's own map, pulse remixes aux channels into a
		// default map, i.e. into silence.
		r.cmd.Args = append(r.cmd.Args, "--channel-map="+strings.Join(auxMap(channels), ","))
	}
	r.cmd.Env = append(os.Environ(), p.clientEnv()...)
	r.cmd.Stderr = &r.stderr
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Launched = time.Now()
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("parec: %v", err)
	}
	first := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := out.Read(buf)
			if n > 0 {
				now := time.Now()
				r.mu.Lock()
				r.data = append(r.data, buf[:n]...)
				// Data arrives late, never early: the earliest of these
				// datings of the first sample is the closest.
				at := now.Add(-time.Duration(len(r.data)/(2*r.channels)) * time.Second / Rate)
				if r.best.IsZero() || at.Before(r.best) {
					r.best = at
				}
				if r.Started.IsZero() {
					r.Started = at
					close(first)
				}
				r.mu.Unlock()
			}
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				r.done <- err
				return
			}
		}
	}()
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		t.Fatalf("parec on %s recorded nothing: %s", sink, r.stderr.String())
	}
	t.Cleanup(func() { r.cmd.Process.Kill() })
	return r
}

// Stop ends the capture and returns the samples.
func (r *Recording) Stop() ([]int16, error) {
	r.cmd.Process.Signal(syscall.SIGINT)
	var err error
	select {
	case err = <-r.done:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
		err = errors.New("parec did not stop on SIGINT")
	}
	r.cmd.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.best.IsZero() {
		r.Started = r.best
	}
	s := make([]int16, len(r.data)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(r.data[2*i:]))
	}
	if err != nil {
		return s, fmt.Errorf("parec: %w: %s", err, r.stderr.String())
	}
	return s, nil
}

// TimeOf is the wall-clock time of sample i of the recording (after Stop).
func (r *Recording) TimeOf(i int) time.Time {
	return r.Started.Add(time.Duration(i) * time.Second / Rate)
}

// Tone describes a sounding part of a recording.
type Tone struct {
	Found  bool
	Onset  int     // first sample above the threshold
	Length int     // samples from onset to the last sample above the threshold
	Freq   float64 // Hz, by rising zero crossings, interpolated, over the sounding part
	RMS    float64 // of the sounding part, 1.0 = full scale
}

// Threshold is the level, 2% of full scale, above which a sample sounds.
const Threshold = 655

// Analyze finds the sounding part of s, from the first to the last sample
// above Threshold, and measures it.
func Analyze(s []int16, rate int) Tone {
	on, off := -1, -1
	for i, v := range s {
		if v > Threshold || v < -Threshold {
			if on < 0 {
				on = i
			}
			off = i
		}
	}
	if on < 0 {
		return Tone{}
	}
	return measure(s, on, off+1, rate)
}

// Segments splits s into sounding parts separated by at least gap of
// silence (nothing above Threshold), and measures each.
func Segments(s []int16, rate int, gap time.Duration) []Tone {
	minGap := int(gap.Seconds() * float64(rate))
	var out []Tone
	on, last := -1, -1
	for i, v := range s {
		if v <= Threshold && v >= -Threshold {
			continue
		}
		if on >= 0 && i-last > minGap {
			out = append(out, measure(s, on, last+1, rate))
			on = -1
		}
		if on < 0 {
			on = i
		}
		last = i
	}
	if on >= 0 {
		out = append(out, measure(s, on, last+1, rate))
	}
	return out
}

func measure(s []int16, on, end, rate int) Tone {
	seg := s[on:end]
	var firstX, lastX float64 = -1, -1
	crossings := 0
	var sum float64
	for i, v := range seg {
		sum += float64(v) * float64(v)
		if i == 0 {
			continue
		}
		a, b := float64(seg[i-1]), float64(v)
		if a < 0 && b >= 0 {
			x := float64(i-1) + a/(a-b)
			if firstX < 0 {
				firstX = x
			}
			lastX = x
			crossings++
		}
	}
	t := Tone{Found: true, Onset: on, Length: end - on, RMS: math.Sqrt(sum/float64(len(seg))) / 32768}
	if crossings > 1 {
		t.Freq = float64(crossings-1) / ((lastX - firstX) / float64(rate))
	}
	return t
}

// Power is the power of s at hz (Goertzel), normalised so that a full-scale
// sine at exactly hz gives about 0.25.
func Power(s []int16, rate int, hz float64) float64 {
	if len(s) == 0 {
		return 0
	}
	w := 2 * math.Pi * hz / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range s {
		s0 := float64(v)/32768 + c*s1 - s2
		s2, s1 = s1, s0
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	n := float64(len(s))
	return p / (n * n)
}

// Dominant is the strongest frequency of s between lo and hi Hz, by
// Goertzel: a scan in 5 Hz steps over the first 0.1 s (whose resolution is
// 10 Hz), refined over at most the first second to 0.05 Hz. Unlike the
// zero-crossing count of Tone.Freq, it holds up when s is noisy or a mixture.
func Dominant(s []int16, rate int, lo, hi float64) float64 {
	best, bestP := lo, -1.0
	scan := func(s []int16, from, to, step float64) {
		bestP = -1
		for f := max(lo, from); f <= min(hi, to); f += step {
			if p := Power(s, rate, f); p > bestP {
				best, bestP = f, p
			}
		}
	}
	scan(s[:min(len(s), rate/10)], lo, hi, 5)
	s = s[:min(len(s), rate)]
	c := best
	scan(s, c-10, c+10, 0.5)
	c = best
	scan(s, c-0.5, c+0.5, 0.05)
	return best
}

// Channel returns channel c of n interleaved channels.
func Channel(frames []int16, c, n int) []int16 {
	out := make([]int16, 0, len(frames)/n)
	for i := c; i < len(frames); i += n {
		out = append(out, frames[i])
	}
	return out
}

// Lag is how many samples later than ref the same sound starts in s: the
// lag within ±maxLag that maximises the normalised cross-correlation of
// ref[from:from+n] with s shifted by it. The sound must not be periodic
// over less than maxLag (a pure tone is ambiguous by its period; use
// noise). score is the correlation at the best lag, 1 for identical shapes.
func Lag(ref, s []int16, from, n, maxLag int) (lag int, score float64) {
	if from < 0 || from+n > len(ref) {
		return 0, 0
	}
	var rr float64
	for _, v := range ref[from : from+n] {
		rr += float64(v) * float64(v)
	}
	score = -2
	for l := -maxLag; l <= maxLag; l++ {
		if from+l < 0 || from+l+n > len(s) {
			continue
		}
		var rs, ss float64
		for i := 0; i < n; i++ {
			a, b := float64(ref[from+i]), float64(s[from+l+i])
			rs += a * b
			ss += b * b
		}
		if rr == 0 || ss == 0 {
			continue
		}
		if c := rs / math.Sqrt(rr*ss); c > score {
			lag, score = l, c
		}
	}
	return lag, score
}
