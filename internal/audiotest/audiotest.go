// Package audiotest is the real-sound harness of the tests: a private
// PulseAudio daemon with one null sink per node (it paces playback in real
// time), an ALSA configuration that sends a process's default device to its
// sink, recording of each sink's monitor with parec, and analysis of what
// came out (where a tone starts, how long it lasts, its frequency).
package audiotest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
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
}

// StartPulse starts a daemon with a null sink per name; it stops with the test.
func StartPulse(t testing.TB, sinks ...string) *Pulse {
	t.Helper()
	bin, err := exec.LookPath("pulseaudio")
	if err != nil {
		t.Fatal("pulseaudio is not installed: run make test, which installs it")
	}
	dir, err := os.MkdirTemp("", "pa")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &Pulse{dir: dir, socket: filepath.Join(dir, "native")}
	os.MkdirAll(filepath.Join(dir, "run"), 0o700)
	args := []string{"-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no", "--system=false",
		"--disable-shm=yes", "--log-target=stderr", "--log-level=error",
		"-L", "module-native-protocol-unix socket=" + p.socket + " auth-anonymous=1"}
	for _, s := range sinks {
		args = append(args, "-L", fmt.Sprintf("module-null-sink sink_name=%s rate=%d channels=1 format=s16le", s, Rate))
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_RUNTIME_DIR="+filepath.Join(dir, "run"), "XDG_CONFIG_HOME="+dir)
	var log bytes.Buffer
	p.cmd.Stdout, p.cmd.Stderr = &log, &log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("pulseaudio: %v", err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	asoundrc := "pcm.!default { type pulse }\nctl.!default { type pulse }\n"
	if err := os.WriteFile(filepath.Join(dir, "asoundrc"), []byte(asoundrc), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := p.pactl("list", "short", "sinks")
		if err == nil && len(bytes.Split(bytes.TrimSpace(out), []byte("\n"))) >= len(sinks) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pulseaudio did not come up: %v %s\n%s", err, out, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *Pulse) pactl(args ...string) ([]byte, error) {
	cmd := exec.Command("pactl", args...)
	cmd.Env = append(os.Environ(), "PULSE_SERVER=unix:"+p.socket)
	return cmd.CombinedOutput()
}

// Env is the environment that makes a child process's ALSA default device
// play into sink.
func (p *Pulse) Env(sink string) []string {
	return []string{
		"PULSE_SERVER=unix:" + p.socket,
		"PULSE_SINK=" + sink,
		"ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:" + filepath.Join(p.dir, "asoundrc"),
		"XDG_RUNTIME_DIR=" + filepath.Join(p.dir, "run"),
	}
}

// Recording is a running capture of one sink.
type Recording struct {
	// Started is the wall-clock time of the first recorded sample.
	Started time.Time
	cmd     *exec.Cmd
	mu      sync.Mutex
	data    []byte
	done    chan error
}

// Record starts capturing what sink plays.
func (p *Pulse) Record(t testing.TB, sink string) *Recording {
	t.Helper()
	r := &Recording{done: make(chan error, 1)}
	r.cmd = exec.Command("parec", "-d", sink+".monitor", "--format=s16le", fmt.Sprintf("--rate=%d", Rate),
		"--channels=1", "--raw", "--latency-msec=10")
	r.cmd.Env = append(os.Environ(), "PULSE_SERVER=unix:"+p.socket)
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("parec: %v", err)
	}
	first := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := out.Read(buf)
			if n > 0 {
				r.mu.Lock()
				if r.data == nil {
					// The first bytes end at "now": date the first sample back.
					r.Started = time.Now().Add(-time.Duration(n/2) * time.Second / Rate)
					close(first)
				}
				r.data = append(r.data, buf[:n]...)
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
		t.Fatalf("parec on %s recorded nothing", sink)
	}
	t.Cleanup(func() { r.cmd.Process.Kill() })
	return r
}

// Stop ends the capture and returns the samples.
func (r *Recording) Stop() ([]int16, error) {
	r.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
	}
	r.cmd.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	s := make([]int16, len(r.data)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(r.data[2*i:]))
	}
	return s, nil
}

// Tone describes the sound found in a recording.
type Tone struct {
	Found  bool
	Onset  int     // first sample above the threshold
	Length int     // samples from onset to the last sample above the threshold
	Freq   float64 // Hz, by zero crossings over the sounding part
	RMS    float64 // of the sounding part, 1.0 = full scale
}

// Analyze finds the sounding part of samples (|x| above 2% of full scale)
// and measures it.
func Analyze(s []int16, rate int) Tone {
	const thr = 655
	on, off := -1, -1
	for i, v := range s {
		if v > thr || v < -thr {
			if on < 0 {
				on = i
			}
			off = i
		}
	}
	if on < 0 {
		return Tone{}
	}
	seg := s[on : off+1]
	// Zero crossings (rising), with linear interpolation at the ends.
	var firstX, lastX float64 = -1, -1
	crossings := 0
	var sum float64
	for i := 1; i < len(seg); i++ {
		a, b := float64(seg[i-1]), float64(seg[i])
		sum += b * b
		if a < 0 && b >= 0 {
			x := float64(i-1) + a/(a-b)
			if firstX < 0 {
				firstX = x
			}
			lastX = x
			crossings++
		}
	}
	t := Tone{Found: true, Onset: on, Length: off - on + 1, RMS: math.Sqrt(sum/float64(len(seg))) / 32768}
	if crossings > 1 {
		t.Freq = float64(crossings-1) / ((lastX - firstX) / float64(rate))
	}
	return t
}
