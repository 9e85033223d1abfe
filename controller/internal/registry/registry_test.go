package registry

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testNow is the registry's clock in tests: the wall clock, moved
// RADIO_TEST_YEARS years on. Code that read the wall clock instead of the
// clock it is given would disagree with the fixtures, which are made from
// testNow too.
func testNow() time.Time {
	n, _ := strconv.Atoi(os.Getenv("RADIO_TEST_YEARS"))
	return time.Now().AddDate(n, 0, 0)
}

func open(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(path, Options{Now: testNow})
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
	if r1, _ := db.NumberDesired(ctx, "n1", ""); r1 != 1 {
		t.Errorf("first rev = %d", r1)
	}
	db.Close()

	db = open(t, path) // migrations are idempotent; data survives
	n, err := db.GetNode(ctx, "n2")
	if err != nil || n.Name != "Cụm n2" || !cmp.Equal(n.Zones, []string{"z1"}) {
		t.Fatalf("GetNode after reopen = %+v, %v", n, err)
	}
	if r2, _ := db.NumberDesired(ctx, "n1", ""); r2 != 2 {
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
		"bad id":             {db.CreateNode(ctx, Node{ID: "N/1", StationID: "st-1"}, []byte("h")), ErrInvalid},
		"duplicate node":     {db.CreateNode(ctx, Node{ID: "n1", StationID: "st-1"}, []byte("h")), ErrExists},
		"unknown station":    {db.CreateNode(ctx, Node{ID: "n9", StationID: "nope"}, []byte("h")), ErrNotFound},
		"bad kind":           {db.CreateStation(ctx, Station{ID: "st-2", AreaID: "x-1", Kind: "satellite"}), ErrInvalid},
		"commune orphan":     {db.CreateArea(ctx, Area{ID: "x-2", Kind: "commune", Name: "X"}), ErrInvalid},
		"zone unknown":       {db.SetZoneNodes(ctx, "z9", nil), ErrNotFound},
		"zone bad node":      {db.SetZoneNodes(ctx, "z1", []string{"ghost"}), ErrNotFound},
		"bad lat":            {db.CreateNode(ctx, Node{ID: "n8", StationID: "st-1", Lat: 91}, []byte("h")), ErrInvalid},
		"media bad sha":      {db.PutMedia(ctx, Media{SHA256: "xyz", Size: 1}), ErrInvalid},
		"get unknown":        {func() error { _, err := db.GetNode(ctx, "ghost"); return err }(), ErrNotFound},
		"area kind":          {db.CreateArea(ctx, Area{ID: "d-1", ParentID: "p-79", Kind: "district", Name: "Quận 1"}), ErrInvalid},
		"area bad id":        {db.CreateArea(ctx, Area{ID: "", Kind: "province", Name: "X"}), ErrInvalid},
		"area no name":       {db.CreateArea(ctx, Area{ID: "p-1", Kind: "province"}), ErrInvalid},
		"province parent":    {db.CreateArea(ctx, Area{ID: "p-2", ParentID: "p-79", Kind: "province", Name: "X"}), ErrInvalid},
		"commune in commune": {db.CreateArea(ctx, Area{ID: "x-3", ParentID: "x-1", Kind: "commune", Name: "X"}), ErrInvalid},
		"unknown parent":     {db.CreateArea(ctx, Area{ID: "x-4", ParentID: "p-0", Kind: "commune", Name: "X"}), ErrInvalid},
		"duplicate area":     {db.CreateArea(ctx, Area{ID: "p-79", Kind: "province", Name: "X"}), ErrExists},
		"station bad id":     {db.CreateStation(ctx, Station{ID: "St 1", AreaID: "x-1"}), ErrInvalid},
		"station no area":    {db.CreateStation(ctx, Station{ID: "st-9", AreaID: "x-9"}), ErrNotFound},
		"zone bad id":        {db.CreateZone(ctx, Zone{ID: "z/1", StationID: "st-1"}), ErrInvalid},
		"zone offset":        {db.CreateZone(ctx, Zone{ID: "z8", StationID: "st-1", OffsetMS: 120000}), ErrInvalid},
		"zone duplicate":     {db.CreateZone(ctx, Zone{ID: "z1", StationID: "st-1"}), ErrExists},
		"node no secret":     {db.CreateNode(ctx, Node{ID: "n7", StationID: "st-1"}, nil), ErrInvalid},
		"media too big":      {db.PutMedia(ctx, Media{SHA256: strings.Repeat("a", 64), Size: 1 << 40}), ErrInvalid},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, tc.err, tc.want)
		}
	}
}

