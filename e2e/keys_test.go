package e2e

import (
	"net/http"
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
