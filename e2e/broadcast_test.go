package e2e

import (
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/communeradio/radio/internal/audiotest"
)

func TestBroadcastEmbeddedBroker(t *testing.T) {
	dir := t.TempDir()
	ctl := startController(t, filepath.Join(dir, "ctl"))
	broadcast(t, ctl, dir)
}

func TestBroadcastMosquitto(t *testing.T) {
	if _, err := exec.LookPath("mosquitto"); err != nil {
		if _, err := os.Stat("/usr/sbin/mosquitto"); err != nil {
			t.Fatal("mosquitto is not installed: run make test, which installs it")
		}
	}
	dir := t.TempDir()
	ctl := startWithMosquitto(t, dir)
	broadcast(t, ctl, dir)
}

// startWithMosquitto runs Debian's mosquitto with the configuration the
// controller writes (per-node passwords and ACL), and the controller on it.
func startWithMosquitto(t testing.TB, dir string) *controller {
	t.Helper()
	port := freePort(t)
	mdir := filepath.Join(dir, "mosquitto")
	os.MkdirAll(mdir, 0o700)
	pidFile := filepath.Join(mdir, "mosquitto.pid")
	ctlDir := filepath.Join(dir, "ctl")
	p := start(t, "controller", nil, bin+"/radio-controller", "-data", ctlDir, "-http", "127.0.0.1:0",
		"-broker", "tcp://127.0.0.1:"+port, "-mosquitto-dir", mdir, "-mosquitto-pid", pidFile, "-mosquitto-user", "root")
	conf := filepath.Join(mdir, "mosquitto.conf")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(conf); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("controller wrote no %s:\n%s", conf, p.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	mosq := start(t, "mosquitto", nil, mosquittoPath(), "-c", conf)
	os.WriteFile(pidFile, []byte(strconv.Itoa(mosq.cmd.Process.Pid)), 0o600)
	c := &controller{proc: p, dir: ctlDir}
	c.url = p.wait(t, `controller ready" http=(http://[0-9.:]+)`, 60*time.Second)
	c.mqtt = "127.0.0.1:" + port
	tok, err := os.ReadFile(filepath.Join(ctlDir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	c.token = string(tok[:len(tok)-1])
	return c
}

func mosquittoPath() string {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	return "/usr/sbin/mosquitto"
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// broadcast: three node processes in one zone, each with its own PulseAudio
// null sink; an uploaded MP3 tone is played to the zone; each sink's
// recording must hold the tone, the starts must line up, and SQLite must hold
// the proof of play.
func broadcast(t *testing.T, ctl *controller, dir string) {
	nodes := []string{"n1", "n2", "n3"}
	pulse := audiotest.StartPulse(t, nodes...)
	ctl.setupCommune(t)
	for _, id := range nodes {
		cfg := ctl.enrol(t, id, "z-center", dir, "oto")
		startNode(t, id, cfg, pulse.Env(id))
	}
	ctl.waitOnline(t, nodes...)

	const hz, seconds = 440, 2.0
	m := ctl.upload(t, tone(t, dir, hz, seconds))
	if math.Abs(float64(m.DurationMS)-seconds*1000) > 100 {
		t.Errorf("uploaded duration = %d ms, want about %v s", m.DurationMS, seconds)
	}
	recs := map[string]*audiotest.Recording{}
	for _, id := range nodes {
		recs[id] = pulse.Record(t, id)
	}
	var resp struct {
		Command string `json:"command"`
		PlayAt  string `json:"play_at"`
	}
	ctl.mustCall(t, "POST", "/api/v1/play", map[string]any{"zone": "z-center", "media": m.SHA256, "delay_ms": 5000, "title": "Bản tin thử"}, &resp)
	playAt, err := time.Parse(time.RFC3339Nano, resp.PlayAt)
	if err != nil {
		t.Fatal(err)
	}
	evs := ctl.waitPlays(t, resp.Command, 60*time.Second, func(e []playEvent) bool { return count(e, "finished") == 3 })
	time.Sleep(300 * time.Millisecond) // let the recordings catch the tail

	var onsets []time.Time
	for _, id := range nodes {
		samples, err := recs[id].Stop()
		if err != nil {
			t.Fatalf("%s: recording: %v", id, err)
		}
		tone := audiotest.Analyze(samples, audiotest.Rate)
		if !tone.Found {
			t.Errorf("%s: no tone in its sink's recording (%d samples)", id, len(samples))
			continue
		}
		onset := recs[id].Started.Add(time.Duration(float64(tone.Onset) / audiotest.Rate * float64(time.Second)))
		onsets = append(onsets, onset)
		length := float64(tone.Length) / audiotest.Rate
		// Goertzel over the tone's first second: a dropout on a loaded
		// machine skews the zero-crossing count of tone.Freq.
		freq := audiotest.Dominant(samples[tone.Onset:], audiotest.Rate, float64(hz)/2, float64(hz)*1.5)
		t.Logf("%s: %.1f Hz (%.1f by zero crossings), %.3f s, onset %+v after play_at", id, freq, tone.Freq, length, onset.Sub(playAt))
		if math.Abs(freq-float64(hz)) > float64(hz)*0.02 {
			t.Errorf("%s: tone at %.1f Hz, want %d", id, freq, hz)
		}
		if math.Abs(length-seconds) > 0.15 {
			t.Errorf("%s: tone lasts %.3f s, want %.1f", id, length, seconds)
		}
		if d := onset.Sub(playAt); d < -500*time.Millisecond || d > time.Second {
			t.Errorf("%s: tone began %v from play_at, want close to it", id, d)
		}
	}
	if len(onsets) == 3 {
		first, last := slices.MinFunc(onsets, cmpTime), slices.MaxFunc(onsets, cmpTime)
		spread := last.Sub(first)
		t.Logf("start spread across the zone by recording: %v (the precise figure is a benchmark)", spread)
		if spread > 250*time.Millisecond {
			t.Errorf("starts spread over %v; want them together", spread)
		}
	}
	for _, e := range evs {
		if e.Type == "started" {
			t.Logf("%s reports first sample %d µs from play_at", e.NodeID, e.OffsetUS)
		}
	}

	// Proof of play, straight from the SQLite file.
	rows := sqliteRows(t, ctl.dir, "SELECT node_id, type FROM play_events WHERE item_id = ? ORDER BY node_id, seq", resp.Command)
	got := map[string][]string{}
	for _, r := range rows {
		got[fmt.Sprint(r[0])] = append(got[fmt.Sprint(r[0])], fmt.Sprint(r[1]))
	}
	for _, id := range nodes {
		if !slices.Equal(got[id], []string{"started", "finished"}) {
			t.Errorf("SQLite proof of play of %s = %v, want [started finished]", id, got[id])
		}
	}
}

func cmpTime(a, b time.Time) int { return a.Compare(b) }
