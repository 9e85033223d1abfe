package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A backup taken with radioctl while nodes pour in proof of play, restored
// into a fresh data folder after the controller is lost, gives a
// controller that holds every record acknowledged before the backup began,
// the recordings, the programme and the signing key, and that the node it
// left behind follows again: the node verifies the restored key's
// signature and applies its desired state, although it had applied newer
// revisions from the lost controller after the backup.
func TestBackupRestoreWhileNodesReport(t *testing.T) {
	const sims = 6
	dir := t.TempDir()
	ctlDir := filepath.Join(dir, "ctl")
	port := stablePort(t)
	ctl := startController(t, ctlDir, "-mqtt", "127.0.0.1:"+port)
	ctl.setupCommune(t)

	// A real node, a recording it played, and a programme naming it.
	realCfg := ctl.enrol(t, "bk-real", "z-center", dir, "silent")
	startNode(t, "bk-real", realCfg, nil)
	ctl.waitOnline(t, "bk-real")
	m := ctl.upload(t, tone(t, dir, 550, 1))
	var play struct {
		Command string `json:"command"`
	}
	ctl.mustCall(t, "POST", "/api/v1/play", map[string]any{"node": "bk-real", "media": m.SHA256, "delay_ms": 1000}, &play)
	ctl.waitPlays(t, play.Command, 30*time.Second, func(e []playEvent) bool { return count(e, "finished") == 1 })
	ctl.putSchedule(t, "x-an-phu", fmt.Sprintf("station st-1\nbulletin sang\n  title Bản tin sáng\n  source media %s\n  target zone z-center\n  status approved\n  daily 05:00\n", m.SHA256))
	var keys struct {
		Current struct {
			ID string `json:"id"`
		} `json:"current"`
	}
	ctl.mustCall(t, "GET", "/api/v1/keys", nil, &keys)

	// Simulated nodes report as fast as the controller acknowledges.
	var nodes []*simNode
	for i := 0; i < sims; i++ {
		n := newSimNode(t, ctl.mqtt, ctl.enrol(t, fmt.Sprintf("bk-%02d", i), "z-center", dir, "silent"))
		n.connect(t)
		nodes = append(nodes, n)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.client.Disconnect(100)
		}
	})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.ingest(stop, 4*simBatch) }()
	}
	acked := func() map[nodeSeq]bool {
		out := map[nodeSeq]bool{}
		for _, n := range nodes {
			n.mu.Lock()
			for s := range n.acked {
				out[nodeSeq{n.id, s}] = true
			}
			n.mu.Unlock()
		}
		return out
	}
	for deadline := time.Now().Add(60 * time.Second); len(acked()) < 2000; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			close(stop)
			t.Fatalf("only %d events acknowledged within 60 s", len(acked()))
		}
	}

	// Only an administrator may take one: it holds the signing key.
	var tok struct {
		Secret string `json:"secret"`
	}
	ctl.mustCall(t, "POST", "/api/v1/tokens", map[string]any{"name": "officer script", "role": "officer", "area_id": "x-an-phu"}, &tok)
	officer := &controller{proc: ctl.proc, url: ctl.url, token: tok.Secret}
	var refused map[string]any
	if code := officer.call(t, "POST", "/api/v1/backup", nil, &refused); code != http.StatusForbidden {
		t.Errorf("backup with an officer's token: HTTP %d %v, want 403", code, refused)
	}

	// The backup, in the middle of the flow: everything acknowledged before
	// it starts must be in it.
	before := acked()
	backupDir := filepath.Join(dir, "backup")
	out := ctl.radioctl(t, "backup", backupDir)
	during := len(acked()) - len(before)
	t.Logf("radioctl backup: %s(%d events acknowledged before it, %d more while it ran)", out, len(before), during)
	time.Sleep(300 * time.Millisecond) // the flow goes on after it, too
	close(stop)
	wg.Wait()

	// After the backup the lost controller changes the real node's desired
	// state twice: the node applies revisions the backup never saw.
	for _, v := range []int{40, 45} {
		ctl.mustCall(t, "POST", "/api/v1/volume", map[string]any{"node": "bk-real", "value": v}, nil)
	}
	lostRev := waitDesiredRev(t, ctl, "bk-real", func(applied, issued int64) bool { return applied == issued })
	ctl.kill() // the disk is gone

	// A second folder that is not empty is refused.
	busy := filepath.Join(dir, "busy")
	os.MkdirAll(busy, 0o750)
	os.WriteFile(filepath.Join(busy, "registry.db"), []byte("live data"), 0o600)
	if b, err := exec.Command(bin+"/radio-controller", "-restore", backupDir, "-data", busy).CombinedOutput(); err == nil || !strings.Contains(string(b), "not empty") {
		t.Errorf("restore into a folder with data: err %v, output %s; want a refusal saying it is not empty", err, b)
	}
	newDir := filepath.Join(dir, "restored")
	if b, err := exec.Command(bin+"/radio-controller", "-restore", backupDir, "-data", newDir).CombinedOutput(); err != nil {
		t.Fatalf("radio-controller -restore: %v\n%s", err, b)
	}
	ctl = startController(t, newDir, "-mqtt", "127.0.0.1:"+port)

	// Every acknowledged record is there, once.
	stored := storedEvents(t, newDir)
	lost := 0
	for k := range before {
		if stored[k] != 1 {
			if lost < 10 {
				t.Errorf("event %s/%d, acknowledged before the backup, is stored %d times in the restored registry", k.node, k.seq, stored[k])
			}
			lost++
		}
	}
	t.Logf("restored registry: %d events, %d of them acknowledged before the backup began, %d lost", len(stored), len(before), lost)
	evs := ctl.waitPlays(t, play.Command, time.Second, func(e []playEvent) bool { return count(e, "finished") == 1 })
	if count(evs, "started") != 1 {
		t.Errorf("the real node's proof of play after the restore: %+v", evs)
	}

	// The recording, byte for byte; the programme; the signing key.
	req, _ := http.NewRequest("GET", ctl.url+"/api/v1/media/"+m.SHA256+"/audio", nil)
	req.Header.Set("Authorization", "Bearer "+ctl.token) // the token came back with the registry
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	io.Copy(h, resp.Body)
	resp.Body.Close()
	if got := hex.EncodeToString(h.Sum(nil)); resp.StatusCode != http.StatusOK || got != m.SHA256 {
		t.Errorf("restored recording: HTTP %d, sha256 %s; want 200, %s", resp.StatusCode, got, m.SHA256)
	}
	var progs []struct {
		Name  string `json:"name"`
		Items int    `json:"items"`
	}
	ctl.mustCall(t, "GET", "/api/v1/schedules", nil, &progs)
	if len(progs) != 1 || progs[0].Name != "x-an-phu" || progs[0].Items != 1 {
		t.Errorf("restored programmes = %+v, want x-an-phu with 1 bulletin", progs)
	}
	var keys2 struct {
		Current struct {
			ID string `json:"id"`
		} `json:"current"`
	}
	ctl.mustCall(t, "GET", "/api/v1/keys", nil, &keys2)
	if keys2.Current.ID != keys.Current.ID {
		t.Errorf("restored signing key %s, want %s", keys2.Current.ID, keys.Current.ID)
	}

	// The node left behind comes back to the restored controller and
	// applies its desired state, newer than what the lost one sent.
	rev := waitDesiredRev(t, ctl, "bk-real", func(applied, issued int64) bool { return applied == issued && applied > lostRev })
	t.Logf("bk-real applied revision %d from the lost controller, then %d from the restored one", lostRev, rev)
}

// waitDesiredRev waits until cond holds on the revision node reports it
// applied and the one the registry last issued to it, and returns the
// applied one.
func waitDesiredRev(t *testing.T, ctl *controller, node string, cond func(applied, issued int64) bool) int64 {
	t.Helper()
	var applied, issued int64
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var n struct {
			Online bool `json:"online"`
			State  *struct {
				DesiredRev int64 `json:"desired_rev"`
			} `json:"state"`
		}
		ctl.mustCall(t, "GET", "/api/v1/nodes/"+node, nil, &n)
		if n.State != nil {
			applied = n.State.DesiredRev
		}
		if r := sqliteRows(t, ctl.dir, "SELECT desired_rev FROM nodes WHERE id = ?", node); len(r) == 1 {
			issued, _ = r[0][0].(int64)
		}
		if n.Online && cond(applied, issued) {
			return applied
		}
	}
	t.Fatalf("%s: applied desired revision %d, issued %d: the condition never held", node, applied, issued)
	return 0
}
