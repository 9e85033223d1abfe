package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// buildNode builds a node binary reporting version (pkg: the package).
func buildNode(t *testing.T, dir, pkg, version string) string {
	t.Helper()
	out := filepath.Join(dir, "radio-node-"+version)
	cmd := exec.Command("go", "build", "-ldflags", "-s -w -X main.version="+version, "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s %s: %v\n%s", pkg, version, err, b)
	}
	return out
}

// supervised is a node run as systemd runs it (Restart=always): whenever
// the process ends, the installed binary is started again.
type supervised struct {
	mu    sync.Mutex
	procs []*proc
	stop  chan struct{}
	done  chan struct{}
}

func supervise(t *testing.T, name, binary, cfgPath string) *supervised {
	s := &supervised{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			p := start(t, name, nil, binary, "-config", cfgPath)
			s.mu.Lock()
			s.procs = append(s.procs, p)
			s.mu.Unlock()
			select {
			case <-p.done:
			case <-s.stop:
				p.stop()
				return
			}
			select {
			case <-time.After(300 * time.Millisecond): // RestartSec
			case <-s.stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(s.stop); <-s.done })
	return s
}

func (s *supervised) starts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.procs)
}

func (s *supervised) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for i, p := range s.procs {
		fmt.Fprintf(&b, "---- start %d ----\n%s", i+1, p.Log())
	}
	return b.String()
}

type rolloutView struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Reason   string `json:"reason"`
	Targeted int    `json:"targeted"`
	Updated  int    `json:"updated"`
	Failed   int    `json:"failed"`
	Sent     int    `json:"sent"`
	Pending  int    `json:"pending"`
	Nodes    []struct {
		NodeID string `json:"node_id"`
		Status string `json:"status"`
		Reason string `json:"reason"`
	} `json:"nodes"`
}