// eventsAt is when events happen: one instant, so that sending the same
// seqs again sends the same records (a differing record is a conflict).
var eventsAt = testNow().Truncate(time.Millisecond)

func events(node string, from, n int) []PlayEvent {
	var out []PlayEvent
	now := eventsAt
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
				if err := db.AddAudit(ctx, Audit{At: testNow(), Actor: "t", Action: "x"}); err != nil {
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
	db.RecordReply(ctx, CommandReply{CommandID: "c1", NodeID: "n1", OK: true, At: testNow()})
	db.RecordReply(ctx, CommandReply{CommandID: "c1", NodeID: "n1", OK: false, Code: 1006, Reason: "replayed", At: testNow()})
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

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	all, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // the second and third opens find nothing to do
		db, err := Open(path, Options{Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		v, err := db.SchemaVersion(ctx)
		if err != nil || v != len(all) {
			t.Errorf("SchemaVersion = %d %v, want %d", v, err, len(all))
		}
		db.Close()
	}
	// A database from a newer controller is refused rather than used.
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", len(all)+1)); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if db, err := Open(path, Options{Now: testNow}); err == nil {
		db.Close()
		t.Error("opened a database with a newer schema")
	}
	if _, err := Open("x.db?mode=memory", Options{}); err == nil {
		t.Error("accepted a path with a query")
	}
}

func TestAreasAndStations(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)
	if err := db.CreateStation(ctx, Station{ID: "st-2", AreaID: "x-1", Name: "FM", Kind: "fm"}); err != nil {
		t.Fatal(err)
	}
	areas, err := db.ListAreas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Area{{ID: "p-79", Kind: "province", Name: "TP Hồ Chí Minh"}, {ID: "x-1", ParentID: "p-79", Kind: "commune", Name: "Xã An Phú"}}
	if d := cmp.Diff(want, areas); d != "" {
		t.Errorf("ListAreas (-want +got):\n%s", d)
	}
	if a, err := db.GetArea(ctx, "x-1"); err != nil || a != want[1] {
		t.Errorf("GetArea = %+v %v", a, err)
	}
	for _, area := range []string{"", "x-1"} {
		sts, err := db.ListStations(ctx, area)
		if err != nil || len(sts) != 2 || sts[1] != (Station{ID: "st-2", AreaID: "x-1", Name: "FM", Kind: "fm"}) {
			t.Errorf("ListStations(%q) = %+v %v", area, sts, err)
		}
	}
	if sts, err := db.ListStations(ctx, "p-79"); err != nil || len(sts) != 0 {
		t.Errorf("ListStations(p-79) = %+v %v, want none", sts, err)
	}
	if s, err := db.GetStation(ctx, "st-1"); err != nil || s.Kind != "ip" || s.Name != "Đài xã" {
		t.Errorf("GetStation = %+v %v", s, err)
	}
}

