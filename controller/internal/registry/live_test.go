package registry

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The in-memory mirror says what SQLite says, after writes, duplicates,
// going offline, and after reopening the file.
func TestLiveMatchesSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	db := open(t, path)
	seed(t, db)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	day := now.Add(-3 * time.Hour)
	for i, n := range []string{"n1", "n2"} {
		if err := db.UpsertNodeState(ctx, NodeState{NodeID: n, Online: true, State: json.RawMessage(`{}`), UpdatedAt: now.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	evs := []PlayEvent{
		{NodeID: "n1", Seq: 1, Type: "started", ItemID: "a-1", At: now.Add(-time.Hour)},
		{NodeID: "n1", Seq: 2, Type: "finished", ItemID: "a-1", At: now.Add(-time.Hour + time.Minute), PlayedMS: 60000},
		{NodeID: "n2", Seq: 1, Type: "started", ItemID: "a-1", At: now.Add(-time.Hour)},
		{NodeID: "n2", Seq: 2, Type: "interrupted", ItemID: "a-1", At: now.Add(-time.Hour + 10*time.Second), PlayedMS: 10000},
		{NodeID: "n3", Seq: 1, Type: "failed", ItemID: "b-1", At: now.Add(-5 * time.Hour)}, // before day: not an outcome since day
		{NodeID: "n3", Seq: 2, Type: "failed", ItemID: "b-2", At: now.Add(-time.Minute)},
	}
	if _, err := db.InsertPlayEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	// The same batch again, with a changed row: duplicates are not stored,
	// so the mirror must not count them either.
	dup := append([]PlayEvent(nil), evs...)
	dup[3].Type = "finished"
	if _, err := db.InsertPlayEvents(ctx, dup); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkOffline(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	check := func(db *DB, when string) {
		t.Helper()
		for _, nodes := range [][]string{nil, {"n1", "n3"}} {
			got, err := db.Live(ctx, nodes, day)
			if err != nil {
				t.Fatal(err)
			}
			live, _ := db.NodeLiveness(ctx, nodes)
			last, _ := db.LastPlays(ctx, nodes)
			out, _ := db.PlayOutcomesSince(ctx, day, nodes)
			want := LiveView{live, last, out}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("%s, nodes %v: memory vs SQLite (-sqlite +memory):\n%s", when, nodes, d)
			}
			stations, _ := db.NodeStations(ctx, nil)
			wantSt := map[string]string{}
			all, _ := db.ListNodes(ctx, "")
			for _, n := range all {
				if !n.Revoked {
					wantSt[n.ID] = n.StationID
				}
			}
			if d := cmp.Diff(wantSt, stations); d != "" {
				t.Errorf("%s: node stations (-sqlite +memory):\n%s", when, d)
			}
			byStation := map[string]string{}
			db.ReadLive(day, func(lr LiveReader) {
				for _, st := range []string{"st-1", "st-2"} {
					lr.StationNodes(st, func(id string, v NodeView) {
						byStation[id] = st
						if v.Station() != st || !v.Enrolled() {
							t.Errorf("%s: node %s of %s reads as %s, enrolled %v", when, id, st, v.Station(), v.Enrolled())
						}
						l, reported, last := v.Liveness()
						if nodes != nil {
							return // got holds only those nodes
						}
						if reported != (got.Liveness[id] != Liveness{}) || (reported && l != got.Liveness[id]) || !last.Equal(got.LastPlay[id]) {
							t.Errorf("%s: node %s: %v %v %v, Live says %v %v", when, id, l, reported, last, got.Liveness[id], got.LastPlay[id])
						}
					})
				}
			})
			if d := cmp.Diff(wantSt, byStation); nodes == nil && d != "" {
				t.Errorf("%s: nodes by station (-sqlite +memory):\n%s", when, d)
			}
		}
	}
	if err := db.RevokeNode(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeNode(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetNodeSecret(ctx, "n2", []byte("new")); err != nil { // re-enabled
		t.Fatal(err)
	}
	check(db, "after writes")
	if got, _ := db.Live(ctx, nil, day); got.Outcomes[PlayKey{"n2", "a-1"}].Finished || got.Liveness["n2"].Online {
		t.Errorf("n2: %+v %+v", got.Outcomes[PlayKey{"n2", "a-1"}], got.Liveness["n2"])
	}
	db.Close()
	check(open(t, path), "after reopening")
}
