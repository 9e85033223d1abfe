package registry

import (
	"context"
	"encoding/json"
	"fmt"
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
	now := testNow().Truncate(time.Millisecond)
	day := now.Add(-3 * time.Hour)
	for i, n := range []string{"n1", "n2"} {
		state := `{}`
		if n == "n1" {
			state = `{"node": "n1", "online": true, "audio": "silent"}` // no sound device
		}
		if err := db.UpsertNodeState(ctx, NodeState{NodeID: n, Online: true, State: json.RawMessage(state), UpdatedAt: now.Add(time.Duration(i) * time.Second)}); err != nil {
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
		// Played into n1's silent sink: finished, but nobody heard it.
		{NodeID: "n1", Seq: 3, Type: "started", ItemID: "a-2", At: now.Add(-30 * time.Minute), Silent: true},
		{NodeID: "n1", Seq: 4, Type: "finished", ItemID: "a-2", At: now.Add(-29 * time.Minute), PlayedMS: 60000, Silent: true},
		// A failed event says nothing of what was heard, whatever it claims.
		{NodeID: "n3", Seq: 3, Type: "failed", ItemID: "b-3", At: now.Add(-time.Minute), Silent: true},
		// Measured by n2's capture: a-3 heard; a-4 cut, resumed, and its
		// second stretch not heard (a cable cut halfway); n3's failed
		// record claims heard, which means nothing.
		{NodeID: "n2", Seq: 3, Type: "started", ItemID: "a-3", At: now.Add(-20 * time.Minute)},
		{NodeID: "n2", Seq: 4, Type: "finished", ItemID: "a-3", At: now.Add(-19 * time.Minute), PlayedMS: 60000, Heard: ptr(true), HeardCorr: ptr(0.93), HeardDB: ptr(-21.5), HeardBgDB: ptr(-60.0)},
		{NodeID: "n2", Seq: 5, Type: "started", ItemID: "a-4", At: now.Add(-18 * time.Minute)},
		{NodeID: "n2", Seq: 6, Type: "interrupted", ItemID: "a-4", At: now.Add(-17 * time.Minute), PlayedMS: 60000, Heard: ptr(true), HeardCorr: ptr(0.9), HeardDB: ptr(-20.0), HeardBgDB: ptr(-60.0)},
		{NodeID: "n2", Seq: 7, Type: "resumed", ItemID: "a-4", At: now.Add(-16 * time.Minute)},
		{NodeID: "n2", Seq: 8, Type: "finished", ItemID: "a-4", At: now.Add(-15 * time.Minute), PlayedMS: 120000, Heard: ptr(false), HeardCorr: ptr(0.02), HeardDB: ptr(-59.0), HeardBgDB: ptr(-60.0)},
		{NodeID: "n3", Seq: 4, Type: "failed", ItemID: "b-4", At: now.Add(-time.Minute), Heard: ptr(true)},
	}
	if _, err := db.InsertPlayEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	// The same batch again, with a changed row: duplicates are not stored,
	// so the mirror must not count them either; the changed row is stored
	// as a conflict, so the mirror counts it as SQLite does.
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
			got := mirror(t, db, nodes, day)
			live, _ := db.sqlLiveness(ctx, nodes)
			last, _ := db.LastPlays(ctx, nodes)
			out, _ := db.sqlOutcomes(ctx, day, nodes)
			if d := cmp.Diff(liveView{live, last, out}, got); d != "" {
				t.Errorf("%s, nodes %v: memory vs SQLite (-sqlite +memory):\n%s", when, nodes, d)
			}
			if nodes != nil {
				continue
			}
			wantSt := map[string]string{}
			all, _ := db.ListNodes(ctx, "")
			for _, n := range all {
				if !n.Revoked {
					wantSt[n.ID] = n.StationID
				}
			}
			byStation := map[string]string{}
			db.ReadLive(day, func(lr LiveReader) {
				for _, st := range []string{"st-1", "st-2"} {
					lr.StationNodes(st, func(id string, v NodeView) {
						byStation[id] = st
						if v.Station() != st || !v.Enrolled() {
							t.Errorf("%s: node %s of %s reads as %s, enrolled %v", when, id, st, v.Station(), v.Enrolled())
						}
					})
				}
			})
			if d := cmp.Diff(wantSt, byStation); d != "" {
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
	if got := mirror(t, db, nil, day); !got.Outcomes[PlayKey{"n2", "a-1"}].Finished || got.Liveness["n2"].Online {
		t.Errorf("n2: %+v %+v", got.Outcomes[PlayKey{"n2", "a-1"}], got.Liveness["n2"])
	}
	got := mirror(t, db, nil, day)
	if o := got.Outcomes[PlayKey{"n1", "a-2"}]; !o.Finished || !o.Silent {
		t.Errorf("n1's play into its silent sink reads %+v, want finished and silent", o)
	}
	if o := got.Outcomes[PlayKey{"n1", "a-1"}]; o.Silent {
		t.Errorf("n1's play through its sound device reads %+v, want not silent", o)
	}
	if o := got.Outcomes[PlayKey{"n3", "b-3"}]; !o.Failed || o.Silent {
		t.Errorf("a failed item reads %+v, want failed and not silent", o)
	}
	if evs, err := db.ListPlayEvents(ctx, PlayFilter{NodeID: "n1", ItemID: "a-2"}); err != nil || len(evs) != 2 || !evs[0].Silent || !evs[1].Silent {
		t.Errorf("stored proof of play of n1's silent play: %+v %v, want both records silent", evs, err)
	}
	for _, tc := range []struct {
		key     PlayKey
		verdict string
	}{{PlayKey{"n2", "a-3"}, HeardYes}, {PlayKey{"n2", "a-4"}, HeardNo}, {PlayKey{"n1", "a-1"}, HeardNotMeasured}, {PlayKey{"n3", "b-4"}, ""}} {
		if v := got.Outcomes[tc.key].HeardVerdict(); v != tc.verdict {
			t.Errorf("%v: heard verdict %q, want %q (%+v)", tc.key, v, tc.verdict, got.Outcomes[tc.key])
		}
	}
	if evs, err := db.ListPlayEvents(ctx, PlayFilter{NodeID: "n2", ItemID: "a-4"}); err != nil || len(evs) != 4 {
		t.Errorf("n2's a-4: %v %v", evs, err)
	} else if v, corr, db := HeardOf(evs); v != HeardNo || corr == nil || *corr != 0.02 || db == nil || *db != -59 {
		t.Errorf("n2's a-4 from its stored records: %q corr %v db %v, want not heard at 0.02, -59 dBFS", v, corr, db)
	}
	if !got.Liveness["n1"].NoSound || got.Liveness["n2"].NoSound {
		t.Errorf("no sound device: n1 %+v, n2 %+v; want n1 only", got.Liveness["n1"], got.Liveness["n2"])
	}
	db.Close()
	db = open(t, path)
	check(db, "after reopening")
	// A sound card fitted: the next state clears the warning.
	if err := db.UpsertNodeState(ctx, NodeState{NodeID: "n1", Online: true, State: json.RawMessage(`{"node": "n1", "online": true, "audio": "alsa"}`), UpdatedAt: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	check(db, "after a sound device came back")
	if got := mirror(t, db, nil, day); got.Liveness["n1"].NoSound {
		t.Errorf("n1 reports audio alsa again but reads %+v", got.Liveness["n1"])
	}
}

// liveView is what the mirror knows of a set of nodes, in the shape of the
// SQLite queries below.
type liveView struct {
	Liveness map[string]Liveness     // nodes that ever reported a state
	LastPlay map[string]time.Time    // nodes that ever reported proof of play
	Outcomes map[PlayKey]PlayOutcome // records since the reader's time
}

// mirror reads the in-memory mirror of the given nodes (nil = every node
// the registry holds, revoked ones too) as the coverage view does.
func mirror(t *testing.T, db *DB, nodes []string, since time.Time) liveView {
	t.Helper()
	if nodes == nil {
		all, err := db.ListNodes(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range all {
			nodes = append(nodes, n.ID)
		}
	}
	v := liveView{map[string]Liveness{}, map[string]time.Time{}, map[PlayKey]PlayOutcome{}}
	db.ReadLive(since, func(lr LiveReader) {
		for _, id := range nodes {
			n, ok := lr.View(id)
			if !ok {
				continue
			}
			l, reported, last := n.Liveness()
			if reported {
				v.Liveness[id] = l
			}
			if !last.IsZero() {
				v.LastPlay[id] = last
			}
			for item, it := range n.n.items {
				if !it.last.Before(since) {
					v.Outcomes[PlayKey{id, item}] = n.Outcome(item)
				}
			}
		}
	})
	return v
}

// sqlLiveness reads from SQLite what the mirror says of the nodes' states
// (nil = all).
func (db *DB) sqlLiveness(ctx context.Context, nodes []string) (map[string]Liveness, error) {
	where, args := inNodes("node_id", nodes)
	rows, err := db.r.QueryContext(ctx, "SELECT node_id, online, updated_at, "+noSoundSQL+" FROM node_state WHERE "+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]Liveness{}
	for rows.Next() {
		var n string
		var l Liveness
		var at int64
		if err := rows.Scan(&n, &l.Online, &at, &l.NoSound); err != nil {
			return nil, err
		}
		l.UpdatedAt = fromMS(at)
		out[n] = l
	}
	return out, rows.Err()
}

// sqlOutcomes reads from SQLite what the mirror says of the nodes'
// proof of play since a time (nil = all), by node and item.
func (db *DB) sqlOutcomes(ctx context.Context, since time.Time, nodes []string) (map[PlayKey]PlayOutcome, error) {
	where, args := inNodes("node_id", nodes)
	rows, err := db.r.QueryContext(ctx, `SELECT node_id, item_id,
		max(type IN ('started', 'resumed')), max(type = 'finished'), max(type = 'interrupted'), max(type = 'failed'), max(silent AND type <> 'failed'), max(played_ms),
		coalesce(max(heard = 1 AND type <> 'failed'), 0), coalesce(max(heard = 0 AND type <> 'failed'), 0)
		FROM play_events WHERE at >= ? AND `+where+` GROUP BY node_id, item_id`, append([]any{ms(since)}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("registry: play outcomes: %w", err)
	}
	defer rows.Close()
	out := map[PlayKey]PlayOutcome{}
	for rows.Next() {
		var k PlayKey
		var o PlayOutcome
		if err := rows.Scan(&k.Node, &k.Item, &o.Started, &o.Finished, &o.Interrupted, &o.Failed, &o.Silent, &o.PlayedMS, &o.Heard, &o.NotHeard); err != nil {
			return nil, err
		}
		out[k] = o
	}
	return out, rows.Err()
}

func ptr[T any](v T) *T { return &v }