func TestNodesAndZones(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.CreateStation(ctx, Station{ID: "st-2", AreaID: "x-1", Name: "Đài 2"}))
	must(db.CreateNode(ctx, Node{ID: "m1", StationID: "st-2"}, []byte("h")))
	must(db.CreateZone(ctx, Zone{ID: "z2", StationID: "st-1", Name: "Chợ"}))
	must(db.SetZoneNodes(ctx, "z2", []string{"n3", "n1", "n3"}))

	n1, err := db.GetNode(ctx, "n1")
	must(err)
	if n1.CreatedAt.IsZero() || testNow().Sub(n1.CreatedAt) > time.Minute {
		t.Errorf("CreatedAt = %v, want now", n1.CreatedAt)
	}
	want := Node{ID: "n1", StationID: "st-1", Name: "Cụm n1", Lat: 10.7, Lon: 106.7, CreatedAt: n1.CreatedAt, Zones: []string{"z1", "z2"}}
	if d := cmp.Diff(want, n1); d != "" {
		t.Errorf("GetNode (-want +got):\n%s", d)
	}
	nodes, err := db.ListNodes(ctx, "st-1")
	must(err)
	if len(nodes) != 3 {
		t.Errorf("ListNodes(st-1) = %d nodes, want 3", len(nodes))
	}
	if all, _ := db.ListNodes(ctx, ""); len(all) != 4 {
		t.Errorf("ListNodes() = %d nodes, want 4", len(all))
	}
	zones, err := db.ListZones(ctx)
	must(err)
	wantZones := []Zone{
		{ID: "z1", StationID: "st-1", Name: "Trung tâm", OffsetMS: 20, Nodes: []string{"n1", "n2"}},
		{ID: "z2", StationID: "st-1", Name: "Chợ", Nodes: []string{"n1", "n3"}},
	}
	if d := cmp.Diff(wantZones, zones); d != "" {
		t.Errorf("ListZones (-want +got):\n%s", d)
	}
	// A node of another station is refused, and the zone keeps its members.
	if err := db.SetZoneNodes(ctx, "z1", []string{"n1", "m1"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("node of another station: %v, want ErrInvalid", err)
	}
	if z, _ := db.GetZone(ctx, "z1"); !cmp.Equal(z.Nodes, []string{"n1", "n2"}) {
		t.Errorf("after a refused change z1 = %v", z.Nodes)
	}
	must(db.SetZoneNodes(ctx, "z1", nil))
	if zs, _ := db.NodeZones(ctx, "n2"); len(zs) != 0 {
		t.Errorf("NodeZones(n2) = %v after emptying z1", zs)
	}
	if _, err := db.NumberDesired(ctx, "ghost", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("NumberDesired(ghost): %v", err)
	}
	if err := db.RevokeNode(ctx, "ghost"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RevokeNode(ghost): %v", err)
	}
	if _, _, err := db.NodeSecret(ctx, "ghost"); !errors.Is(err, ErrNotFound) {
		t.Errorf("NodeSecret(ghost): %v", err)
	}
	must(db.RevokeNode(ctx, "n2"))
	if n, _ := db.GetNode(ctx, "n2"); !n.Revoked {
		t.Error("GetNode does not show the revocation")
	}
}

func TestMedia(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	a := Media{SHA256: strings.Repeat("a", 64), Name: "bản tin.mp3", SourceFormat: "mp3", Size: 1000, DurationMS: 3000,
		CreatedAt: time.UnixMilli(1_700_000_000_000), CreatedBy: "t-1"}
	b := Media{SHA256: strings.Repeat("b", 64), Name: "b.wav", SourceFormat: "wav", Size: 2000, DurationMS: 6000,
		CreatedAt: time.UnixMilli(1_700_000_100_000), CreatedBy: "t-1"}
	for _, m := range []Media{a, b, {SHA256: a.SHA256, Name: "again.mp3", Size: 1000, CreatedAt: testNow()}} {
		if err := db.PutMedia(ctx, m); err != nil {
			t.Fatalf("PutMedia(%s): %v", m.Name, err)
		}
	}
	got, err := db.GetMedia(ctx, a.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(a, got); d != "" {
		t.Errorf("GetMedia, first record kept (-want +got):\n%s", d)
	}
	list, err := db.ListMedia(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Media{b, a}, list); d != "" {
		t.Errorf("ListMedia newest first (-want +got):\n%s", d)
	}
	if _, err := db.GetMedia(ctx, strings.Repeat("c", 64)); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetMedia(unknown): %v", err)
	}
}

