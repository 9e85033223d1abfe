package registry

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func open(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func seed(t testing.TB, db *DB) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.CreateArea(ctx, Area{ID: "p-79", Kind: "province", Name: "TP Hồ Chí Minh"}))
	must(db.CreateArea(ctx, Area{ID: "x-1", ParentID: "p-79", Kind: "commune", Name: "Xã An Phú"}))
	must(db.CreateStation(ctx, Station{ID: "st-1", AreaID: "x-1", Name: "Đài xã", Kind: "ip"}))
	for _, id := range []string{"n1", "n2", "n3"} {
		must(db.CreateNode(ctx, Node{ID: id, StationID: "st-1", Name: "Cụm " + id, Lat: 10.7, Lon: 106.7}, []byte("$7$hash-"+id)))
	}
	must(db.CreateZone(ctx, Zone{ID: "z1", StationID: "st-1", Name: "Trung tâm", OffsetMS: 20}))
	must(db.SetZoneNodes(ctx, "z1", []string{"n1", "n2"}))
}

func TestRegistryRoundTripAndReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	db := open(t, path)
	seed(t, db)
	z, err := db.GetZone(ctx, "z1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"n1", "n2"}, z.Nodes); d != "" {
		t.Errorf("zone nodes (-want +got):\n%s", d)
	}
	if zs, _ := db.NodeZones(ctx, "n1"); !cmp.Equal(zs, []string{"z1"}) {
		t.Errorf("NodeZones(n1) = %v", zs)
	}
	if r1, _ := db.NextDesiredRev(ctx, "n1"); r1 != 1 {
		t.Errorf("first rev = %d", r1)
	}
	db.Close()

	db = open(t, path) // migrations are idempotent; data survives
	n, err := db.GetNode(ctx, "n2")
	if err != nil || n.Name != "Cụm n2" || !cmp.Equal(n.Zones, []string{"z1"}) {
		t.Fatalf("GetNode after reopen = %+v, %v", n, err)
	}
	if r2, _ := db.NextDesiredRev(ctx, "n1"); r2 != 2 {
		t.Errorf("rev after reopen = %d, want 2", r2)
	}
	h, revoked, err := db.NodeSecret(ctx, "n3")
	if err != nil || string(h) != "$7$hash-n3" || revoked {
		t.Errorf("NodeSecret = %q %v %v", h, revoked, err)
	}
	if err := db.RevokeNode(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	if _, revoked, _ := db.NodeSecret(ctx, "n3"); !revoked {
		t.Error("revocation not stored")
	}
}

func TestRegistryRejects(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)
	for name, tc := range map[string]struct {
		err  error
		want error
	}{
		"bad id":          {db.CreateNode(ctx, Node{ID: "N/1", StationID: "st-1"}, []byte("h")), ErrInvalid},
		"duplicate node":  {db.CreateNode(ctx, Node{ID: "n1", StationID: "st-1"}, []byte("h")), ErrExists},
		"unknown station": {db.CreateNode(ctx, Node{ID: "n9", StationID: "nope"}, []byte("h")), ErrNotFound},
		"bad kind":        {db.CreateStation(ctx, Station{ID: "st-2", AreaID: "x-1", Kind: "satellite"}), ErrInvalid},
		"commune orphan":  {db.CreateArea(ctx, Area{ID: "x-2", Kind: "commune", Name: "X"}), ErrInvalid},
		"zone unknown":    {db.SetZoneNodes(ctx, "z9", nil), ErrNotFound},
		"zone bad node":   {db.SetZoneNodes(ctx, "z1", []string{"ghost"}), ErrNotFound},
		"bad lat":         {db.CreateNode(ctx, Node{ID: "n8", StationID: "st-1", Lat: 91}, []byte("h")), ErrInvalid},
		"media bad sha":   {db.PutMedia(ctx, Media{SHA256: "xyz", Size: 1}), ErrInvalid},
		"get unknown":     {func() error { _, err := db.GetNode(ctx, "ghost"); return err }(), ErrNotFound},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, tc.err, tc.want)
		}
	}
}

