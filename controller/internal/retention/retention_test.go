package retention

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/media"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

func TestCheckMonths(t *testing.T) {
	for _, tc := range []struct {
		in, want int
		err      string
	}{
		{0, 13, ""}, {13, 13, ""}, {24, 24, ""},
		{12, 0, "keep at least 13 months"}, {1, 0, "keep at least 13 months"}, {-5, 0, "keep at least 13 months"},
	} {
		got, err := CheckMonths(tc.in)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckMonths(%d) = %d, %v; want %d, error containing %q", tc.in, got, err, tc.want, tc.err)
		}
	}
	if _, err := New(Config{Months: 12}); err == nil {
		t.Error("New with 12 months: no error")
	}
}

// fixture is a registry and media store on a fake clock, with recordings
// whose files are in the store.
type fixture struct {
	ctx   context.Context
	now   time.Time
	reg   *registry.DB
	store *media.Store
	dir   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{ctx: context.Background(), now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), dir: t.TempDir()}
	clock := func() time.Time { return f.now }
	var err error
	f.reg, err = registry.Open(filepath.Join(f.dir, "registry.db"), registry.Options{Now: clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.reg.Close() })
	f.store, err = media.New(filepath.Join(f.dir, "media"), media.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	must(t, f.reg.CreateArea(f.ctx, registry.Area{ID: "p-79", Kind: "province", Name: "TP HCM"}))
	must(t, f.reg.CreateArea(f.ctx, registry.Area{ID: "x-1", ParentID: "p-79", Kind: "commune", Name: "Xã An Phú"}))
	must(t, f.reg.CreateStation(f.ctx, registry.Station{ID: "st-1", AreaID: "x-1", Name: "Đài xã"}))
	must(t, f.reg.CreateNode(f.ctx, registry.Node{ID: "n1", StationID: "st-1"}, []byte("hash")))
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// recording stores a file under its sha256 (the store's layout) and its
// registry row, uploaded at the given time.
func (f *fixture) recording(t *testing.T, name string, uploaded time.Time) string {
	t.Helper()
	data := []byte("OggS fake recording " + name)
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	p := filepath.Join(f.dir, "media", sha[:2], sha+".opus")
	must(t, os.MkdirAll(filepath.Dir(p), 0o750))
	must(t, os.WriteFile(p, data, 0o640))
	must(t, f.reg.PutMedia(f.ctx, registry.Media{SHA256: sha, Name: name, Size: int64(len(data)), DurationMS: 1000, CreatedAt: uploaded}))
	must(t, f.reg.LinkMedia(f.ctx, sha, "x-1", "canbo", uploaded))
	return sha
}

func (f *fixture) event(t *testing.T, seq uint64, sha string, at, received time.Time) {
	t.Helper()
	_, err := f.reg.InsertPlayEvents(f.ctx, []registry.PlayEvent{{NodeID: "n1", Seq: seq, Type: "finished", ItemID: fmt.Sprintf("c-%d", seq),
		Media: sha, At: at, PlayedMS: 1000, Priority: "normal", ReceivedAt: received}})
	must(t, err)
}

func (f *fixture) command(t *testing.T, id, sha string, issued, expires time.Time) {
	t.Helper()
	must(t, f.reg.InsertCommand(f.ctx, registry.Command{ID: id, Type: "play", Target: "node:n1", Media: sha,
		IssuedAt: issued, ExpiresAt: expires, Body: json.RawMessage(`{}`)}))
	must(t, f.reg.RecordReply(f.ctx, registry.CommandReply{CommandID: id, NodeID: "n1", OK: true, At: issued.Add(time.Second)}))
}

func TestSweepRemovesOnlyWhatIsOutOfTheWindow(t *testing.T) {
	f := newFixture(t)
	ctx := f.ctx
	month := func(n int) time.Time { return f.now.AddDate(0, -n, 0) }
	day := 24 * time.Hour

	// Recordings: what keeps them, and what does not.
	unused := f.recording(t, "unused", month(24))
	inFile := f.recording(t, "named-by-a-programme-file", month(24))
	inLoaded := f.recording(t, "named-by-a-loaded-programme", month(24))
	playedRecently := f.recording(t, "played-last-month", month(24))
	playedLongAgo := f.recording(t, "played-14-months-ago", month(24))
	unexpired := f.recording(t, "unexpired-command", month(24))
	oldCommand := f.recording(t, "old-command", month(24))
	recentUpload := f.recording(t, "uploaded-last-month", month(1))
	relinked := f.recording(t, "uploaded-again-by-another-commune", month(24))
	warned := f.recording(t, "an-active-warning", month(24))
	must(t, f.reg.InsertWarning(ctx, registry.Warning{ID: "w-1", Title: "Lũ quét", Source: "manual", Media: warned, Repeat: 3,
		Status: registry.WarningActive, CreatedBy: "canbo", CreatedAt: f.now.Add(-time.Hour), ExpiresAt: f.now.Add(48 * time.Hour)}))
	must(t, f.reg.CreateArea(ctx, registry.Area{ID: "x-2", ParentID: "p-79", Kind: "commune", Name: "Xã Bình Chánh"}))
	must(t, f.reg.LinkMedia(ctx, relinked, "x-2", "canbo2", month(1)))

	schedDir := filepath.Join(f.dir, "schedules")
	must(t, os.MkdirAll(schedDir, 0o750))
	// A programme that does not even parse still keeps what it names.
	must(t, os.WriteFile(filepath.Join(schedDir, "xa-an-phu.radio"), []byte("station st-1\nbulletin b1 \"Tin\"\n  source media "+inFile+"\n  broken line\n"), 0o640))
	loaded := map[string]*schedule.Schedule{"other": {Station: "st-1", Items: []schedule.Item{{ID: "b2", Source: schedule.Source{Kind: schedule.SourceFile, Path: "tin.mp3", Media: inLoaded}}}}}

	// Proof of play, audit, commands and replies either side of the cutoff.
	f.event(t, 1, playedLongAgo, month(14), month(14))          // out: removed
	f.event(t, 2, playedRecently, month(1), month(1))           // in
	f.event(t, 3, "", month(14), month(1))                      // node's clock wrong, arrived last month: kept
	f.event(t, 4, "", month(13).Add(-day), month(13).Add(-day)) // just out: removed
	f.event(t, 5, "", month(13).Add(day), month(13).Add(day))   // just in: kept
	f.event(t, 6, "", month(20), month(20))                     // out: removed
	f.event(t, 7, "", month(12), month(12))                     // in
	must(t, f.reg.AddAudit(ctx, registry.Audit{At: month(14), Actor: "canbo", Action: "media.upload"}))
	must(t, f.reg.AddAudit(ctx, registry.Audit{At: month(2), Actor: "canbo", Action: "play"}))
	must(t, f.reg.AddAudit(ctx, registry.Audit{At: month(15), Actor: "canbo", Action: "stop"}))
	f.command(t, "c-old", oldCommand, month(14), month(14).Add(time.Hour))                                   // out: removed with its reply
	f.command(t, "c-unexpired", unexpired, month(14), f.now.Add(day))                                        // not expired: kept
	f.command(t, "c-new", "", month(1), month(1).Add(time.Hour))                                             // in
	must(t, f.reg.RecordReply(ctx, registry.CommandReply{CommandID: "c-lost", NodeID: "n1", At: month(14)})) // no command stored: removed
	must(t, f.reg.RecordReply(ctx, registry.CommandReply{CommandID: "c-lost2", NodeID: "n1", At: month(2)})) // no command, but recent: kept

	sw, err := New(Config{Registry: f.reg, Media: f.store, SchedulesDir: schedDir, Loaded: func() map[string]*schedule.Schedule { return loaded },
		Batch: 2, Now: func() time.Time { return f.now }, Logger: slog.New(slog.DiscardHandler)})
	must(t, err)
	res, err := sw.Sweep(ctx)
	must(t, err)

	if want := (registry.PruneStats{PlayEvents: 3, Audit: 2, Commands: 1, Replies: 2}); res.Records != want {
		t.Errorf("records removed = %+v, want %+v", res.Records, want)
	}
	evs, err := f.reg.ListPlayEvents(ctx, registry.PlayFilter{})
	must(t, err)
	var seqs []uint64
	for _, e := range evs {
		seqs = append(seqs, e.Seq)
	}
	slices.Sort(seqs)
	if want := []uint64{2, 3, 5, 7}; !slices.Equal(seqs, want) {
		t.Errorf("play events kept = %v, want %v", seqs, want)
	}
	audit, err := f.reg.ListAudit(ctx, 10, nil)
	must(t, err)
	if len(audit) != 1 || audit[0].Action != "play" {
		t.Errorf("audit kept = %+v, want only the entry of 2 months ago", audit)
	}
	for id, want := range map[string]bool{"c-old": false, "c-unexpired": true, "c-new": true} {
		_, err := f.reg.GetCommand(ctx, id)
		if (err == nil) != want {
			t.Errorf("command %s kept = %v, want %v", id, err == nil, want)
		}
		replies, err := f.reg.ListReplies(ctx, id)
		must(t, err)
		if (len(replies) == 1) != want {
			t.Errorf("replies of %s = %v, want kept %v", id, replies, want)
		}
	}
	for id, want := range map[string]int{"c-lost": 0, "c-lost2": 1} {
		if r, _ := f.reg.ListReplies(ctx, id); len(r) != want {
			t.Errorf("replies to unstored command %s = %d, want %d", id, len(r), want)
		}
	}

	removed := map[string]bool{unused: true, playedLongAgo: true, oldCommand: true}
	for name, sha := range map[string]string{"unused": unused, "inFile": inFile, "inLoaded": inLoaded, "playedRecently": playedRecently,
		"playedLongAgo": playedLongAgo, "unexpired": unexpired, "oldCommand": oldCommand, "recentUpload": recentUpload, "relinked": relinked, "warned": warned} {
		_, err := f.reg.GetMedia(ctx, sha)
		if row, file := err == nil, f.store.Has(sha); row == removed[sha] || file == removed[sha] {
			t.Errorf("recording %s: row kept %v, file kept %v; want removed %v", name, row, file, removed[sha])
		}
	}
	slices.Sort(res.Media)
	want := []string{unused, playedLongAgo, oldCommand}
	slices.Sort(want)
	if !slices.Equal(res.Media, want) {
		t.Errorf("result media = %v, want %v", res.Media, want)
	}

	// A second sweep the same day finds nothing more.
	res, err = sw.Sweep(ctx)
	must(t, err)
	if res.Records.Total() != 0 || len(res.Media) != 0 {
		t.Errorf("second sweep removed %+v and %v", res.Records, res.Media)
	}
	// A month later the events of 12 and 13 months ago are out too, the
	// clock being the controller's, not the wall's.
	f.now = f.now.AddDate(0, 1, 1)
	res, err = sw.Sweep(ctx)
	must(t, err)
	if res.Records.PlayEvents != 2 {
		t.Errorf("a month later: %d play events removed, want 2 (seqs 5 and 7)", res.Records.PlayEvents)
	}
}
