package programme

import (
	"context"
	"errors"
	"github.com/communeradio/radio/controller/internal/desired"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/media"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/registry/regtest"
	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/controller/internal/scheduler"
)

const shaA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// newStore is a programme store on a real registry (a commune with a
// station, a zone, a node and a recording) and a real media store.
func newStore(t *testing.T) *Store {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := &clock{t: time.Date(2026, 12, 1, 8, 0, 0, 0, schedule.Zone)}
	reg, must := regtest.Open(t, c.Now), regtest.Must(t)
	regtest.Commune(t, reg, "a", "st-a")
	ms, err := media.New(filepath.Join(dir, "media"), media.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{Dir: filepath.Join(dir, "schedules"), Media: ms, Registry: reg, Logger: log, Now: c.Now}
	s.Scheduler = scheduler.New(scheduler.Config{Logger: log, Targets: s.Targets, Media: s.MediaInfo, Now: c.Now,
		Hand: func(map[string]desired.Plan) {}})
	ctx := context.Background()
	must(reg.CreateNode(ctx, registry.Node{ID: "n-a", StationID: "st-a"}, []byte("hash")))
	must(reg.CreateZone(ctx, registry.Zone{ID: "z-a", StationID: "st-a"}))
	must(reg.SetZoneNodes(ctx, "z-a", []string{"n-a"}))
	must(reg.PutMedia(ctx, registry.Media{SHA256: shaA, Name: "ban-tin.mp3", Size: 1000, DurationMS: 5000}))
	return s
}

var (
	officer  = Actor{ID: "can.bo", Name: "Nguyễn Văn An"}
	officer2 = Actor{ID: "can.bo.2", Name: "Lê Thị Hoa"}
	leader   = Actor{ID: "lanh.dao", Name: "Trần Thị Bình", CanApprove: true}
)

func daily(id, title, at string) Bulletin {
	return Bulletin{ID: id, Title: title, Source: Source{Kind: "media", Media: shaA}, Target: Target{Kind: "zone", IDs: []string{"z-a"}},
		Recurrence: Recurrence{Kind: "daily", Times: []string{at}}, Duration: "5m"}
}

func (s *Store) mustPut(t *testing.T, who Actor, b Bulletin) Bulletin {
	t.Helper()
	res, err := s.PutBulletin(context.Background(), who, "st-a", b)
	if err != nil {
		t.Fatalf("saving %s: %v", b.ID, err)
	}
	return *res.Bulletin
}

func (s *Store) airing(t *testing.T, id string) *schedule.Item {
	t.Helper()
	sc := s.Scheduler.Schedules()["st-a"]
	if sc == nil {
		return nil
	}
	return findItem(sc, id)
}

// Two people edit one bulletin from the same version: the second save is
// refused, saying who changed what, and nothing of it is saved.
func TestStaleBulletinEditRefused(t *testing.T) {
	s := newStore(t)
	b := s.mustPut(t, officer, daily("tin-sang", "Bản tin sáng", "06:30"))
	tab1, tab2 := b, b
	tab1.Title = "Bản tin sáng (tab 1)"
	s.mustPut(t, officer, tab1)
	tab2.Title = "Bản tin sáng (tab 2)"
	_, err := s.PutBulletin(context.Background(), officer2, "st-a", tab2)
	var st *Stale
	if !errors.As(err, &st) {
		t.Fatalf("the second tab's save: %v, want Stale", err)
	}
	if len(st.Changes) != 1 || st.Changes[0].Bulletin != "tin-sang" || st.Changes[0].By != "can.bo" || st.Changes[0].Title != "Bản tin sáng (tab 1)" {
		t.Errorf("changes: %+v, want tin-sang changed by can.bo", st.Changes)
	}
	if !strings.Contains(err.Error(), `"Bản tin sáng (tab 1)" (tin-sang) was changed by can.bo`) {
		t.Errorf("message: %s", err)
	}
	bs, _ := s.Bulletins("st-a")
	if bs[0].Title != "Bản tin sáng (tab 1)" {
		t.Errorf("after the refused save the bulletin reads %q", bs[0].Title)
	}
	// A new bulletin whose id someone took meanwhile is refused too.
	if _, err := s.PutBulletin(context.Background(), officer2, "st-a", daily("tin-sang", "Khác", "09:00")); !errors.As(err, &st) {
		t.Errorf("a new bulletin over an existing one: %v, want Stale", err)
	}
}

// A whole file put (radioctl schedule put) over a programme made in the web
// app: refused without the version it replaces, saying what it would
// change; refused with an old version, saying what changed since; forced,
// saved, and the detail for the audit log says so.
func TestStaleFilePutRefused(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	b := s.mustPut(t, officer, daily("tin-sang", "Bản tin sáng", "06:30"))
	if _, err := s.Approve(ctx, leader, "st-a", "tin-sang", b.Version); err != nil {
		t.Fatal(err)
	}
	old, _ := s.Read("st-a")
	s.mustPut(t, officer, daily("tin-chieu", "Bản tin chiều", "17:00"))

	script := "station st-a\nbulletin khac\n    title Chương trình cũ\n    source media " + shaA + "\n    target commune\n    daily 09:00\n    duration 5m\n"
	_, err := s.PutFile(ctx, officer2, "st-a", []byte(script), "", false)
	var st *Stale
	if !errors.As(err, &st) || !st.Missing {
		t.Fatalf("a put naming no version: %v, want Stale (missing)", err)
	}
	got := map[string]string{}
	for _, c := range st.Changes {
		got[c.Bulletin] = c.What
	}
	if got["tin-sang"] != "removed" || got["tin-chieu"] != "removed" || got["khac"] != "added" {
		t.Errorf("what the put would change: %+v", st.Changes)
	}
	_, err = s.PutFile(ctx, officer2, "st-a", []byte(script), old.Version, false)
	if !errors.As(err, &st) || st.Missing || len(st.Changes) != 1 || st.Changes[0].Bulletin != "tin-chieu" || st.Changes[0].What != "added" || st.Changes[0].By != "can.bo" {
		t.Fatalf("a put on an old version: %v %+v, want tin-chieu added by can.bo", err, st)
	}
	if s.airing(t, "tin-sang") == nil || !s.airing(t, "tin-sang").Approved {
		t.Fatal("a refused put took the approved bulletin off air")
	}
	res, err := s.PutFile(ctx, leader, "st-a", []byte(script), old.Version, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Detail, "forced") || !strings.Contains(res.Detail, `"Bản tin sáng" (tin-sang) was removed`) {
		t.Errorf("a forced put's audit detail: %q", res.Detail)
	}
	cur, _ := s.Read("st-a")
	if _, err := s.PutFile(ctx, leader, "st-a", []byte(script+"# note\n"), cur.Version, false); err != nil {
		t.Errorf("a put on the current version: %v", err)
	}
}

// An officer's change to an approved bulletin waits beside it: the
// scheduler goes on airing the approved version until a leader approves
// the change; a leader can send it back with a comment the officer sees.
func TestApprovedVersionAirsWhileChangeWaits(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	b := s.mustPut(t, officer, daily("tin-sang", "Bản tin sáng", "06:30"))
	if _, err := s.Approve(ctx, leader, "st-a", "tin-sang", b.Version); err != nil {
		t.Fatal(err)
	}
	bs, _ := s.Bulletins("st-a")
	b = bs[0]
	b.Title, b.Recurrence.Times = "Bản tin sáng (sửa)", []string{"06:45"}
	saved := s.mustPut(t, officer, b)
	if it := s.airing(t, "tin-sang"); it == nil || !it.Approved || it.Title != "Bản tin sáng" {
		t.Fatalf("while the change waits the scheduler airs %+v, want the approved Bản tin sáng", it)
	}
	if saved.Status != "approved" || saved.Pending == nil || saved.Pending.Title != "Bản tin sáng (sửa)" || saved.Review.SubmittedName != "Nguyễn Văn An" {
		t.Errorf("the saved bulletin: %+v pending %+v review %+v", saved, saved.Pending, saved.Review)
	}
	q, _ := s.Approvals(func(string) bool { return true })
	if len(q) != 1 || q[0].Bulletin.Title != "Bản tin sáng (sửa)" || q[0].Airing == nil || q[0].Airing.Title != "Bản tin sáng" {
		t.Fatalf("the approval queue: %+v", q)
	}

	// Sent back: out of the queue, the comment on the bulletin; still airing.
	if _, err := s.SendBack(ctx, leader, "st-a", "tin-sang", q[0].Bulletin.Version, "  "); err == nil {
		t.Error("sending back without a comment was accepted")
	}
	if _, err := s.SendBack(ctx, officer, "st-a", "tin-sang", q[0].Bulletin.Version, "Sai giờ"); !errors.Is(err, ErrForbidden) {
		t.Errorf("an officer sends back: %v", err)
	}
	if _, err := s.SendBack(ctx, leader, "st-a", "tin-sang", q[0].Bulletin.Version, "Giờ phát 06:45 trùng giờ họp, để 06:30"); err != nil {
		t.Fatal(err)
	}
	if q, _ := s.Approvals(func(string) bool { return true }); len(q) != 0 {
		t.Errorf("a bulletin sent back is still in the queue: %+v", q)
	}
	bs, _ = s.Bulletins("st-a")
	if r := bs[0].Review; !r.Returned() || r.Comment != "Giờ phát 06:45 trùng giờ họp, để 06:30" || r.ReturnedName != "Trần Thị Bình" {
		t.Errorf("what the officer sees: %+v", r)
	}
	if it := s.airing(t, "tin-sang"); it == nil || !it.Approved || it.Title != "Bản tin sáng" {
		t.Errorf("after sending back the scheduler airs %+v", it)
	}

	// The officer changes it again: back in the queue; the leader approves.
	p := *bs[0].Pending
	p.Recurrence.Times = []string{"06:35"}
	s.mustPut(t, officer, p)
	q, _ = s.Approvals(func(string) bool { return true })
	if len(q) != 1 || q[0].Bulletin.Review.Returned() {
		t.Fatalf("after the officer's new change the queue is %+v", q)
	}
	if _, err := s.Approve(ctx, leader, "st-a", "tin-sang", q[0].Bulletin.Version); err != nil {
		t.Fatal(err)
	}
	if it := s.airing(t, "tin-sang"); it == nil || !it.Approved || it.Title != "Bản tin sáng (sửa)" || it.Rule.Times[0].String() != "06:35:00" {
		t.Errorf("after approval the scheduler airs %+v, want the change at 06:35", it)
	}
	if bs, _ := s.Bulletins("st-a"); bs[0].Pending != nil || bs[0].Review != nil {
		t.Errorf("after approval nothing waits: %+v", bs[0])
	}
}

// A title over 200 characters is refused with the reason, never cut.
func TestLongTitleRefused(t *testing.T) {
	s := newStore(t)
	long := strings.Repeat("Thông báo ", 20) + "x" // 201 characters
	_, err := s.PutBulletin(context.Background(), officer, "st-a", daily("dai", long, "06:30"))
	var pe *Errors
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "at most 200 characters (this one has 201)") {
		t.Fatalf("a 201-character title: %v", err)
	}
	s.mustPut(t, officer, daily("vua", long[:200], "06:30"))
	src := "station st-a\nbulletin tep\n    title " + long + "\n    source media " + shaA + "\n    target commune\n    daily 07:00\n"
	cur, _ := s.Read("st-a")
	if _, err := s.PutFile(context.Background(), leader, "st-a", []byte(src), cur.Version, false); err == nil || !strings.Contains(err.Error(), "at most 200 characters") {
		t.Errorf("a file with a 201-character title: %v", err)
	}
}