func events(node string, from, n int) []PlayEvent {
	var out []PlayEvent
	now := time.Now()
	for i := from; i < from+n; i++ {
		out = append(out, PlayEvent{NodeID: node, Seq: uint64(i), Type: "started", ItemID: fmt.Sprintf("c-%d", i%7),
			Media: strings.Repeat("a", 64), At: now, PlayAt: now, OffsetUS: 120, ReceivedAt: now})
	}
	return out
}

func TestInsertPlayEventsIdempotent(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)
	n, err := db.InsertPlayEvents(ctx, events("n1", 1, 10))
	if err != nil || n != 10 {
		t.Fatalf("insert = %d %v", n, err)
	}
	n, err = db.InsertPlayEvents(ctx, events("n1", 5, 10)) // 5..10 again, 11..14 new
	if err != nil || n != 4 {
		t.Fatalf("overlapping insert = %d %v, want 4 new", n, err)
	}
	got, _ := db.ListPlayEvents(ctx, PlayFilter{NodeID: "n1"})
	if len(got) != 14 {
		t.Errorf("stored %d, want 14", len(got))
	}
	got, _ = db.ListPlayEvents(ctx, PlayFilter{ItemID: "c-3"})
	for _, e := range got {
		if e.ItemID != "c-3" {
			t.Errorf("filter by item returned %+v", e)
		}
	}
}

func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := db.InsertPlayEvents(ctx, events(fmt.Sprintf("n%d", w%3+1), w*1000+i*10, 10)); err != nil {
					errs <- err
				}
				if err := db.AddAudit(ctx, Audit{At: time.Now(), Actor: "t", Action: "x"}); err != nil {
					errs <- err
				}
				if _, err := db.ListPlayEvents(ctx, PlayFilter{Limit: 5}); err != nil {
					errs <- err
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRepliesKeepAcceptance(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	db.RecordReply(ctx, CommandReply{CommandID: "c1", NodeID: "n1", OK: true, At: time.Now()})
	db.RecordReply(ctx, CommandReply{CommandID: "c1", NodeID: "n1", OK: false, Code: 1006, Reason: "replayed", At: time.Now()})
	r, _ := db.ListReplies(ctx, "c1")
	if len(r) != 1 || !r[0].OK {
		t.Errorf("replies = %+v, want the acceptance kept", r)
	}
}

// BenchmarkInsertPlayEvents measures batched proof-of-play ingest
// (target: >= 20,000 rows/s).
func BenchmarkInsertPlayEvents(b *testing.B) {
	ctx := context.Background()
	db := open(b, filepath.Join(b.TempDir(), "r.db"))
	seed(b, db)
	const batch = 500
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := db.InsertPlayEvents(ctx, events("n1", 1+i*batch, batch)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "rows/s")
}

func TestNodeSettings(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)
	if s, _ := db.GetNodeSettings(ctx, "n1"); s.Volume != 70 || s.Amp != "auto" {
		t.Errorf("defaults = %+v", s)
	}
	if err := db.SetNodeVolume(ctx, []string{"n1", "n2"}, 35); err != nil {
		t.Fatal(err)
	}
	if err := db.SetNodeAmp(ctx, []string{"n2"}, "off"); err != nil {
		t.Fatal(err)
	}
	if s, _ := db.GetNodeSettings(ctx, "n2"); s.Volume != 35 || s.Amp != "off" {
		t.Errorf("n2 = %+v", s)
	}
	if err := db.SetNodeVolume(ctx, []string{"n1"}, 101); !errors.Is(err, ErrInvalid) {
		t.Errorf("volume 101: %v", err)
	}
	if err := db.SetNodeAmp(ctx, []string{"ghost"}, "on"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown node: %v", err)
	}
}
