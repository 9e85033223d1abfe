package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Someone holding a node's secret (and its disk: the outbox's counter and
// epoch sit beside the config) pre-claims the numbers the node will give its
// next proof of play, with forged "failed" records, with and without the
// epoch. The node's real started/finished under those numbers must reach
// proof of play, flagged as conflicting, not be acknowledged away (issue 9:
// a forged failed with seq 15 hid the real started/finished 15/16).
func TestForgedProofOfPlayCannotHideRealOnes(t *testing.T) {
	dir := t.TempDir()
	ctl := startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	cfgPath := ctl.enrol(t, "f1", "z-center", dir, "silent")
	node := startNode(t, "f1", cfgPath, nil)
	ctl.waitOnline(t, "f1")
	m := ctl.upload(t, tone(t, dir, 440, 0.5))
	play := func() string {
		t.Helper()
		var resp struct{ Command string }
		ctl.mustCall(t, "POST", "/api/v1/play", map[string]any{"node": "f1", "media": m.SHA256, "delay_ms": 1500}, &resp)
		return resp.Command
	}
	first := play()
	ctl.waitPlays(t, first, 30*time.Second, func(e []playEvent) bool { return count(e, "finished") == 1 })
	waitOutboxEmpty(t, ctl, "f1")
	node.stop()

	// The attacker reads the node's disk and connects as the node.
	var cfg struct {
		ID, Secret string
		DataDir    string `json:"data_dir"`
	}
	b, _ := os.ReadFile(cfgPath)
	json.Unmarshal(b, &cfg)
	epoch, _ := os.ReadFile(filepath.Join(cfg.DataDir, "outbox", "epoch")) // absent before epochs existed
	seqText, err := os.ReadFile(filepath.Join(cfg.DataDir, "outbox", "seq"))
	if err != nil {
		t.Fatal(err)
	}
	next, err := strconv.ParseUint(strings.TrimSpace(string(seqText)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	next++
	acks := make(chan nodeproto.Ack, 10)
	o := mqtt.NewClientOptions().AddBroker("tcp://" + ctl.mqtt).SetClientID(cfg.ID).SetUsername(cfg.ID).SetPassword(cfg.Secret).SetCleanSession(true)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("attacker connect as f1: %v", tok.Error())
	}
	c.Subscribe(nodeproto.NodeTopic("f1", nodeproto.LeafAck), 1, func(_ mqtt.Client, msg mqtt.Message) {
		var a nodeproto.Ack
		if json.Unmarshal(msg.Payload(), &a) == nil {
			acks <- a
		}
	}).Wait()
	now := time.Now().UnixMilli()
	var forged []nodeproto.Event
	for _, e := range []string{strings.TrimSpace(string(epoch)), ""} {
		for s := next; s < next+2; s++ {
			forged = append(forged, nodeproto.Event{Epoch: e, Seq: s, Type: nodeproto.EventFailed, ID: "c-forged", At: now, Reason: "content_unavailable"})
		}
	}
	payload, _ := json.Marshal(nodeproto.Events{Node: "f1", Events: forged})
	if tok := c.Publish(nodeproto.NodeTopic("f1", nodeproto.LeafEvents), 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("attacker publish: %v", tok.Error())
	}
	acked := 0
	for acked < len(forged) {
		select {
		case a := <-acks:
			acked += len(a.Seqs)
		case <-time.After(20 * time.Second):
			t.Fatalf("forged events not acknowledged (%d of %d):\n%s", acked, len(forged), ctl.Log())
		}
	}
	c.Disconnect(100)
	ctl.waitPlays(t, "c-forged", 10*time.Second, func(e []playEvent) bool { return count(e, "failed") >= 2 })

	// The real node comes back and plays: its records use the claimed numbers.
	startNode(t, "f1-again", cfgPath, nil)
	ctl.waitOnline(t, "f1")
	second := play()
	evs := ctl.waitPlays(t, second, 30*time.Second, func(e []playEvent) bool {
		return count(e, "started") == 1 && count(e, "finished") == 1
	})
	waitOutboxEmpty(t, ctl, "f1")
	var rows []struct {
		Seq      uint64 `json:"seq"`
		Epoch    string `json:"epoch"`
		Type     string `json:"type"`
		Conflict bool   `json:"conflict"`
	}
	ctl.mustCall(t, "GET", "/api/v1/plays?item="+second, nil, &rows)
	var seqs []uint64
	for _, r := range rows {
		seqs = append(seqs, r.Seq)
		if r.Epoch != strings.TrimSpace(string(epoch)) || r.Epoch == "" {
			t.Errorf("real record %+v: want the node's epoch %q", r, epoch)
		}
		if !r.Conflict {
			t.Errorf("real record %+v under a forged number: want it flagged as a conflict", r)
		}
	}
	slices.Sort(seqs)
	if !slices.Equal(seqs, []uint64{next, next + 1}) {
		t.Errorf("real records have seqs %v, want the claimed %d and %d (the test did not hit the attack): %+v", seqs, next, next+1, evs)
	}
	if !strings.Contains(ctl.Log(), "proof of play conflict") {
		t.Errorf("the controller did not warn about the conflict")
	}
}

// waitOutboxEmpty waits until the node reports an empty outbox: every
// record it made was acknowledged.
func waitOutboxEmpty(t *testing.T, ctl *controller, node string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n struct {
			State *nodeproto.State `json:"state"`
		}
		ctl.mustCall(t, "GET", "/api/v1/nodes/"+node, nil, &n)
		if n.State != nil && n.State.Online && n.State.Outbox == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s still has unacknowledged proof of play: %+v", node, n.State)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
