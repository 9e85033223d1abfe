package registry

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// What the desired-state publisher reads at start: the revision and hash
// last published to each node that is not revoked, and the revision each
// node says it applied; a node's page reads that node's state only.
func TestDesiredSyncsAndOneNodesState(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)
	if err := db.RevokeNode(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"h1", "h2"} {
		if _, err := db.NumberDesired(ctx, "n1", h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.NumberDesired(ctx, "n2", "x"); err != nil {
		t.Fatal(err)
	}
	for node, rev := range map[string]int{"n1": 2, "n2": 0} {
		st, _ := json.Marshal(map[string]any{"node": node, "online": true, "desired_rev": rev})
		if err := db.UpsertNodeState(ctx, NodeState{NodeID: node, Online: true, State: st}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.DesiredSyncs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]DesiredSync{"n1": {Rev: 2, Hash: "h2", Applied: 2}, "n2": {Rev: 1, Hash: "x"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("DesiredSyncs (-want +got):\n%s", d)
	}
	states, err := db.NodeStatesOf(ctx, []string{"n2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 1 || states[0].NodeID != "n2" {
		t.Errorf("NodeStatesOf(n2) = %+v, want n2's alone", states)
	}
}