func TestNodeStates(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)
	at := time.UnixMilli(1_700_000_000_000)
	for _, s := range []NodeState{
		{NodeID: "n1", Online: true, State: json.RawMessage(`{"rev":1}`), UpdatedAt: at},
		{NodeID: "n2", Online: true, State: json.RawMessage(`{"rev":1}`), UpdatedAt: at},
		{NodeID: "n1", Online: false, State: json.RawMessage(`{"rev":2}`), UpdatedAt: at.Add(time.Second)},
	} {
		if err := db.UpsertNodeState(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.ListNodeStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []NodeState{
		{NodeID: "n1", Online: false, State: json.RawMessage(`{"rev":2}`), UpdatedAt: at.Add(time.Second)},
		{NodeID: "n2", Online: true, State: json.RawMessage(`{"rev":1}`), UpdatedAt: at},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ListNodeStates (-want +got):\n%s", d)
	}
	for name, s := range map[string]NodeState{
		"not json":     {NodeID: "n1", State: json.RawMessage(`{`)},
		"unknown node": {NodeID: "ghost", State: json.RawMessage(`{}`)},
		"bad id":       {NodeID: "N 1", State: json.RawMessage(`{}`)},
	} {
		if err := db.UpsertNodeState(ctx, s); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestPlayEvents(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	t0 := time.UnixMilli(1_700_000_000_000)
	ev := func(node string, seq uint64, item string, at time.Duration) PlayEvent {
		return PlayEvent{NodeID: node, Seq: seq, Type: "finished", ItemID: item, Media: strings.Repeat("d", 64),
			At: t0.Add(at), PlayAt: t0, OffsetUS: -250, PlayedMS: 3000, Priority: "normal", ReceivedAt: t0.Add(time.Minute)}
	}
	batch := []PlayEvent{ev("n1", 1, "c-1", 0), ev("n1", 2, "c-2", time.Second), ev("n2", 1, "c-1", 2*time.Second),
		ev("n2", 1<<63+5, "c-3", 3*time.Second)}
	batch[0].Type, batch[0].Reason = "failed", "media missing"
	if n, err := db.InsertPlayEvents(ctx, batch); err != nil || n != 4 {
		t.Fatalf("InsertPlayEvents = %d %v, want 4", n, err)
	}
	if n, err := db.InsertPlayEvents(ctx, batch); err != nil || n != 0 {
		t.Fatalf("the same batch again = %d %v, want 0 new", n, err)
	}
	if n, err := db.InsertPlayEvents(ctx, nil); err != nil || n != 0 {
		t.Errorf("empty batch = %d %v", n, err)
	}
	all, err := db.ListPlayEvents(ctx, PlayFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []PlayEvent{batch[3], batch[2], batch[1], batch[0]}
	if d := cmp.Diff(want, all); d != "" {
		t.Errorf("ListPlayEvents newest first (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		f    PlayFilter
		want []uint64
	}{
		{PlayFilter{NodeID: "n1"}, []uint64{2, 1}},
		{PlayFilter{ItemID: "c-1"}, []uint64{1, 1}},
		{PlayFilter{Media: strings.Repeat("e", 64)}, []uint64{}},
		{PlayFilter{Since: t0.Add(time.Second), Until: t0.Add(3 * time.Second)}, []uint64{1, 2}},
		{PlayFilter{NodeID: "n2", Limit: 1}, []uint64{1<<63 + 5}},
	} {
		got, err := db.ListPlayEvents(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		seqs := []uint64{}
		for _, e := range got {
			seqs = append(seqs, e.Seq)
		}
		if d := cmp.Diff(tc.want, seqs); d != "" {
			t.Errorf("ListPlayEvents(%+v) seqs (-want +got):\n%s", tc.f, d)
		}
	}
	if _, err := db.InsertPlayEvents(ctx, []PlayEvent{{Seq: 1}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("event without node: %v", err)
	}
}

func TestCommandsAndReplies(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	t0 := time.UnixMilli(1_700_000_000_000)
	c := Command{ID: "c-1", Type: "play", Target: "zone:z1", Media: strings.Repeat("a", 64), PlayAt: t0.Add(5 * time.Second),
		IssuedAt: t0, ExpiresAt: t0.Add(time.Minute), Body: json.RawMessage(`{"id":"c-1"}`), CreatedBy: "t-1"}
	if err := db.InsertCommand(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetCommand(ctx, "c-1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(c, got); d != "" {
		t.Errorf("GetCommand (-want +got):\n%s", d)
	}
	if err := db.InsertCommand(ctx, c); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate command: %v", err)
	}
	for name, bad := range map[string]func(*Command){
		"bad id":      func(c *Command) { c.ID = "C 2" },
		"bad target":  func(c *Command) { c.Target = "all" },
		"bad node":    func(c *Command) { c.Target = "node:N/1" },
		"no type":     func(c *Command) { c.Type = "" },
		"expired":     func(c *Command) { c.ExpiresAt = c.IssuedAt },
		"body":        func(c *Command) { c.Body = json.RawMessage("{") },
		"no body":     func(c *Command) { c.Body = nil },
		"zero issued": func(c *Command) { c.IssuedAt = time.Time{} },
	} {
		c2 := c
		c2.ID = "c-2"
		bad(&c2)
		if err := db.InsertCommand(ctx, c2); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := db.GetCommand(ctx, "c-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetCommand(unknown): %v", err)
	}
	replies := []CommandReply{
		{CommandID: "c-1", NodeID: "n2", OK: false, Code: 1004, Reason: "expired", At: t0.Add(time.Second)},
		{CommandID: "c-1", NodeID: "n1", OK: true, At: t0.Add(time.Second)},
	}
	for _, r := range replies {
		if err := db.RecordReply(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got2, err := db.ListReplies(ctx, "c-1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]CommandReply{replies[1], replies[0]}, got2); d != "" {
		t.Errorf("ListReplies (-want +got):\n%s", d)
	}
	if err := db.RecordReply(ctx, CommandReply{CommandID: "c-1", NodeID: "N#1"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("reply with a bad node id: %v", err)
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	if n, err := db.CountTokens(ctx); err != nil || n != 0 {
		t.Errorf("CountTokens = %d %v on a new database", n, err)
	}
	h := sha256.Sum256([]byte("rt_secret"))
	tok := Token{ID: "t-AbC_1", Name: "admin", Role: "admin", CreatedAt: time.UnixMilli(1_700_000_000_000)}
	if err := db.CreateToken(ctx, tok, h[:]); err != nil {
		t.Fatal(err)
	}
	got, err := db.TokenByHash(ctx, h[:])
	if err != nil || got != tok {
		t.Errorf("TokenByHash = %+v %v, want %+v", got, err, tok)
	}
	other := sha256.Sum256([]byte("rt_other"))
	if _, err := db.TokenByHash(ctx, other[:]); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown token: %v", err)
	}
	if err := db.CreateToken(ctx, Token{ID: "t-2", Name: "x", Role: "officer"}, h[:]); !errors.Is(err, ErrExists) {
		t.Errorf("same secret twice: %v", err)
	}
	if err := db.CreateToken(ctx, Token{ID: "t-3", Name: "x"}, other[:]); !errors.Is(err, ErrInvalid) {
		t.Errorf("token without role: %v", err)
	}
	if n, _ := db.CountTokens(ctx); n != 1 {
		t.Errorf("CountTokens = %d, want 1", n)
	}
}

func TestAudit(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	t0 := time.UnixMilli(1_700_000_000_000)
	var want []Audit
	for i := range 3 {
		a := Audit{At: t0.Add(time.Duration(i) * time.Second), Actor: "t-1", Action: "media.upload", Target: fmt.Sprint(i),
			Detail: "bản tin", Remote: "192.0.2.1"}
		if err := db.AddAudit(ctx, a); err != nil {
			t.Fatal(err)
		}
		want = append([]Audit{a}, want...)
	}
	got, err := db.ListAudit(ctx, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want[:2], got); d != "" {
		t.Errorf("ListAudit(2) (-want +got):\n%s", d)
	}
	if got, _ := db.ListAudit(ctx, 0, nil); len(got) != 3 {
		t.Errorf("ListAudit(0) = %d entries, want all 3", len(got))
	}
	if err := db.AddAudit(ctx, Audit{Actor: "t-1"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("audit without action: %v", err)
	}
}

// TestConcurrentCounters: the desired-state revision only grows, even with
// writers racing, and no writer sees SQLITE_BUSY.
func TestConcurrentCounters(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)
	const workers, each = 6, 25
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				rev, err := db.NumberDesired(ctx, "n1", "")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[rev] {
					t.Errorf("revision %d issued twice", rev)
				}
				seen[rev] = true
				mu.Unlock()
				st := json.RawMessage(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))
				if err := db.UpsertNodeState(ctx, NodeState{NodeID: "n2", Online: true, State: st}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if rev, _ := db.NumberDesired(ctx, "n1", ""); rev != workers*each+1 {
		t.Errorf("next revision = %d, want %d", rev, workers*each+1)
	}
}

// The area and station lists are served from memory after the first read;
// every write must show in the next read, also when reads and writes race,
// and the memory must agree with SQLite.
func TestAreaAndStationListsFollowWrites(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)
	if st, _ := db.ListStations(ctx, ""); len(st) != 1 {
		t.Fatalf("stations = %v", st)
	}
	if err := db.CreateArea(ctx, Area{ID: "x-2", ParentID: "p-79", Kind: "commune", Name: "Xã Bình An"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			if err := db.CreateStation(ctx, Station{ID: fmt.Sprintf("st-%02d", 10+i), AreaID: "x-2", Name: "Đài", Kind: "fm"}); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := db.ListStations(ctx, ""); err != nil {
				t.Error(err)
			}
			if _, err := db.ListAreas(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := db.ListStations(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want, err := db.sqlStations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 41 || !cmp.Equal(got, want) {
		t.Errorf("memory has %d stations, SQLite %d; diff (-sqlite +memory):\n%s", len(got), len(want), cmp.Diff(want, got))
	}
	if st, _ := db.ListStations(ctx, "x-2"); len(st) != 40 || st[0].ID != "st-10" || st[0].Kind != "fm" {
		t.Errorf("stations of x-2 = %d, first %v", len(st), st[0])
	}
	areas, _ := db.ListAreas(ctx)
	sqlAreas, _ := db.sqlAreas(ctx)
	if len(areas) != 3 || !cmp.Equal(areas, sqlAreas) {
		t.Errorf("areas = %v, SQLite %v", areas, sqlAreas)
	}
	// A caller changing what it got does not change what others get.
	areas[0].Name = "changed"
	if again, _ := db.ListAreas(ctx); again[0].Name == "changed" {
		t.Error("ListAreas handed out its own memory")
	}
}

func TestAddZoneNodeAndCredentials(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)   // z1 = {n1, n2} of st-1
	for range 2 { // adding twice is adding once
		if err := db.AddZoneNode(ctx, "z1", "n3"); err != nil {
			t.Fatal(err)
		}
	}
	if z, _ := db.GetZone(ctx, "z1"); !cmp.Equal(z.Nodes, []string{"n1", "n2", "n3"}) {
		t.Errorf("z1 = %v", z.Nodes)
	}
	if err := db.AddZoneNode(ctx, "nope", "n3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown zone: %v", err)
	}
	if err := db.AddZoneNode(ctx, "z1", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown node: %v", err)
	}
	if err := db.CreateStation(ctx, Station{ID: "st-2", AreaID: "x-1", Name: "Đài 2"}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateNode(ctx, Node{ID: "m1", StationID: "st-2"}, []byte("$7$hash-m1")); err != nil {
		t.Fatal(err)
	}
	if err := db.AddZoneNode(ctx, "z1", "m1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("another station's node: %v", err)
	}
	if err := db.RevokeNode(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	got, err := db.NodeCredentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []NodeCredential{
		{ID: "m1", Hash: "$7$hash-m1", Zones: []string{}},
		{ID: "n1", Hash: "$7$hash-n1", Zones: []string{"z1"}},
		{ID: "n3", Hash: "$7$hash-n3", Zones: []string{"z1"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("credentials (-want +got):\n%s", d)
	}
}

func TestControllerNamesReserved(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)
	for _, id := range []string{"controller", "controller-reload", "controller-2"} {
		if err := db.CreateNode(context.Background(), Node{ID: id, StationID: "st-1"}, []byte("$7$h")); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("node %q: %v, want refused as reserved", id, err)
		}
	}
	if err := db.CreateNode(context.Background(), Node{ID: "controllers-box", StationID: "st-1"}, []byte("$7$h")); err != nil {
		t.Errorf("a name that only starts like it: %v", err)
	}
}
