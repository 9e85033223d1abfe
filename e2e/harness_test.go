// Package e2e runs the real binaries as separate processes: the controller
// with its embedded broker or Debian's mosquitto, node daemons playing
// through oto into PulseAudio null sinks, and checks what came out of each
// sink and what landed in SQLite.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

var bin string // directory of the freshly built binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "radio-e2e-bin")
	if err != nil {
		panic(err)
	}
	cmd := exec.Command("go", "build", "-o", dir+"/", "../cmd/radio-controller", "../cmd/radio-node", "../cmd/radioctl")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building binaries:", err)
		os.Exit(1)
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a child process whose log is kept and scanned.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
}

func start(t testing.TB, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	go func() { p.cmd.Wait(); pw.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("---- log of %s ----\n%s", name, p.Log())
		}
	})
	return p
}

func (p *proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// stop ends the process gracefully, then forcibly.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process with SIGKILL: no goodbye, no flush.
func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// wait polls the log for a regexp and returns its first submatch.
func (p *proc) wait(t testing.TB, re string, timeout time.Duration) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m := rx.FindStringSubmatch(p.Log()); m != nil {
			if len(m) > 1 {
				return m[1]
			}
			return m[0]
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited while waiting for %q:\n%s", p.name, re, p.Log())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s: no %q within %s:\n%s", p.name, re, timeout, p.Log())
	return ""
}

// controller is a running radio-controller.
type controller struct {
	*proc
	dir, url, mqtt, token string
	metrics               string // the /metrics URL
}

func startController(t testing.TB, dir string, extra ...string) *controller {
	t.Helper()
	args := append([]string{bin + "/radio-controller", "-data", dir, "-http", "127.0.0.1:0", "-mqtt", "127.0.0.1:0", "-metrics-listen", "127.0.0.1:0"}, extra...)
	p := start(t, "controller", nil, args...)
	c := &controller{proc: p, dir: dir}
	c.url = p.wait(t, `controller ready" http=(http://[0-9.:]+)`, 60*time.Second)
	c.mqtt = p.wait(t, `controller ready".*broker=tcp://([0-9.:]+)`, time.Second)
	if m := regexp.MustCompile(`controller ready".*metrics=(http://[0-9.:]+/metrics)`).FindStringSubmatch(p.Log()); m != nil {
		c.metrics = m[1]
	}
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	c.token = strings.TrimSpace(string(tok))
	return c
}

// call makes an API request and decodes the JSON answer into out.
func (c *controller) call(t testing.TB, method, path string, body any, out any) int {
	t.Helper()
	var r io.Reader
	if b, ok := body.([]byte); ok {
		r = bytes.NewReader(b)
	} else if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.url+path, r)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: HTTP %d, body %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func (c *controller) mustCall(t testing.TB, method, path string, body any, out any) {
	t.Helper()
	var raw json.RawMessage
	code := c.call(t, method, path, body, &raw)
	if code >= 300 {
		t.Fatalf("%s %s: HTTP %d: %s", method, path, code, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatal(err)
		}
	}
}

