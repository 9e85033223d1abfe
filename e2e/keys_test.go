package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The controller's signing key is rotated without re-enrolling the node:
// commands signed with the new key play, also after the node restarts.
func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	ctl := startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	cfg := ctl.enrol(t, "r1", "z-center", dir, "silent")
	node := startNode(t, "r1", cfg, nil)
	ctl.waitOnline(t, "r1")
	m := ctl.upload(t, tone(t, dir, 440, 0.5))

	type status struct {
		Current struct{ Kid string }  `json:"current"`
		Next    *struct{ Kid string } `json:"next"`
		Pending []string              `json:"pending"`
	}
	var before status
	ctl.mustCall(t, "GET", "/api/v1/keys", nil, &before)
	ctl.radioctl(t, "key", "rotate", "prepare")
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st status
		ctl.mustCall(t, "GET", "/api/v1/keys", nil, &st)
		if st.Next == nil {
			t.Fatal("no next key after prepare")
		}
		if len(st.Pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node never applied the desired state trusting the next key: %+v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ctl.radioctl(t, "key", "rotate", "commit")
	var after status
	ctl.mustCall(t, "GET", "/api/v1/keys", nil, &after)
	if after.Current.Kid == before.Current.Kid || after.Next != nil {
		t.Fatalf("after commit: %+v (before %+v)", after, before)
	}
	play := func() {
		t.Helper()
		var resp struct{ Command string }
		ctl.mustCall(t, "POST", "/api/v1/play", map[string]any{"node": "r1", "media": m.SHA256, "delay_ms": 1500}, &resp)
		ctl.waitPlays(t, resp.Command, 30*time.Second, func(e []playEvent) bool { return count(e, "finished") == 1 })
	}
	play()
	// The node keeps the rotated key across a restart (its config still pins the old one).
	node.stop()
	startNode(t, "r1-again", cfg, nil)
	ctl.waitOnline(t, "r1")
	play()

	// A second commit without a prepare is refused clearly.
	var e struct{ Error string }
	if code := ctl.call(t, "POST", "/api/v1/keys/rotate", map[string]any{"step": "commit"}, &e); code != http.StatusConflict || e.Error == "" {
		t.Errorf("commit without prepare: HTTP %d %q", code, e.Error)
	}
}

// A node's broker credentials are rotated: the box holding the old secret
// is cut off and stays out; the new config brings it back.
func TestNodeCredentialRotation(t *testing.T) {
	dir := t.TempDir()
	ctl := startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	cfg := ctl.enrol(t, "c1", "z-center", dir, "silent")
	old := startNode(t, "c1-old", cfg, nil)
	ctl.waitOnline(t, "c1")

	newCfg := filepath.Join(dir, "c1-new.json")
	ctl.radioctl(t, "node", "secret", "c1", "-out", newCfg)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n struct{ Online bool }
		ctl.mustCall(t, "GET", "/api/v1/nodes/c1", nil, &n)
		if !n.Online {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the node with the old secret is still online")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // it keeps trying with the old secret, and fails
	var n struct{ Online bool }
	ctl.mustCall(t, "GET", "/api/v1/nodes/c1", nil, &n)
	if n.Online {
		t.Fatal("the old secret got back in")
	}
	// The box gets the new config (same data dir), and is back.
	old.stop()
	b, _ := os.ReadFile(newCfg)
	var nc map[string]any
	json.Unmarshal(b, &nc)
	nc["data_dir"] = filepath.Join(dir, "c1-data")
	nc["audio_output"] = "silent"
	b, _ = json.Marshal(nc)
	os.WriteFile(newCfg, b, 0o600)
	startNode(t, "c1-new", newCfg, nil)
	ctl.waitOnline(t, "c1")
}
