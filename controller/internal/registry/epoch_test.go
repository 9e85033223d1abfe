package registry

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func playEvent(node, epoch string, seq uint64, typ string, at time.Time) PlayEvent {
	return PlayEvent{NodeID: node, Epoch: epoch, Seq: seq, Type: typ, ItemID: "c-bulletin", Media: strings.Repeat("a", 64),
		At: at, PlayAt: at, Priority: "normal", ReceivedAt: at.Add(time.Second)}
}

// The same seq in two epochs (a replaced box, an outbox that lost its
// counter) names two records: both are stored, neither is a conflict.
func TestPlayEventEpochsDoNotCollide(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	t0 := testNow().Truncate(time.Millisecond)
	batch := []PlayEvent{
		playEvent("n1", "", 1, "started", t0),
		playEvent("n1", "e1", 1, "finished", t0.Add(time.Minute)),
		playEvent("n1", "e2", 1, "failed", t0.Add(2*time.Minute)),
	}
	res, err := db.StorePlayEvents(ctx, batch)
	if err != nil || res.New != 3 || len(res.Conflicts) != 0 {
		t.Fatalf("StorePlayEvents = %+v %v, want 3 new, no conflict", res, err)
	}
	// The whole batch again: nothing new, nothing flagged.
	if res, err := db.StorePlayEvents(ctx, batch); err != nil || res.New != 0 || len(res.Conflicts) != 0 {
		t.Fatalf("the same batch again = %+v %v, want nothing new", res, err)
	}
	got, err := db.ListPlayEvents(ctx, PlayFilter{NodeID: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []PlayEvent{batch[2], batch[1], batch[0]}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("stored (-want +got):\n%s", d)
	}
}

// The attack of issue 9: someone holding the node's secret pre-claims the
// next number with a forged "failed"; the node's real started under that
// number must be stored and both flagged, not acknowledged away.
func TestDifferingDuplicateIsKeptAndFlagged(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	t0 := testNow().Truncate(time.Millisecond)
	forged := playEvent("n1", "e1", 15, "failed", t0)
	forged.Reason = "content_unavailable"
	real := playEvent("n1", "e1", 15, "started", t0.Add(3*time.Second))
	real.OffsetUS = 640
	if res, err := db.StorePlayEvents(ctx, []PlayEvent{forged}); err != nil || res.New != 1 {
		t.Fatalf("forged = %+v %v", res, err)
	}
	res, err := db.StorePlayEvents(ctx, []PlayEvent{real, playEvent("n1", "e1", 16, "finished", t0.Add(time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	if res.New != 2 || len(res.Conflicts) != 1 || res.Conflicts[0].Type != "started" || !res.Conflicts[0].Conflict {
		t.Fatalf("real events = %+v, want 2 new with the started one reported as a conflict", res)
	}
	// Resending either side changes nothing: each is stored once.
	for _, e := range []PlayEvent{real, forged} {
		if res, err := db.StorePlayEvents(ctx, []PlayEvent{e}); err != nil || res.New != 0 || len(res.Conflicts) != 0 {
			t.Errorf("resent %s = %+v %v, want nothing new", e.Type, res, err)
		}
	}
	// A third content under the same name is kept too.
	third := forged
	third.Reason = "another lie"
	if res, err := db.StorePlayEvents(ctx, []PlayEvent{third}); err != nil || res.New != 1 || len(res.Conflicts) != 1 {
		t.Errorf("third content = %+v %v, want stored as a conflict", res, err)
	}
	got, err := db.ListPlayEvents(ctx, PlayFilter{NodeID: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	byType := map[string][]bool{}
	for _, e := range got {
		byType[e.Type+" "+e.Reason] = append(byType[e.Type+" "+e.Reason], e.Conflict)
	}
	want := map[string][]bool{"failed content_unavailable": {true}, "failed another lie": {true}, "started ": {true}, "finished ": {false}}
	if d := cmp.Diff(want, byType); d != "" {
		t.Errorf("stored records and their conflict flags (-want +got):\n%s", d)
	}
	// The real start counts in the live coverage mirror too.
	if out := db.live.nodes["n1"].items["c-bulletin"]; out == nil || !out.Started || !out.Finished {
		t.Errorf("live outcome of c-bulletin = %+v, want started and finished", out)
	}
}

// A registry from before epochs keeps its proof of play through the
// migration (as epoch ""), and a node's first epoch can reuse its numbers.
func TestPlayEventEpochMigrationKeepsRecords(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	all, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	before := -1
	for i, m := range all {
		if strings.Contains(m.name, "play_event_epoch") {
			before = i
		}
	}
	if before < 0 {
		t.Fatal("no play_event_epoch migration")
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all[:before] {
		if _, err := raw.Exec(m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	t0 := testNow().Truncate(time.Millisecond)
	if _, err := raw.Exec(fmt.Sprintf(`PRAGMA user_version = %d;
		INSERT INTO play_events(node_id, seq, type, item_id, media, at, play_at, offset_us, played_ms, priority, reason, received_at)
		VALUES ('n1', 15, 'started', 'c-old', '', %d, %d, 812, 0, 'normal', '', %d)`, before, t0.UnixMilli(), t0.UnixMilli(), t0.UnixMilli())); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db := open(t, path)
	got, err := db.ListPlayEvents(ctx, PlayFilter{NodeID: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	old := PlayEvent{NodeID: "n1", Seq: 15, Type: "started", ItemID: "c-old", At: t0, PlayAt: t0, OffsetUS: 812, Priority: "normal", ReceivedAt: t0}
	if d := cmp.Diff([]PlayEvent{old}, got); d != "" {
		t.Fatalf("after migration (-want +got):\n%s", d)
	}
	if res, err := db.StorePlayEvents(ctx, []PlayEvent{playEvent("n1", "e1", 15, "finished", t0)}); err != nil || res.New != 1 || len(res.Conflicts) != 0 {
		t.Errorf("seq 15 of a new epoch = %+v %v, want stored, no conflict", res, err)
	}
}
