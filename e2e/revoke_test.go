package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A node revoked with `radioctl node revoke` while it is connected is cut
// off at once and stays out: its live connection is closed, every reconnect
// (also from a freshly started process, as after a reboot) is refused as not
// authorized, and a command to its zone, which its neighbour plays, never
// reaches it. Against the embedded broker and against Debian's mosquitto
// running the configuration the controller writes.
func TestRevokeNode(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		dir := t.TempDir()
		revokeScenario(t, startController(t, filepath.Join(dir, "ctl")), dir, true)
	})
	t.Run("mosquitto", func(t *testing.T) {
		if _, err := exec.LookPath("mosquitto"); err != nil {
			if _, err := os.Stat("/usr/sbin/mosquitto"); err != nil {
				t.Fatal("mosquitto is not installed: run make test, which installs it")
			}
		}
		dir := t.TempDir()
		revokeScenario(t, startWithMosquitto(t, dir), dir, false)
	})
}

// A node refused by the broker: paho reports CONNACK code 5 ("not
// Authorized"), or 4 ("bad user name or password").
const revokeRefused = `msg="link: connect failed".*err="[^"]*(?:not Authorized|bad user name or password)`

func revokeScenario(t *testing.T, ctl *controller, dir string, embedded bool) {
	ctl.setupCommune(t)
	cfg := ctl.enrol(t, "v1", "z-center", dir, "silent")
	victim := startNode(t, "v1", cfg, nil)
	startNode(t, "v2", ctl.enrol(t, "v2", "z-center", dir, "silent"), nil)
	ctl.waitOnline(t, "v1", "v2")
	m := ctl.upload(t, tone(t, dir, 440, 0.5))
	zonePlay := func() string {
		t.Helper()
		var resp struct{ Command string }
		ctl.mustCall(t, "POST", "/api/v1/play", map[string]any{"zone": "z-center", "media": m.SHA256, "delay_ms": 1500}, &resp)
		if resp.Command == "" {
			t.Fatal("play: no command id")
		}
		return resp.Command
	}
	// Before: both nodes play a zone command, so that v1 not playing one
	// later means something.
	before := zonePlay()
	ctl.waitPlays(t, before, 60*time.Second, func(e []playEvent) bool { return count(e, "finished") == 2 })

	mark := len(victim.Log())
	ctl.radioctl(t, "node", "revoke", "v1")

	// Cut off at once: the node loses its connection without doing anything
	// (the embedded broker also logs the cut; Mosquitto, reloaded on SIGHUP,
	// logs nothing here).
	revokeWaitLog(t, victim, mark, `msg="link: connection lost"`, 30*time.Second)
	if embedded {
		ctl.wait(t, `msg="broker: node disconnected".* node=v1\b`, 10*time.Second)
	}
	var n struct {
		Revoked bool `json:"revoked"`
		Online  bool `json:"online"`
	}
	ctl.mustCall(t, "GET", "/api/v1/nodes/v1", nil, &n)
	if !n.Revoked || n.Online {
		t.Errorf("GET /api/v1/nodes/v1 after revocation: revoked=%v online=%v, want revoked and offline", n.Revoked, n.Online)
	}

	// A command to its zone while it keeps knocking: v2 plays it, v1 not.
	cmd := zonePlay()
	ctl.waitPlays(t, cmd, 60*time.Second, func(e []playEvent) bool { return count(e, "finished") >= 1 })
	// It keeps being refused (the first retry after a lost connection comes
	// within 15 s, jittered).
	revokeWaitLog(t, victim, mark, revokeRefused, 60*time.Second)
	if embedded {
		ctl.wait(t, `msg="broker: connect refused".* client=v1 `, 10*time.Second)
	}
	victim.stop()

	// A fresh process with the same config (the box rebooted) is refused on
	// its first attempt and on the next.
	reboot := startNode(t, "v1-reboot", cfg, nil)
	revokeWaitLog(t, reboot, 0, revokeRefused+`.* attempt=2`, 60*time.Second)
	reboot.stop()

	for _, p := range []struct {
		p    *proc
		from int
	}{{victim, mark}, {reboot, 0}} {
		log := p.p.Log()[p.from:]
		if revokeBackIn.MatchString(log) {
			t.Errorf("%s connected again after the revocation:\n%s", p.p.name, log)
		}
		if strings.Contains(log, cmd) {
			t.Errorf("%s received the zone command %s after the revocation:\n%s", p.p.name, cmd, log)
		}
	}
	// Nothing about the command in v1's durable outbox either.
	outbox := filepath.Join(dir, "v1-data", "outbox")
	ents, err := os.ReadDir(outbox)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if b, _ := os.ReadFile(filepath.Join(outbox, e.Name())); strings.Contains(string(b), cmd) {
			t.Errorf("v1's outbox holds an event of the zone command: %s", b)
		}
	}
	var evs []playEvent
	ctl.mustCall(t, "GET", "/api/v1/plays?item="+cmd, nil, &evs)
	for _, e := range evs {
		if e.NodeID != "v2" {
			t.Errorf("proof of play of the zone command from %s: %+v", e.NodeID, e)
		}
	}
	if count(evs, "started") != 1 || count(evs, "finished") != 1 {
		t.Errorf("proof of play of the zone command = %+v, want v2 started and finished", evs)
	}
}

// revokeBackIn is a node's log line for a connection the broker accepted.
var revokeBackIn = regexp.MustCompile(`msg="link: connected"`)

// revokeWaitLog waits for re in p's log past byte offset from (a point
// after the revocation); it fails at once if the node got back in.
func revokeWaitLog(t *testing.T, p *proc, from int, re string, timeout time.Duration) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for {
		log := p.Log()[from:]
		if revokeBackIn.MatchString(log) {
			t.Fatalf("%s connected again after the revocation:\n%s", p.name, log)
		}
		if rx.MatchString(log) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q within %s after the revocation:\n%s", p.name, re, timeout, p.Log()[from:])
		}
		select {
		case <-p.done:
			if !rx.MatchString(p.Log()[from:]) {
				t.Fatalf("%s exited while waiting for %q:\n%s", p.name, re, p.Log()[from:])
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