// A recording next to the programme (source file) goes through ffmpeg
// once: later saves find it by its identity or content, even with ffmpeg
// gone.
func TestFileSourceTranscodedOnce(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is not installed: run make deps")
	}
	s := newStore(t)
	ctx := context.Background()
	wav := filepath.Join(s.Dir, "ban-tin.wav")
	os.MkdirAll(s.Dir, 0o750)
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", wav).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	src := func(title string) []byte {
		return []byte("station st-a\nbulletin tep\n    title " + title + "\n    source file ban-tin.wav\n    target commune\n    daily 07:00\n")
	}
	if _, err := s.PutFile(ctx, leader, "st-a", src("Một"), "", false); err != nil {
		t.Fatal(err)
	}
	first := s.airing(t, "tep").Source.Media
	// From now on ffmpeg cannot run: a second transcoding would fail the save.
	broken, err := media.New(filepath.Join(filepath.Dir(s.Dir), "media"), media.Options{FFmpeg: "/nonexistent/ffmpeg", FFprobe: "/nonexistent/ffprobe"})
	if err != nil {
		t.Fatal(err)
	}
	s.Media = broken
	cur, _ := s.Read("st-a")
	if _, err := s.PutFile(ctx, leader, "st-a", src("Hai"), cur.Version, false); err != nil {
		t.Fatalf("a second save ran ffmpeg again: %v", err)
	}
	now := time.Now().Add(time.Hour)
	os.Chtimes(wav, now, now) // touched, same bytes: found by its content
	cur, _ = s.Read("st-a")
	if _, err := s.PutFile(ctx, leader, "st-a", src("Ba"), cur.Version, false); err != nil {
		t.Fatalf("a save after the file was touched ran ffmpeg again: %v", err)
	}
	if got := s.airing(t, "tep").Source.Media; got != first || first == "" {
		t.Errorf("media %q after the saves, want %q", got, first)
	}
}