// radioctl runs the CLI against c and returns its output.
func (c *controller) radioctl(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin+"/radioctl", append([]string{"-server", c.url, "-token", c.token}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("radioctl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// enrol registers a node through radioctl and returns the path of its config,
// rewritten to use dataDir and the given audio output.
func (c *controller) enrol(t testing.TB, id, zone, dir, audio string) string {
	t.Helper()
	args := []string{"node", "add", id, "st-1", "-name", "Cụm loa " + id, "-lat", "10.77", "-lon", "106.70"}
	if zone != "" {
		args = append(args, "-zone", zone)
	}
	return c.enrolWith(t, id, dir, audio, args...)
}

// enrolWith registers a node with the given radioctl arguments and
// rewrites its config as enrol does.
func (c *controller) enrolWith(t testing.TB, id, dir, audio string, args ...string) string {
	t.Helper()
	cfgPath := filepath.Join(dir, id+".json")
	c.radioctl(t, append(args, "-out", cfgPath)...)
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	json.Unmarshal(b, &cfg)
	cfg["data_dir"] = filepath.Join(dir, id+"-data")
	cfg["audio_output"] = audio
	b, _ = json.Marshal(cfg)
	os.WriteFile(cfgPath, b, 0o600)
	return cfgPath
}

// setupCommune creates a province, a commune, a station and an empty zone.
func (c *controller) setupCommune(t testing.TB) {
	t.Helper()
	c.radioctl(t, "area", "add", "p-79", "Thành phố Hồ Chí Minh", "-kind", "province")
	c.radioctl(t, "area", "add", "x-an-phu", "Xã An Phú", "-kind", "commune", "-parent", "p-79")
	c.radioctl(t, "station", "add", "st-1", "x-an-phu", "Đài truyền thanh xã An Phú")
	c.radioctl(t, "zone", "add", "z-center", "st-1", "-name", "Trung tâm xã")
}

func startNode(t testing.TB, name, cfgPath string, env []string) *proc {
	return start(t, name, env, bin+"/radio-node", "-config", cfgPath)
}

// tone makes an MP3 sine tone with ffmpeg.
func tone(t testing.TB, dir string, hz int, seconds float64) string {
	t.Helper()
	out := filepath.Join(dir, fmt.Sprintf("tone-%d.mp3", hz))
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
		"-i", fmt.Sprintf("sine=frequency=%d:duration=%g:sample_rate=44100", hz, seconds),
		"-af", "volume=0.5", "-c:a", "libmp3lame", "-b:a", "64k", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (run make test, which installs it): %v\n%s", err, b)
	}
	return out
}

type mediaInfo struct {
	SHA256     string `json:"sha256"`
	Size       int64  `json:"size"`
	DurationMS int64  `json:"duration_ms"`
}

func (c *controller) upload(t testing.TB, path string) mediaInfo {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m mediaInfo
	c.mustCall(t, "POST", "/api/v1/media?name="+filepath.Base(path), b, &m)
	return m
}

type playEvent struct {
	NodeID   string `json:"node_id"`
	Seq      uint64 `json:"seq"`
	Type     string `json:"type"`
	ItemID   string `json:"item_id"`
	OffsetUS int64  `json:"offset_us"`
	PlayedMS int64  `json:"played_ms"`
	Reason   string `json:"reason"`
	Gaps     int    `json:"gaps"`
	GapMS    int64  `json:"gap_ms"`
}

// waitPlays polls the API until cond holds on the proof of play of item.
func (c *controller) waitPlays(t testing.TB, item string, timeout time.Duration, cond func([]playEvent) bool) []playEvent {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var evs []playEvent
	for time.Now().Before(deadline) {
		evs = nil
		c.mustCall(t, "GET", "/api/v1/plays?item="+item, nil, &evs)
		if cond(evs) {
			return evs
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("proof of play for %s did not arrive in %s; have %+v", item, timeout, evs)
	return nil
}

func count(evs []playEvent, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// waitOnline waits until the controller has seen every node online.
func (c *controller) waitOnline(t testing.TB, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var nodes []struct {
			ID     string `json:"id"`
			Online bool   `json:"online"`
			State  *struct {
				DesiredRev int64 `json:"desired_rev"`
			} `json:"state"`
		}
		c.mustCall(t, "GET", "/api/v1/nodes", nil, &nodes)
		up := map[string]bool{}
		for _, n := range nodes {
			up[n.ID] = n.Online && n.State != nil && n.State.DesiredRev > 0
		}
		all := true
		for _, id := range ids {
			all = all && up[id]
		}
		if all {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("nodes %v not all online with desired state applied", ids)
}

// sqliteRows opens the controller's registry read-only and runs a query.
func sqliteRows(t testing.TB, dir, query string, args ...any) [][]any {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "registry.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // integrity_check under -race, beside a busy controller, is slow
	defer cancel()
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		t.Fatalf("sqlite %s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		rows.Scan(ptrs...)
		out = append(out, vals)
	}
	return out
}
