package node

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// A node whose state file is corrupted (a bad SD card, a power cut on a
// file system without ordered writes, a hand edit) keeps the keys it was
// rotated to and the command ids it has seen, from its last good copy, and
// says in its State that its state file was unreadable.
func TestCorruptStateKeepsRotatedKeys(t *testing.T) {
	f, cfg := newFixture(t)
	states := make(chan nodeproto.State, 100)
	f.ctl.Subscribe("radio/v1/node/n1/state", 1, func(_ mqtt.Client, m mqtt.Message) {
		var s nodeproto.State
		if json.Unmarshal(m.Payload(), &s) == nil && s.Online {
			states <- s
		}
	}).Wait()
	stop := runNode(t, cfg)

	// Rotation: desired state signed with the enrolment key k1 moves the
	// node to k2 only.
	pub2, priv2, _ := ed25519.GenerateKey(nil)
	f.publish("radio/v1/node/n1/desired", true, f.sign("k1", f.priv, nodeproto.Desired{Node: "n1", Rev: 1, Issued: now(), Volume: 50,
		Keys: []nodeproto.Key{{ID: "k2", Pub: pub2}}}))
	if r := f.reply("desired:1"); !r.OK {
		t.Fatalf("rotation refused: %+v", r)
	}
	volume := func(id string, v int) []byte {
		return f.sign("k2", priv2, nodeproto.Command{ID: id, Type: nodeproto.CmdVolume, Node: "n1", Issued: now(), Expires: now() + 600_000, Volume: &v})
	}
	seen := volume("c-before", 40)
	f.publish("radio/v1/node/n1/cmd", false, seen)
	if r := f.reply("c-before"); !r.OK {
		t.Fatalf("command signed with the rotated key refused: %+v", r)
	}
	stop()

	if err := os.WriteFile(filepath.Join(cfg.DataDir, "node-state.json"), []byte(`{"desired":{"node":"n1","rev":`), 0o600); err != nil {
		t.Fatal(err)
	}
	for len(states) > 0 {
		<-states
	}
	stop = runNode(t, cfg)
	defer stop()

	f.publish("radio/v1/node/n1/cmd", false, volume("c-after", 30))
	if r := f.reply("c-after"); !r.OK {
		t.Errorf("after a corrupt state file, a command signed with the rotated key: %+v, want accepted", r)
	}
	f.publish("radio/v1/node/n1/cmd", false, seen)
	if r := f.reply("c-before"); r.Code != nodeproto.CodeReplayed {
		t.Errorf("after a corrupt state file, a replayed command: %+v, want replayed", r)
	}
	timeout := time.After(20 * time.Second)
	for {
		select {
		case s := <-states:
			if strings.Contains(s.Error, "node state unreadable") {
				if s.DesiredRev != 1 {
					t.Errorf("state reports desired rev %d, want 1", s.DesiredRev)
				}
				return
			}
			t.Logf("state without the problem: %+v", s)
		case <-timeout:
			t.Fatal("the node's State never said its state file was unreadable")
		}
	}
}

// An outbox whose counter is unreadable is loud: the node logs it and says
// so in its State, and its new records carry a new epoch.
func TestDamagedOutboxReportedInState(t *testing.T) {
	f, cfg := newFixture(t)
	states := make(chan nodeproto.State, 100)
	f.ctl.Subscribe("radio/v1/node/n1/state", 1, func(_ mqtt.Client, m mqtt.Message) {
		var s nodeproto.State
		if json.Unmarshal(m.Payload(), &s) == nil && s.Online {
			states <- s
		}
	}).Wait()
	ob := filepath.Join(cfg.DataDir, "outbox")
	os.MkdirAll(ob, 0o755)
	os.WriteFile(filepath.Join(ob, "epoch"), []byte("0123456789abcdef\n"), 0o644)
	os.WriteFile(filepath.Join(ob, "seq"), []byte("\x00\x00"), 0o644) // zeroed by a power cut
	stop := runNode(t, cfg)
	defer stop()
	select {
	case s := <-states:
		if !strings.Contains(s.Error, "outbox counter") || !strings.Contains(s.Error, "new epoch") {
			t.Errorf("State.Error = %q, want it to report the outbox counter and the new epoch", s.Error)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no state from the node")
	}
	b, _ := os.ReadFile(filepath.Join(ob, "epoch"))
	if e := strings.TrimSpace(string(b)); e == "0123456789abcdef" || !nodeproto.ValidEpoch(e) {
		t.Errorf("epoch after a damaged counter = %q, want a new one", e)
	}
}