func (c *controller) waitRollout(t *testing.T, id string, timeout time.Duration, cond func(rolloutView) bool) rolloutView {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var v rolloutView
	for time.Now().Before(deadline) {
		c.mustCall(t, "GET", "/api/v1/rollouts/"+id, nil, &v)
		if cond(v) {
			return v
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("rollout %s: condition not met within %s; last %+v", id, timeout, v)
	return v
}

// nodeVersions are the versions the nodes report in their state.
func (c *controller) nodeVersions(t *testing.T) map[string]string {
	var nodes []struct {
		ID     string `json:"id"`
		Online bool   `json:"online"`
		State  *struct {
			Version string `json:"version"`
		} `json:"state"`
	}
	c.mustCall(t, "GET", "/api/v1/nodes", nil, &nodes)
	out := map[string]string{}
	for _, n := range nodes {
		if n.Online && n.State != nil {
			out[n.ID] = n.State.Version
		}
	}
	return out
}

func (c *controller) waitVersions(t *testing.T, want string, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var got map[string]string
	for time.Now().Before(deadline) {
		got = c.nodeVersions(t)
		all := true
		for _, id := range ids {
			all = all && got[id] == want
		}
		if all {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("nodes %v do not all report version %s online: %v", ids, want, got)
}

// TestSignedUpdateRollout is issue 13's update test: three nodes running
// A get B by a rollout; a broken C (exits at start) sends each node that
// gets it back to B by itself and halts the rollout before the last node;
// a release whose manifest is signed by another key is refused and the
// nodes keep running B.
func TestSignedUpdateRollout(t *testing.T) {
	dir := t.TempDir()
	binA := buildNode(t, dir, "../cmd/radio-node", "1.0.0")
	binB := buildNode(t, dir, "../cmd/radio-node", "1.1.0")
	binC := buildNode(t, dir, "./testdata/brokennode", "1.2.0")

	c := startController(t, filepath.Join(dir, "ctl"))
	c.setupCommune(t)
	ids := []string{"ota-1", "ota-2", "ota-3"}
	nodes := map[string]*supervised{}
	for _, id := range ids {
		cfgPath := c.enrol(t, id, "z-center", dir, "silent")
		var cfg map[string]any
		b, _ := os.ReadFile(cfgPath)
		json.Unmarshal(b, &cfg)
		if keys, _ := cfg["update_keys"].([]any); len(keys) != 1 {
			t.Fatalf("enrolled config has no update key: %s", b)
		}
		// Each box has its own installed binary, as /usr/lib/radio-node/radio-node.
		inst := filepath.Join(dir, id+"-bin", "radio-node")
		os.MkdirAll(filepath.Dir(inst), 0o755)
		copyFile(t, binA, inst, 0o755)
		cfg["binary"] = inst
		b, _ = json.Marshal(cfg)
		os.WriteFile(cfgPath, b, 0o600)
		nodes[id] = supervise(t, id, inst, cfgPath)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for id, s := range nodes {
				t.Logf("==== %s ====\n%s", id, s.log())
			}
		}
	})
	c.waitOnline(t, ids...)
	c.waitVersions(t, "1.0.0", ids...)

	c.radioctl(t, "release", "add", binB, "-version", "1.1.0", "-arch", "amd64")
	c.radioctl(t, "release", "add", binC, "-version", "1.2.0", "-arch", "amd64")
	c.radioctl(t, "release", "add", binB, "-version", "1.3.0", "-arch", "amd64")

	// B to the whole zone, all at once.
	var ro rolloutView
	began := time.Now()
	c.mustCall(t, "POST", "/api/v1/rollouts", map[string]any{"version": "1.1.0", "zone": "z-center", "parallel": 3}, &ro)
	ro = c.waitRollout(t, ro.ID, 3*time.Minute, func(v rolloutView) bool { return v.Status != "running" })
	if st, err := os.Stat(binB); err == nil {
		t.Logf("rollout of B (%d bytes) to 3 nodes at once: %s until all were healthy and installed", st.Size(), time.Since(began).Round(100*time.Millisecond))
	}
	if ro.Status != "done" || ro.Updated != 3 || ro.Failed != 0 {
		t.Fatalf("rollout of B: %+v", ro)
	}
	c.waitVersions(t, "1.1.0", ids...)
	for _, id := range ids {
		inst := filepath.Join(dir, id+"-bin", "radio-node")
		if !sameFile(t, inst, binB) || !sameFile(t, inst+".previous", binA) {
			t.Errorf("%s: installed binary is not B with A kept as previous", id)
		}
	}

	// C, two nodes at a time, halting at the first failure: the third
	// node never gets it.
	began = time.Now()
	c.mustCall(t, "POST", "/api/v1/rollouts", map[string]any{"version": "1.2.0", "percent": 100, "parallel": 2, "max_failures": 1}, &ro)
	ro = c.waitRollout(t, ro.ID, 3*time.Minute, func(v rolloutView) bool { return v.Status == "halted" && v.Sent == 0 })
	t.Logf("rollout of the broken C: halted, both nodes back on B and reported, after %s", time.Since(began).Round(100*time.Millisecond))
	if ro.Failed != 2 || ro.Pending != 1 || ro.Updated != 0 {
		t.Fatalf("rollout of C: want 2 failed, 1 never sent; got %+v", ro)
	}
	var spared string
	for _, n := range ro.Nodes {
		switch n.Status {
		case "failed":
			if !strings.Contains(n.Reason, "update_failed") || !strings.Contains(n.Reason, "1.2.0") {
				t.Errorf("%s failed for %q, want update_failed naming 1.2.0", n.NodeID, n.Reason)
			}
			// It ran C (which exited), and the supervisor started B again.
			if !strings.Contains(nodes[n.NodeID].log(), "cannot start: broken build") {
				t.Errorf("%s never ran version C", n.NodeID)
			}
		case "pending":
			spared = n.NodeID
		}
	}
	c.waitVersions(t, "1.1.0", ids...)
	if spared == "" || strings.Contains(nodes[spared].log(), "broken build") || strings.Contains(nodes[spared].log(), "version=1.2.0") {
		t.Errorf("%s got C although the rollout had halted", spared)
	}
	for _, id := range ids {
		inst := filepath.Join(dir, id+"-bin", "radio-node")
		if !sameFile(t, inst, binB) {
			t.Errorf("%s: installed binary is not B after C failed", id)
		}
	}

	// A manifest signed by another key: refused before anything is fetched.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	rows := sqliteRows(t, c.dir, "SELECT manifest, kid FROM releases WHERE version = '1.3.0'")
	if len(rows) != 1 {
		t.Fatalf("release 1.3.0: %v", rows)
	}
	sig := ed25519.Sign(other, append([]byte(nodeproto.ReleaseSignContext), rows[0][0].([]byte)...))
	sqliteExec(t, c.dir, "UPDATE releases SET sig = ? WHERE version = '1.3.0'", sig)
	startsBefore := map[string]int{}
	for id, s := range nodes {
		startsBefore[id] = s.starts()
	}
	c.mustCall(t, "POST", "/api/v1/rollouts", map[string]any{"version": "1.3.0", "zone": "z-center", "parallel": 3, "max_failures": 1}, &ro)
	ro = c.waitRollout(t, ro.ID, time.Minute, func(v rolloutView) bool { return v.Status == "halted" && v.Sent == 0 })
	if ro.Failed != 3 {
		t.Fatalf("rollout of a badly signed release: %+v", ro)
	}
	for _, n := range ro.Nodes {
		if !strings.Contains(n.Reason, "bad_signature") {
			t.Errorf("%s: reason %q, want bad_signature", n.NodeID, n.Reason)
		}
	}
	c.waitVersions(t, "1.1.0", ids...)
	for id, s := range nodes {
		if s.starts() != startsBefore[id] {
			t.Errorf("%s restarted for a release it should have refused", id)
		}
		if _, err := os.Stat(filepath.Join(dir, id+"-bin", "radio-node.new.part")); err == nil {
			t.Errorf("%s fetched a release whose signature does not verify", id)
		}
	}
}

// sqliteExec changes the controller's registry behind its back (as an
// attacker with the disk, or a corrupted copy, would).
func sqliteExec(t *testing.T, dir, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "registry.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("sqlite %s: %v", query, err)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

func sameFile(t *testing.T, a, b string) bool {
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
