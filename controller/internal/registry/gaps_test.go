package registry

import (
	"context"
	"path/filepath"
	"testing"
)

// A live session's gap report is stored with its record, and is part of
// what makes two records under one name the same.
func TestPlayEventGapsStored(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)
	ctx := context.Background()
	at := testNow().Truncate(1e6)
	ev := PlayEvent{NodeID: "n1", Epoch: "e1", Seq: 1, Type: "finished", ItemID: "relay-1", At: at, PlayedMS: 20000, Gaps: 2, GapMS: 4780}
	if n, err := db.InsertPlayEvents(ctx, []PlayEvent{ev, ev}); err != nil || n != 1 {
		t.Fatalf("insert: %d new, %v; want 1", n, err)
	}
	got, err := db.ListPlayEvents(ctx, PlayFilter{ItemID: "relay-1"})
	if err != nil || len(got) != 1 || got[0].Gaps != 2 || got[0].GapMS != 4780 {
		t.Fatalf("stored %+v %v, want gaps 2 gap_ms 4780", got, err)
	}
	other := ev
	other.GapMS = 100
	res, err := db.StorePlayEvents(ctx, []PlayEvent{other})
	if err != nil || len(res.Conflicts) != 1 {
		t.Errorf("the same name with another gap report: %+v %v, want a conflict", res, err)
	}
}
