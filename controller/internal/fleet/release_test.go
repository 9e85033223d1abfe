package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/release"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// A release binary goes only to a node an unfinished update names it for:
// not to the zone's node still waiting its turn, not to another commune's
// node, and no longer once the node answered. The rollout halts at its
// failure threshold and the waiting node never gets the command.
func TestReleaseFetchOnlyForAnUpdateUnderWay(t *testing.T) {
	var rel *release.Manager
	e := newEnv(t, func(c *Config) {
		var err error
		rel, err = release.New(context.Background(), release.Config{Dir: t.TempDir(), Registry: c.Registry, Logger: c.Logger, Now: c.Now})
		if err != nil {
			t.Fatal(err)
		}
		c.Releases = rel
	})
	bin := make([]byte, 40000)
	rand.Read(bin)
	r, err := rel.Add(e.ctx, bytes.NewReader(bin), "1.2.0", "arm64", "admin")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a1", "a2", "b1"} {
		if err := e.reg.UpsertNodeState(e.ctx, registry.NodeState{NodeID: id, Online: true, State: []byte(`{"node":"` + id + `","online":true,"version":"1.1.0"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	a1, a2, b1 := e.connect("a1"), e.connect("a2"), e.connect("b1")
	ro, err := rel.Start(e.ctx, release.Request{Version: "1.2.0", Zone: "za"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if ro.Parallel != 1 || ro.MaxFailures != 1 || len(ro.Nodes) != 2 {
		t.Fatalf("rollout %+v: want 2 nodes, one at a time, halting at 1 failure", ro)
	}
	send := func(ctx context.Context, node string, c nodeproto.Command, by string) (nodeproto.Command, error) {
		return e.fl.Send(ctx, Target{Node: node}, c, by)
	}
	if err := rel.Step(e.ctx, send); err != nil {
		t.Fatal(err)
	}
	// a1 (first in the zone) gets the command, signed twice over.
	a1.waitFor("the update command", func(m map[string][][]byte) bool { return len(m[nodeproto.LeafCmd]) == 1 })
	var cmd nodeproto.Command
	if err := (nodeproto.Keyring{e.cfg.Signer.Key().ID: e.cfg.Signer.Key().Pub}).Open(a1.msgs[nodeproto.LeafCmd][0], &cmd); err != nil {
		t.Fatal(err)
	}
	got, err := nodeproto.Keyring{rel.Key().ID: rel.Key().Pub}.OpenRelease(cmd.Update.Release)
	if err != nil || got.SHA256 != r.SHA256 || got.Version != "1.2.0" {
		t.Fatalf("update command carries %+v: %v", got, err)
	}
	if _, err := (nodeproto.Keyring{e.cfg.Signer.Key().ID: e.cfg.Signer.Key().Pub}).OpenRelease(cmd.Update.Release); err == nil {
		t.Fatal("the release verifies with the command key: the keys are not apart")
	}

	all := []int{0, 1, 2}
	b1.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: r.SHA256, Chunks: all})
	a2.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: r.SHA256, Chunks: all})
	a1.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: r.SHA256, Chunks: all})
	a1.waitFor("the release's chunks", func(m map[string][][]byte) bool { return chunksOf(m[nodeproto.LeafChunk], r.SHA256) == 3 })
	for _, n := range []*node{a2, b1} {
		n.waitFor("a refusal", func(m map[string][][]byte) bool { return refusedAt(m[nodeproto.LeafChunk], r.SHA256) >= 0 })
		if k := chunksOf(n.msgs[nodeproto.LeafChunk], r.SHA256); k != 0 {
			t.Errorf("%s got %d chunks of a release no update named for it", n.id, k)
		}
	}

	// a1's new version failed: the rollout halts, a2 is never sent it, and
	// a1 may no longer fetch it.
	if err := e.reg.RecordReply(e.ctx, registry.CommandReply{CommandID: cmd.ID, NodeID: "a1", Code: int(nodeproto.CodeUpdateFailed), Reason: "version 1.2.0 stopped before it was healthy"}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := rel.Step(e.ctx, send); err != nil {
			t.Fatal(err)
		}
	}
	ro, err = e.reg.GetRollout(e.ctx, ro.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ro.Status != registry.RolloutHalted || ro.Nodes[0].Status != registry.RolloutFailed || ro.Nodes[1].Status != registry.RolloutPending {
		t.Fatalf("after a1 failed: %+v", ro)
	}
	if !strings.Contains(ro.Nodes[0].Reason, "update_failed") {
		t.Errorf("a1's reason %q", ro.Nodes[0].Reason)
	}
	if n := len(a2.msgs[nodeproto.LeafCmd]); n != 0 {
		t.Errorf("a2 got %d commands from a halted rollout", n)
	}
	before := len(a1.msgs[nodeproto.LeafChunk])
	a1.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: r.SHA256, Chunks: all})
	a1.waitFor("a refusal after its update ended", func(m map[string][][]byte) bool {
		return refusedAt(m[nodeproto.LeafChunk][before:], r.SHA256) >= 0
	})
	if _, err := rel.Start(e.ctx, release.Request{Version: "9.9.9", Zone: "za"}, "admin"); err == nil {
		t.Error("a rollout of a release that does not exist started")
	}
}
