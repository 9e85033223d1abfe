package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/communeradio/radio/internal/audiotest"
)

// A node killed (SIGKILL) in the middle of a bulletin and started again
// delivers every proof-of-play event exactly once: the start before the
// kill, the interruption after it, numbered without gaps or repeats.
func TestNodeKilledDuringPlayback(t *testing.T) {
	dir := t.TempDir()
	pulse := audiotest.StartPulse(t, "k1")
	ctl := startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	cfg := ctl.enrol(t, "k1", "z-center", dir, "oto")
	node := startNode(t, "k1", cfg, pulse.Env("k1"))
	ctl.waitOnline(t, "k1")

	m := ctl.upload(t, tone(t, dir, 660, 8))
	var resp struct {
		Command string `json:"command"`
	}
	ctl.mustCall(t, "POST", "/api/v1/play", map[string]any{"node": "k1", "media": m.SHA256, "delay_ms": 3000}, &resp)
	ctl.waitPlays(t, resp.Command, 30*time.Second, func(e []playEvent) bool { return count(e, "started") == 1 })
	time.Sleep(time.Second) // well into the 8 s tone
	node.kill()

	// Kill it again right after it comes back, before it can have sent
	// anything, to exercise the outbox across two crashes.
	node = startNode(t, "k1-restarted", cfg, pulse.Env("k1"))
	node.wait(t, "node started", 30*time.Second)
	node.kill()
	startNode(t, "k1-restarted-again", cfg, pulse.Env("k1"))

	ctl.waitPlays(t, resp.Command, 60*time.Second, func(e []playEvent) bool { return count(e, "interrupted") >= 1 })
	time.Sleep(2 * time.Second) // any duplicate would arrive now
	evs := ctl.waitPlays(t, resp.Command, time.Second, func([]playEvent) bool { return true })
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
		if e.Type == "interrupted" && e.Reason != "node restarted" {
			t.Errorf("interrupted reason = %q, want %q", e.Reason, "node restarted")
		}
	}
	slices.Sort(types)
	if !slices.Equal(types, []string{"interrupted", "started"}) {
		t.Errorf("proof of play of the killed bulletin = %v, want one started and one interrupted", types)
	}

	// In SQLite: the node's sequence numbers are 1..n, each once.
	rows := sqliteRows(t, ctl.dir, "SELECT seq FROM play_events WHERE node_id = 'k1' ORDER BY seq")
	for i, r := range rows {
		if fmt.Sprint(r[0]) != fmt.Sprint(i+1) {
			t.Fatalf("stored seqs %v: want 1..%d, each once", rows, len(rows))
		}
	}
	if len(rows) < 2 {
		t.Errorf("stored %d events for k1, want at least 2", len(rows))
	}
	// And the node's outbox drains: it reports nothing pending.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n struct {
			State struct {
				Outbox int `json:"outbox"`
			} `json:"state"`
		}
		ctl.mustCall(t, "GET", "/api/v1/nodes/k1", nil, &n)
		if n.State.Outbox == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node outbox still holds %d events", n.State.Outbox)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
