package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/desired"
	"github.com/communeradio/radio/controller/internal/media"
	"github.com/communeradio/radio/controller/internal/programme"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/controller/internal/scheduler"
	"github.com/communeradio/radio/controller/internal/warning"
)

// fixtureYear is the year of the fixtures' dates (December 1st, 08:00 in
// Vietnam, on the test's clock). RADIO_TEST_YEARS=1 runs the suite a year
// later: code that read the wall clock instead of the clock it is given
// would disagree with it by a year, and fail.
var fixtureYear = 2026 + testYears()

func testYears() int {
	n, _ := strconv.Atoi(os.Getenv("RADIO_TEST_YEARS"))
	return n
}

// y moves the year 2026 in a fixture's text to fixtureYear.
func y(s string) string { return strings.ReplaceAll(s, "2026", strconv.Itoa(fixtureYear)) }

func TestMain(m *testing.M) {
	pbkdf2Iter = 20_000 // the same KDF, cheaper: the race detector slows it 30-fold
	os.Exit(m.Run())
}

// testClock is a settable clock for sessions and login limits.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     testing.TB
	srv   *httptest.Server
	reg   *registry.DB
	clock *testClock
	admin string // API token
	sch   *programme.Store
	db    string // the registry's file
	api   *API
}

const (
	shaA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	shaB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

const testPassword = "mat-khau-thu-nghiem"

// newEnv runs the API on a real registry with two provinces: p-1 with
// communes a and b, p-2 with commune c; each commune has a station, a zone,
// a node and a recording, and users of every role.
func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := &testClock{t: time.Date(fixtureYear, 12, 1, 8, 0, 0, 0, schedule.Zone)}
	reg, err := registry.Open(filepath.Join(dir, "registry.db"), registry.Options{Logger: log, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	store, err := media.New(filepath.Join(dir, "media"), media.Options{Logger: log, MaxUpload: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	sch := &programme.Store{Dir: filepath.Join(dir, "schedules"), Media: store, Registry: reg, Logger: log}
	sch.Now = clock.Now
	sch.Scheduler = scheduler.New(scheduler.Config{Logger: log, Targets: sch.Targets, Media: sch.MediaInfo, Now: clock.Now,
		Hand: func(map[string]desired.Plan) {}})
	a := New(Config{Registry: reg, Media: store, Logger: log, Schedules: sch, Now: clock.Now,
		PublishDesired: func(context.Context, ...string) error { return nil },
		Warnings:       warning.New(warning.Config{Registry: reg, Media: store, Logger: log, Now: clock.Now})})
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(sch.Dir, 0o750))
	for _, ar := range []registry.Area{
		{ID: "p-1", Kind: "province", Name: "Tỉnh Một"}, {ID: "p-2", Kind: "province", Name: "Tỉnh Hai"},
		{ID: "a", ParentID: "p-1", Kind: "commune", Name: "Xã A"}, {ID: "b", ParentID: "p-1", Kind: "commune", Name: "Xã B"},
		{ID: "c", ParentID: "p-2", Kind: "commune", Name: "Xã C"},
	} {
		must(reg.CreateArea(ctx, ar))
	}
	for _, x := range []string{"a", "b", "c"} {
		must(reg.CreateStation(ctx, registry.Station{ID: "st-" + x, AreaID: x, Name: "Đài " + x}))
		must(reg.CreateNode(ctx, registry.Node{ID: "n-" + x, StationID: "st-" + x, Lat: 21, Lon: 105,
			CreatedAt: clock.Now().AddDate(0, -1, 0)}, []byte("hash"))) // enrolled before the programme's bulletins
		must(reg.CreateZone(ctx, registry.Zone{ID: "z-" + x, StationID: "st-" + x}))
		must(reg.SetZoneNodes(ctx, "z-"+x, []string{"n-" + x}))
	}
	for x, sha := range map[string]string{"a": shaA, "b": shaB} {
		must(reg.PutMedia(ctx, registry.Media{SHA256: sha, Name: "ban-tin-" + x + ".mp3", Size: 1000, DurationMS: 5000}))
		must(reg.LinkMedia(ctx, sha, x, "officer-"+x, clock.Now()))
	}
	_, err = reg.InsertPlayEvents(ctx, []registry.PlayEvent{
		{NodeID: "n-a", Seq: 1, Type: "started", ItemID: "c-1", Media: shaA, At: clock.Now()},
		{NodeID: "n-b", Seq: 1, Type: "started", ItemID: "c-2", Media: shaB, At: clock.Now()},
	})
	must(err)
	hash, err := HashPassword(testPassword)
	must(err)
	for _, u := range []registry.User{
		{ID: "u-oa", Username: "officer-a", Role: registry.RoleOfficer, AreaID: "a"},
		{ID: "u-la", Username: "leader-a", Role: registry.RoleLeader, AreaID: "a"},
		{ID: "u-ob", Username: "officer-b", Role: registry.RoleOfficer, AreaID: "b"},
		{ID: "u-p1", Username: "province-1", Role: registry.RoleProvince, AreaID: "p-1"},
		{ID: "u-p2", Username: "province-2", Role: registry.RoleProvince, AreaID: "p-2"},
	} {
		must(reg.CreateUser(ctx, u, hash))
	}
	tok, err := NewToken(ctx, reg, "admin", "admin")
	must(err)
	e := &env{t: t, srv: srv, reg: reg, clock: clock, admin: tok, sch: sch, db: filepath.Join(dir, "registry.db"), api: a}
	// Commune B's programme, made by the administrator.
	resp := e.do(e.tokenClient(), "PUT", "/api/v1/schedules/st-b/bulletins/tin-b", bulletinJSON("tin-b", shaB, "z-b"))
	if resp.status != 200 {
		t.Fatalf("admin's bulletin for commune B: %d %s", resp.status, resp.body)
	}
	return e
}

// edit is b as an edit of the bulletin's current version (what the
// caller sees now): the version field names it.
func (e *env) edit(c *client, schedule string, b map[string]any) map[string]any {
	e.t.Helper()
	var bs []Bulletin
	json.Unmarshal([]byte(e.do(c, "GET", "/api/v1/schedules/"+schedule+"/bulletins", nil).body), &bs)
	for _, x := range bs {
		if x.ID == b["id"] {
			b["version"] = x.Version
			if x.Pending != nil {
				b["version"] = x.Pending.Version
			}
		}
	}
	return b
}

// putFile saves a whole programme as its current version's successor.
func (e *env) putFile(c *client, name, src string) result {
	e.t.Helper()
	cur := e.do(c, "GET", "/api/v1/schedules/"+name, nil)
	req, _ := http.NewRequest("PUT", e.srv.URL+"/api/v1/schedules/"+name, strings.NewReader(src))
	if v := cur.header.Get("ETag"); cur.status == 200 && v != "" {
		req.Header.Set("If-Match", v)
	}
	return e.send(c, req)
}

func (e *env) send(c *client, req *http.Request) result {
	e.t.Helper()
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.csrf != "" {
		req.Header.Set(csrfHeader, c.csrf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, string(b), resp.Header}
}

func bulletinJSON(id, sha, zone string) map[string]any {
	return map[string]any{"id": id, "title": "Bản tin " + id, "source": map[string]any{"kind": "media", "media": sha},
		"target":     map[string]any{"kind": "zone", "ids": []string{zone}},
		"recurrence": map[string]any{"kind": "daily", "times": []string{"06:30"}}, "duration": "5m"}
}

// client is a browser (cookies) or a script (bearer token).
type client struct {
	http  *http.Client
	token string
	csrf  string
}

func (e *env) tokenClient() *client { return &client{http: e.srv.Client(), token: e.admin} }

// login logs a user in and returns their browser.
func (e *env) login(user string) *client {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{http: &http.Client{Jar: jar}}
	r := e.do(c, "POST", "/api/v1/login", map[string]string{"username": user, "password": testPassword})
	if r.status != 200 {
		e.t.Fatalf("login %s: %d %s", user, r.status, r.body)
	}
	var me meResponse
	json.Unmarshal([]byte(r.body), &me)
	if me.CSRF == "" || me.User.Username != user {
		e.t.Fatalf("login %s: answer %s", user, r.body)
	}
	c.csrf = me.CSRF
	return c
}

type result struct {
	status int
	body   string
	header http.Header
}

func (r result) code() string {
	var v struct{ Code string }
	json.Unmarshal([]byte(r.body), &v)
	return v.Code
}

func (e *env) do(c *client, method, path string, body any) result {
	return e.doCSRF(c, method, path, body, c.csrf)
}

func (e *env) doCSRF(c *client, method, path string, body any, csrf string) result {
	e.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string: // a schedule file as it is
		rd = strings.NewReader(v)
	case []byte: // an upload as it is
		rd = bytes.NewReader(v)
	default:
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if csrf != "" {
		req.Header.Set(csrfHeader, csrf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, string(b), resp.Header}
}

// ids lists the "id" (or another key's) values of a JSON array answer.
func ids(t *testing.T, r result, key string) []string {
	t.Helper()
	var v []map[string]any
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("not a JSON list (%d): %s", r.status, r.body)
	}
	var out []string
	for _, x := range v {
		out = append(out, fmt.Sprint(x[key]))
	}
	return out
}

func TestOfficerSeesAndTouchesOnlyTheirCommune(t *testing.T) {
	e := newEnv(t)
	oa := e.login("officer-a")
	lists := []struct {
		path, key string
		want      string
	}{
		{"/api/v1/nodes", "id", "n-a"},
		{"/api/v1/zones", "id", "z-a"},
		{"/api/v1/stations", "id", "st-a"},
		{"/api/v1/areas", "id", "a"},
		{"/api/v1/media", "sha256", shaA},
		{"/api/v1/plays", "node_id", "n-a"},
		{"/api/v1/approvals", "schedule", ""},
		{"/api/v1/schedules", "name", ""},
	}
	for _, l := range lists {
		r := e.do(oa, "GET", l.path, nil)
		if r.status != 200 {
			t.Errorf("GET %s: %d %s", l.path, r.status, r.body)
			continue
		}
		got := strings.Join(ids(t, r, l.key), ",")
		if got != l.want {
			t.Errorf("GET %s as officer of A lists %q, want %q", l.path, got, l.want)
		}
	}
	// Nothing of commune B, by any route.
	refused := []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/nodes/n-b", nil},
		{"GET", "/api/v1/media/" + shaB, nil},
		{"GET", "/api/v1/media/" + shaB + "/audio", nil},
		{"GET", "/api/v1/schedules/st-b", nil},
		{"GET", "/api/v1/schedules/st-b/bulletins", nil},
		{"GET", "/api/v1/schedules/st-b/occurrences", nil},
		{"PUT", "/api/v1/schedules/st-b/bulletins/x", bulletinJSON("x", shaA, "z-b")},
		{"DELETE", "/api/v1/schedules/st-b/bulletins/tin-b", nil},
		{"POST", "/api/v1/schedules/st-b/bulletins/tin-b/approve", nil},
		{"DELETE", "/api/v1/schedules/st-b", nil},
		{"POST", "/api/v1/play", map[string]any{"zone": "z-b", "media": shaA}},
		{"POST", "/api/v1/play", map[string]any{"node": "n-b", "media": shaA}},
		{"POST", "/api/v1/play", map[string]any{"zone": "z-a", "media": shaB}}, // B's recording
		{"POST", "/api/v1/stop", map[string]any{"zone": "z-b"}},
		{"POST", "/api/v1/volume", map[string]any{"node": "n-b", "value": 10}},
		{"POST", "/api/v1/amp", map[string]any{"zone": "z-b", "value": false}},
		{"GET", "/api/v1/plays?station=st-b", nil},
		{"GET", "/api/v1/plays.csv?station=st-b", nil},
		{"GET", "/api/v1/reports/occurrences?station=st-b", nil},
		// B's zones and clusters (A's own are the officer's to manage: TestManageWithinArea)
		{"POST", "/api/v1/nodes/n-b/revoke", nil},
		{"POST", "/api/v1/zones", map[string]any{"id": "z-x", "station_id": "st-b"}},
		{"PUT", "/api/v1/zones/z-b/nodes", map[string]any{"nodes": []string{}}},
		// and what only an administrator does
		{"POST", "/api/v1/nodes", map[string]any{"id": "n-x", "station_id": "st-a"}},
		{"POST", "/api/v1/users", map[string]any{"username": "x", "role": "leader", "area_id": "a"}},
		{"GET", "/api/v1/users", nil},
		{"POST", "/api/v1/keys/rotate", map[string]any{"step": "prepare"}},
	}
	for _, c := range refused {
		r := e.do(oa, c.method, c.path, c.body)
		if r.status != http.StatusForbidden && r.status != http.StatusNotFound {
			t.Errorf("%s %s as officer of A: %d %s, want 403 or 404", c.method, c.path, r.status, r.body)
		}
	}
	// The officer can work in their own commune.
	if r := e.do(oa, "PUT", "/api/v1/schedules/st-a/bulletins/tin-a", bulletinJSON("tin-a", shaA, "z-a")); r.status != 200 {
		t.Errorf("officer's own bulletin: %d %s", r.status, r.body)
	}
	if r := e.do(oa, "GET", "/api/v1/schedules/st-a/bulletins", nil); strings.Join(ids(t, r, "id"), ",") != "tin-a" {
		t.Errorf("own bulletins: %s", r.body)
	}
	// The audit log shows commune A's entries, none of B's.
	r := e.do(oa, "GET", "/api/v1/audit", nil)
	if !strings.Contains(r.body, "st-a/tin-a") || strings.Contains(r.body, "st-b") {
		t.Errorf("officer A's audit log: %s", r.body)
	}
	// The dashboard counts A's cluster only.
	var d Dashboard
	json.Unmarshal([]byte(e.do(oa, "GET", "/api/v1/dashboard", nil).body), &d)
	if d.Nodes != 1 {
		t.Errorf("dashboard of officer A counts %d nodes, want 1", d.Nodes)
	}
	for _, n := range d.Next {
		if n.Station != "st-a" {
			t.Errorf("dashboard of officer A shows %s's bulletin %s", n.Station, n.Item)
		}
	}
}

func TestProvinceStaffSeeTheirProvinceAndChangeNothing(t *testing.T) {
	e := newEnv(t)
	p1 := e.login("province-1")
	if got := strings.Join(ids(t, e.do(p1, "GET", "/api/v1/nodes", nil), "id"), ","); got != "n-a,n-b" {
		t.Errorf("province 1 sees nodes %q, want n-a,n-b", got)
	}
	if got := strings.Join(ids(t, e.do(p1, "GET", "/api/v1/schedules", nil), "name"), ","); got != "st-b" {
		t.Errorf("province 1 sees schedules %q, want st-b", got)
	}
	if r := e.do(p1, "GET", "/api/v1/schedules/st-b/bulletins", nil); r.status != 200 {
		t.Errorf("province reads commune B's programme: %d %s", r.status, r.body)
	}
	p2 := e.login("province-2")
	if got := strings.Join(ids(t, e.do(p2, "GET", "/api/v1/nodes", nil), "id"), ","); got != "n-c" {
		t.Errorf("province 2 sees nodes %q, want n-c", got)
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"PUT", "/api/v1/schedules/st-b/bulletins/x", bulletinJSON("x", shaB, "z-b")},
		{"POST", "/api/v1/schedules/st-b/bulletins/tin-b/approve", nil},
		{"DELETE", "/api/v1/schedules/st-b/bulletins/tin-b", nil},
		{"POST", "/api/v1/play", map[string]any{"zone": "z-b", "media": shaB}},
		{"POST", "/api/v1/stop", map[string]any{"zone": "z-a"}},
		{"POST", "/api/v1/volume", map[string]any{"zone": "z-a", "value": 10}},
		{"POST", "/api/v1/media", nil},
	} {
		if r := e.do(p1, c.method, c.path, c.body); r.status != http.StatusForbidden {
			t.Errorf("%s %s as provincial staff: %d %s, want 403", c.method, c.path, r.status, r.body)
		}
	}
}

func TestApprovalWorkflow(t *testing.T) {
	e := newEnv(t)
	oa, la := e.login("officer-a"), e.login("leader-a")
	status := func(c *client) string {
		t.Helper()
		r := e.do(c, "GET", "/api/v1/schedules/st-a/bulletins", nil)
		var bs []Bulletin
		json.Unmarshal([]byte(r.body), &bs)
		if len(bs) != 1 {
			t.Fatalf("bulletins: %s", r.body)
		}
		return bs[0].Status
	}
	b := bulletinJSON("tin-a", shaA, "z-a")
	b["status"] = "approved" // an officer cannot approve by writing it
	if r := e.do(oa, "PUT", "/api/v1/schedules/st-a/bulletins/tin-a", b); r.status != 200 {
		t.Fatalf("officer saves: %d %s", r.status, r.body)
	}
	if s := status(oa); s != "draft" {
		t.Errorf("officer's new bulletin is %s, want draft", s)
	}
	if got := ids(t, e.do(la, "GET", "/api/v1/approvals", nil), "schedule"); len(got) != 1 {
		t.Errorf("leader's approval queue: %v", got)
	}
	if r := e.do(oa, "POST", "/api/v1/schedules/st-a/bulletins/tin-a/approve", nil); r.status != http.StatusForbidden {
		t.Errorf("officer approves: %d %s, want 403", r.status, r.body)
	}
	if r := e.do(la, "POST", "/api/v1/schedules/st-a/bulletins/tin-a/approve", nil); r.status != 200 {
		t.Fatalf("leader approves: %d %s", r.status, r.body)
	}
	if s := status(oa); s != "approved" {
		t.Errorf("after the leader's approval: %s", s)
	}
	// Saving it unchanged keeps the approval; a change waits for approval.
	e.do(oa, "PUT", "/api/v1/schedules/st-a/bulletins/tin-a", e.edit(oa, "st-a", bulletinJSON("tin-a", shaA, "z-a")))
	if s := status(oa); s != "approved" {
		t.Errorf("saved unchanged: %s, want approved", s)
	}
	// A change waits beside the approved version, which goes on airing.
	pending := func() *Bulletin {
		t.Helper()
		var bs []Bulletin
		json.Unmarshal([]byte(e.do(oa, "GET", "/api/v1/schedules/st-a/bulletins", nil).body), &bs)
		return bs[0].Pending
	}
	b = bulletinJSON("tin-a", shaA, "z-a")
	b["title"] = "Bản tin đã sửa"
	e.do(oa, "PUT", "/api/v1/schedules/st-a/bulletins/tin-a", e.edit(oa, "st-a", b))
	if s, p := status(oa), pending(); s != "approved" || p == nil || p.Title != "Bản tin đã sửa" {
		t.Errorf("changed after approval: %s, pending %+v; want approved with the change waiting", s, p)
	}
	// The whole file, as an officer: "status approved" on a changed bulletin
	// does not stick; the change waits too.
	src := e.do(oa, "GET", "/api/v1/schedules/st-a", nil).body
	src = strings.Replace(strings.Replace(src, "draft", "approved", 1), "Bản tin tin-a", "Bản tin sửa lần hai", 1)
	if r := e.putFile(oa, "st-a", src); r.status != 200 || !strings.Contains(r.body, `"tin-a"`) {
		t.Errorf("officer's whole-file save: %d %s (want tin-a listed as waiting)", r.status, r.body)
	}
	if s, p := status(oa), pending(); s != "approved" || p == nil || p.Title != "Bản tin sửa lần hai" || p.Status != "draft" {
		t.Errorf("officer's file saying approved: %s, pending %+v; want the approved version airing, the change a draft", s, p)
	}
	if sc := e.sch.Scheduler.Schedules()["st-a"]; sc == nil || sc.Items[0].Title != "Bản tin tin-a" || !sc.Items[0].Approved {
		t.Errorf("the scheduler airs %+v, want the approved version", sc)
	}
	var actions []string
	for _, a := range decodeAudit(t, e.do(la, "GET", "/api/v1/audit", nil)) {
		if strings.HasPrefix(a.Action, "bulletin.") || a.Action == "schedule.save" {
			actions = append([]string{a.Actor + " " + a.Action}, actions...)
		}
	}
	want := "officer-a bulletin.create,leader-a bulletin.approve,officer-a bulletin.change,officer-a bulletin.change,officer-a schedule.save"
	if got := strings.Join(actions, ","); got != want {
		t.Errorf("audit trail:\n got %s\nwant %s", got, want)
	}
}

func decodeAudit(t *testing.T, r result) []registry.Audit {
	var v []registry.Audit
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("audit: %d %s", r.status, r.body)
	}
	return v
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	oa := e.login("officer-a")
	path, body := "/api/v1/schedules/st-a/bulletins/tin-a", bulletinJSON("tin-a", shaA, "z-a")
	for _, tok := range []string{"", "forged-" + oa.csrf[:8]} {
		r := e.doCSRF(oa, "PUT", path, body, tok)
		if r.status != http.StatusForbidden || r.code() != "csrf" {
			t.Errorf("CSRF token %q: %d %s, want 403 csrf", tok, r.status, r.body)
		}
	}
	if r := e.do(oa, "GET", "/api/v1/schedules/st-a/bulletins", nil); r.body != "[]\n" {
		t.Errorf("a refused request changed something: %s", r.body)
	}
	// Another user's CSRF token does not fit this session either.
	ob := e.login("officer-b")
	if r := e.doCSRF(oa, "PUT", path, body, ob.csrf); r.status != http.StatusForbidden {
		t.Errorf("another session's CSRF token: %d", r.status)
	}
	if r := e.do(oa, "PUT", path, body); r.status != 200 {
		t.Errorf("with the session's CSRF token: %d %s", r.status, r.body)
	}
	// Bearer tokens are not cookies: no CSRF token needed.
	if r := e.do(e.tokenClient(), "PUT", "/api/v1/schedules/st-c/bulletins/tin-c", bulletinJSON("tin-c", shaA, "z-c")); r.status != 200 {
		t.Errorf("token without CSRF: %d %s", r.status, r.body)
	}
}

func TestLoginSlowsDownAfterFiveWrongPasswords(t *testing.T) {
	e := newEnv(t)
	c := &client{http: e.srv.Client()}
	login := func(pw string) result {
		return e.do(c, "POST", "/api/v1/login", map[string]string{"username": "leader-a", "password": pw})
	}
	for i := 0; i < 5; i++ {
		if r := login("wrong"); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d %s", i+1, r.status, r.body)
		}
	}
	r := login(testPassword) // right, but too soon
	if r.status != http.StatusTooManyRequests || r.code() != "rate_limited" || r.header.Get("Retry-After") == "" {
		t.Fatalf("sixth attempt: %d %s (Retry-After %q), want 429", r.status, r.body, r.header.Get("Retry-After"))
	}
	// Other users are not locked out by it.
	if r := e.do(c, "POST", "/api/v1/login", map[string]string{"username": "officer-a", "password": testPassword}); r.status != 200 {
		t.Errorf("another user: %d %s", r.status, r.body)
	}
	e.clock.Add(firstWait + time.Second)
	if r := login(testPassword); r.status != 200 {
		t.Errorf("after the wait: %d %s", r.status, r.body)
	}
	// Each failure past the limit doubles the wait.
	for i := 0; i < 5; i++ {
		login("wrong")
	}
	e.clock.Add(firstWait + time.Second)
	if r := login("wrong"); r.status != http.StatusUnauthorized {
		t.Fatalf("a try after the first wait: %d", r.status)
	}
	e.clock.Add(firstWait + time.Second) // the wait is now twice as long
	if r := login(testPassword); r.status != http.StatusTooManyRequests {
		t.Errorf("after a sixth failure the wait has not doubled: %d", r.status)
	}
	e.clock.Add(firstWait)
	if r := login(testPassword); r.status != 200 {
		t.Errorf("after the doubled wait: %d %s", r.status, r.body)
	}
	var fails int
	for _, a := range decodeAudit(t, e.do(e.tokenClient(), "GET", "/api/v1/audit", nil)) {
		if a.Action == "login.fail" {
			fails++
		}
	}
	if fails < 5 {
		t.Errorf("audit has %d failed logins", fails)
	}
}

func TestSessions(t *testing.T) {
	e := newEnv(t)
	anon := &client{http: e.srv.Client()}
	if r := e.do(anon, "GET", "/api/v1/nodes", nil); r.status != http.StatusUnauthorized || r.code() != "unauthorized" {
		t.Errorf("no login: %d %s", r.status, r.body)
	}
	oa := e.login("officer-a")
	if r := e.do(oa, "GET", "/api/v1/me", nil); r.status != 200 || !strings.Contains(r.body, `"area_name": "Xã A"`) {
		t.Errorf("me: %d %s", r.status, r.body)
	}
	e.clock.Add(SessionIdle + time.Minute)
	if r := e.do(oa, "GET", "/api/v1/me", nil); r.status != http.StatusUnauthorized {
		t.Errorf("idle session: %d, want 401", r.status)
	}
	oa = e.login("officer-a")
	if r := e.do(oa, "POST", "/api/v1/logout", nil); r.status != 200 {
		t.Errorf("logout: %d %s", r.status, r.body)
	}
	if r := e.do(oa, "GET", "/api/v1/me", nil); r.status != http.StatusUnauthorized {
		t.Errorf("after logout: %d, want 401", r.status)
	}
	// Changing the password ends the user's sessions.
	oa = e.login("officer-a")
	other := e.login("officer-a")
	if r := e.do(oa, "POST", "/api/v1/me/password", map[string]string{"old": testPassword, "new": "mat-khau-moi-dai"}); r.status != 200 {
		t.Fatalf("change password: %d %s", r.status, r.body)
	}
	if r := e.do(other, "GET", "/api/v1/me", nil); r.status != http.StatusUnauthorized {
		t.Errorf("other session after a password change: %d, want 401", r.status)
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("đúng mật khẩu")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "đúng mật khẩu") || CheckPassword(h, "sai mật khẩu") || CheckPassword("garbage", "") {
		t.Errorf("CheckPassword does not tell right from wrong")
	}
	if h2, _ := HashPassword("đúng mật khẩu"); h2 == h {
		t.Errorf("two hashes of one password are equal: no salt")
	}
}

// The OpenAPI document is served without a login (it holds no data), as
// the same bytes the route test checks.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.do(&client{http: e.srv.Client()}, "GET", "/api/v1/openapi.json", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || r.body != string(openAPI) {
		t.Errorf("GET /api/v1/openapi.json: %d %q, %d bytes", r.status, r.header.Get("Content-Type"), len(r.body))
	}
}

// Uploads that are too big or not audio get the status and code the web
// app turns into advice, and nothing is stored.
func TestUploadRefusals(t *testing.T) {
	e := newEnv(t)
	oa := e.login("officer-a")
	upload := func(body []byte) result { return e.do(oa, "POST", "/api/v1/media?name=x.mp3", body) }
	if r := upload(bytes.Repeat([]byte{0xff, 0xfb, 0x90, 0x00}, 50<<10)); r.status != http.StatusRequestEntityTooLarge || r.code() != "too_large" {
		t.Errorf("200 KiB upload over a 64 KiB limit: %d %s", r.status, r.body)
	}
	if r := upload([]byte("Đây không phải là tệp âm thanh.\n")); r.status != http.StatusUnprocessableEntity || r.code() != "not_audio" {
		t.Errorf("text upload: %d %s", r.status, r.body)
	}
	if got := ids(t, e.do(oa, "GET", "/api/v1/media", nil), "sha256"); len(got) != 1 {
		t.Errorf("media library after refused uploads: %v", got)
	}
}

// A whole programme file may be saved under any name; the station it names
// decides who may save it.
func TestWholeFileNamedFreely(t *testing.T) {
	e := newEnv(t)
	oa := e.login("officer-a")
	put := func(c *client, name, station string) result {
		src := "station " + station + "\nbulletin tin\n    title Tin\n    source media " + shaA + "\n    target commune\n    daily 06:30\n    duration 5m\n"
		return e.do(c, "PUT", "/api/v1/schedules/"+name, src)
	}
	if r := put(oa, "st-c", "st-a"); r.status != http.StatusBadRequest {
		t.Errorf("officer A takes the name st-c for st-a's programme: %d %s, want 400", r.status, r.body)
	}
	if r := put(e.tokenClient(), "xa-a", "st-a"); r.status != 200 {
		t.Errorf("admin saves xa-a for st-a: %d %s", r.status, r.body)
	}
	if r := put(oa, "xa-a", "st-a"); r.status != 200 {
		t.Errorf("officer A saves the existing xa-a for st-a: %d %s", r.status, r.body)
	}
	if r := put(oa, "xa-b", "st-b"); r.status != http.StatusForbidden {
		t.Errorf("officer A saves xa-b for st-b: %d %s, want 403", r.status, r.body)
	}
	if r := put(oa, "xa-a", "st-b"); r.status != http.StatusForbidden {
		t.Errorf("officer A moves xa-a to st-b: %d %s, want 403", r.status, r.body)
	}
	if r := put(e.tokenClient(), "xa-c", "st-c"); r.status != 200 {
		t.Errorf("admin saves xa-c: %d %s", r.status, r.body)
	}
}

// Users make API tokens for their scripts; a token can do what its owner
// can, no more, and dies with its owner's account.
func TestTokens(t *testing.T) {
	e := newEnv(t)
	oa := e.login("officer-a")
	r := e.do(oa, "POST", "/api/v1/tokens", map[string]any{"name": "sao lưu"})
	var made struct {
		Token  registry.Token `json:"token"`
		Secret string         `json:"secret"`
	}
	if r.status != 201 || json.Unmarshal([]byte(r.body), &made) != nil || made.Secret == "" {
		t.Fatalf("officer makes a token: %d %s", r.status, r.body)
	}
	if made.Token.Role != registry.RoleOfficer || made.Token.AreaID != "a" || made.Token.CreatedBy != "officer-a" {
		t.Errorf("token: %+v", made.Token)
	}
	script := &client{http: e.srv.Client(), token: made.Secret}
	if r := e.do(script, "POST", "/api/v1/tokens", map[string]any{"name": "admin"}); r.status != http.StatusForbidden {
		t.Errorf("the officer's token makes a token: %d %s (it would outlive the officer)", r.status, r.body)
	}
	if got := strings.Join(ids(t, e.do(script, "GET", "/api/v1/nodes", nil), "id"), ","); got != "n-a" {
		t.Errorf("the officer's script sees nodes %q, want n-a", got)
	}
	if r := e.do(script, "POST", "/api/v1/volume", map[string]any{"zone": "z-b", "value": 10}); r.status != http.StatusForbidden {
		t.Errorf("the officer's script in commune B: %d", r.status)
	}
	for _, body := range []map[string]any{
		{"name": "x", "role": "admin"},
		{"name": "x", "role": "officer", "area_id": "b"},
		{"name": "x", "role": "leader", "area_id": "a"},
	} {
		if r := e.do(oa, "POST", "/api/v1/tokens", body); r.status != http.StatusForbidden {
			t.Errorf("officer makes a token %v: %d %s, want 403", body, r.status, r.body)
		}
	}
	// Others' tokens are neither listed nor revocable.
	ob := e.login("officer-b")
	if got := ids(t, e.do(ob, "GET", "/api/v1/tokens", nil), "id"); len(got) != 0 {
		t.Errorf("officer B lists tokens %v", got)
	}
	if r := e.do(ob, "DELETE", "/api/v1/tokens/"+made.Token.ID, nil); r.status != http.StatusForbidden {
		t.Errorf("officer B revokes A's token: %d", r.status)
	}
	if got := ids(t, e.do(oa, "GET", "/api/v1/tokens", nil), "id"); len(got) != 1 || got[0] != made.Token.ID {
		t.Errorf("officer A lists tokens %v", got)
	}
	// The administrator makes a province token: it reads, changes nothing.
	r = e.do(e.tokenClient(), "POST", "/api/v1/tokens", map[string]any{"name": "báo cáo tỉnh", "role": "province", "area_id": "p-1"})
	var prov struct{ Secret string }
	json.Unmarshal([]byte(r.body), &prov)
	ps := &client{http: e.srv.Client(), token: prov.Secret}
	if got := strings.Join(ids(t, e.do(ps, "GET", "/api/v1/nodes", nil), "id"), ","); got != "n-a,n-b" {
		t.Errorf("province token sees %q", got)
	}
	if r := e.do(ps, "POST", "/api/v1/stop", map[string]any{"zone": "z-a"}); r.status != http.StatusForbidden {
		t.Errorf("province token stops a zone: %d", r.status)
	}
	if r := e.do(e.tokenClient(), "POST", "/api/v1/tokens", map[string]any{"name": "x", "role": "province", "area_id": "a"}); r.status != http.StatusBadRequest {
		t.Errorf("province token for a commune: %d, want 400", r.status)
	}
	// Disabling the owner stops their tokens; revoking stops one at once.
	if r := e.do(e.tokenClient(), "POST", "/api/v1/users/u-oa/disabled", map[string]any{"disabled": true}); r.status != 200 {
		t.Fatalf("disable officer A: %d %s", r.status, r.body)
	}
	if r := e.do(script, "GET", "/api/v1/nodes", nil); r.status != http.StatusUnauthorized {
		t.Errorf("a disabled officer's token: %d, want 401", r.status)
	}
	e.do(e.tokenClient(), "POST", "/api/v1/users/u-oa/disabled", map[string]any{"disabled": false})
	if r := e.do(script, "GET", "/api/v1/nodes", nil); r.status != 200 {
		t.Errorf("re-enabled officer's token: %d", r.status)
	}
	oa = e.login("officer-a")
	if r := e.do(oa, "DELETE", "/api/v1/tokens/"+made.Token.ID, nil); r.status != 200 {
		t.Errorf("officer A revokes own token: %d %s", r.status, r.body)
	}
	if r := e.do(script, "GET", "/api/v1/nodes", nil); r.status != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d, want 401", r.status)
	}
}

// Saving a bulletin says at once what its approval would run into.
func TestDraftChecks(t *testing.T) {
	e := newEnv(t) // 2026-12-01 08:00 in Vietnam
	oa, la := e.login("officer-a"), e.login("leader-a")
	once := func(id, date, at string) map[string]any {
		b := bulletinJSON(id, shaA, "z-a")
		b["recurrence"] = map[string]any{"kind": "once", "date": date, "times": []string{at}}
		return b
	}
	r := e.do(oa, "PUT", "/api/v1/schedules/st-a/bulletins/qua-gio", once("qua-gio", y("2026-12-01"), "07:00"))
	if r.status != http.StatusBadRequest || r.code() != "schedule" || !strings.Contains(r.body, "already passed") {
		t.Errorf("a one-off time already past: %d %s", r.status, r.body)
	}
	// An approved 06:30 daily bulletin, then a draft at the same time.
	e.do(oa, "PUT", "/api/v1/schedules/st-a/bulletins/sang", bulletinJSON("sang", shaA, "z-a"))
	if r := e.do(la, "POST", "/api/v1/schedules/st-a/bulletins/sang/approve", nil); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	r = e.do(oa, "PUT", "/api/v1/schedules/st-a/bulletins/trung", bulletinJSON("trung", shaA, "z-a"))
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, `\"Bản tin sang\" (sang)`) || strings.Count(r.body, "same time as") != 1 {
		t.Errorf("a draft clashing with an approved bulletin: %d %s", r.status, r.body)
	}
	b := bulletinJSON("trung", shaA, "z-a")
	b["priority"] = "priority" // a higher priority cuts in: no clash
	if r := e.do(oa, "PUT", "/api/v1/schedules/st-a/bulletins/trung", b); r.status != 200 {
		t.Errorf("the same at a higher priority: %d %s", r.status, r.body)
	}
	// A one-off saved in time but approved too late.
	if r := e.do(oa, "PUT", "/api/v1/schedules/st-a/bulletins/muon", once("muon", y("2026-12-01"), "09:00")); r.status != 200 {
		t.Fatalf("one-off at 09:00: %d %s", r.status, r.body)
	}
	e.clock.Add(2 * time.Hour)
	r = e.do(la, "POST", "/api/v1/schedules/st-a/bulletins/muon/approve", nil)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "already passed") {
		t.Errorf("approving a one-off after its time: %d %s", r.status, r.body)
	}
}

// A forgotten password: the administrator makes a new one, which works at
// once, even for an account locked by wrong guesses; the old one does not.
func TestPasswordReset(t *testing.T) {
	e := newEnv(t)
	c := &client{http: e.srv.Client()}
	for i := 0; i < 5; i++ {
		e.do(c, "POST", "/api/v1/login", map[string]string{"username": "leader-a", "password": "quên rồi"})
	}
	if r := e.do(e.login("officer-a"), "POST", "/api/v1/users/u-la/password", map[string]any{}); r.status != http.StatusForbidden {
		t.Errorf("an officer resets a password: %d", r.status)
	}
	r := e.do(e.tokenClient(), "POST", "/api/v1/users/u-la/password", map[string]any{})
	var v struct{ Password string }
	if r.status != 200 || json.Unmarshal([]byte(r.body), &v) != nil || len(v.Password) < minPassword {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	if r := e.do(c, "POST", "/api/v1/login", map[string]string{"username": "leader-a", "password": v.Password}); r.status != 200 {
		t.Errorf("login with the new password: %d %s", r.status, r.body)
	}
	if r := e.do(c, "POST", "/api/v1/login", map[string]string{"username": "leader-a", "password": testPassword}); r.status != http.StatusUnauthorized {
		t.Errorf("login with the old password: %d", r.status)
	}
}

// Text tricks do not put an officer's bulletin on air: a quoted id, a byte
// order mark, or a deletion that would hand a bulletin's lines to the
// approved one above it.
func TestApprovalCannotBeTricked(t *testing.T) {
	e := newEnv(t)
	oa, la := e.login("officer-a"), e.login("leader-a")
	put := func(src string) result { return e.putFile(oa, "st-a", src) }
	approved := func() map[string]bool {
		out := map[string]bool{}
		var bs []Bulletin
		json.Unmarshal([]byte(e.do(la, "GET", "/api/v1/schedules/st-a/bulletins", nil).body), &bs)
		for _, b := range bs {
			out[b.ID] = b.Status == "approved"
		}
		return out
	}
	item := func(id, extra string) string {
		return "bulletin " + id + "\n    title T " + id + "\n    source media " + shaA + "\n    target commune\n    status approved\n    daily 06:30\n    duration 1m\n" + extra
	}
	for name, src := range map[string]string{
		"quoted id":        "station st-a\n" + strings.Replace(item("evil", ""), "bulletin evil", `bulletin "evil"`, 1),
		"byte order mark":  "\ufeffstation st-a\n" + item("evil", ""),
		"tab-indented BOM": "\ufeffstation st-a\n" + strings.ReplaceAll(item("evil", ""), "    ", "\t"),
	} {
		r := put(src)
		if r.status == 200 && approved()["evil"] {
			t.Errorf("%s: the officer's bulletin is approved: %s", name, r.body)
		}
	}
	// An approved bulletin z, then the officer's draft a with lines after
	// an unindented comment; deleting a must not give z those lines.
	e.do(e.tokenClient(), "DELETE", "/api/v1/schedules/st-a", nil)
	if r := e.do(e.tokenClient(), "PUT", "/api/v1/schedules/st-a/bulletins/z", bulletinJSON("z", shaA, "z-a")); r.status != 200 {
		t.Fatal(r.body)
	}
	e.do(la, "POST", "/api/v1/schedules/st-a/bulletins/z/approve", nil)
	src := e.do(la, "GET", "/api/v1/schedules/st-a", nil).body +
		"bulletin a\n    title A\n    source media " + shaA + "\n    target commune\n    daily 09:00\n# note\n    repeat 20 gap 2h\n    on-holiday play\n"
	if r := put(src); r.status != 200 {
		t.Fatalf("officer adds draft a: %d %s", r.status, r.body)
	}
	r := e.do(oa, "DELETE", "/api/v1/schedules/st-a/bulletins/a", nil)
	var bs []Bulletin
	json.Unmarshal([]byte(e.do(la, "GET", "/api/v1/schedules/st-a/bulletins", nil).body), &bs)
	for _, b := range bs {
		if b.ID == "z" && b.Status == "approved" && (b.Repeat != 0 || b.OnHoliday == "play") {
			t.Errorf("after deleting a (%d), approved z changed without a leader: %+v", r.status, b)
		}
		if b.ID == "a" && r.status == 200 {
			t.Errorf("a is still there after its deletion was accepted")
		}
	}
}

// Parallel guesses are held back as surely as one after another, and a
// name no account could have is refused before any work.
func TestLoginParallelGuesses(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	codes := make(chan int, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{http: e.srv.Client()}
			codes <- e.do(c, "POST", "/api/v1/login", map[string]string{"username": "leader-a", "password": "đoán"}).status
		}()
	}
	wg.Wait()
	close(codes)
	tried := 0
	for c := range codes {
		if c == http.StatusUnauthorized {
			tried++
		}
	}
	if tried != failLimit {
		t.Errorf("%d of 20 parallel guesses were checked, want %d", tried, failLimit)
	}
	long := strings.Repeat("a", 5000)
	if r := e.do(&client{http: e.srv.Client()}, "POST", "/api/v1/login", map[string]string{"username": long, "password": "x"}); r.status != http.StatusUnauthorized {
		t.Errorf("a 5,000-character name: %d", r.status)
	}
	for _, a := range decodeAudit(t, e.do(e.tokenClient(), "GET", "/api/v1/audit", nil)) {
		if len(a.Actor) > 100 {
			t.Errorf("the audit log keeps a %d-character name", len(a.Actor))
		}
	}
}

// "Play now" is not a back door into the programme: an officer cannot set
// it hours ahead (that needs a leader's approval).
func TestPlayNowIsNow(t *testing.T) {
	e := newEnv(t)
	oa := e.login("officer-a")
	at := e.clock.Now().Add(3 * time.Hour).Format(time.RFC3339)
	if r := e.do(oa, "POST", "/api/v1/play", map[string]any{"zone": "z-a", "media": shaA, "play_at": at}); r.status != http.StatusForbidden {
		t.Errorf("officer plays 3 h ahead: %d %s", r.status, r.body)
	}
}

// A programme plays only recordings of its own commune's library.
func TestScheduleUsesOwnRecordingsOnly(t *testing.T) {
	e := newEnv(t)
	oa := e.login("officer-a")
	r := e.do(oa, "PUT", "/api/v1/schedules/st-a/bulletins/muon", bulletinJSON("muon", shaB, "z-a"))
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "not in your media library") {
		t.Errorf("officer A schedules commune B's recording: %d %s", r.status, r.body)
	}
}

// The leader approves what they saw: a change in between is not approved.
func TestApprovalIsOfWhatTheLeaderSaw(t *testing.T) {
	e := newEnv(t)
	oa, la := e.login("officer-a"), e.login("leader-a")
	e.do(oa, "PUT", "/api/v1/schedules/st-a/bulletins/tin", bulletinJSON("tin", shaA, "z-a"))
	var queue []Approval
	json.Unmarshal([]byte(e.do(la, "GET", "/api/v1/approvals", nil).body), &queue)
	if len(queue) != 1 || queue[0].Bulletin.Version == "" {
		t.Fatalf("queue: %+v", queue)
	}
	seen := queue[0].Bulletin.Version
	b := bulletinJSON("tin", shaA, "z-a")
	b["title"] = "Đã đổi sau khi lãnh đạo mở"
	e.do(oa, "PUT", "/api/v1/schedules/st-a/bulletins/tin", e.edit(oa, "st-a", b))
	if r := e.do(la, "POST", "/api/v1/schedules/st-a/bulletins/tin/approve", map[string]string{"version": seen}); r.status != http.StatusConflict {
		t.Errorf("approving what changed since: %d %s, want 409", r.status, r.body)
	}
	json.Unmarshal([]byte(e.do(la, "GET", "/api/v1/approvals", nil).body), &queue)
	if r := e.do(la, "POST", "/api/v1/schedules/st-a/bulletins/tin/approve", map[string]string{"version": queue[0].Bulletin.Version}); r.status != 200 {
		t.Errorf("approving what the leader now sees: %d %s", r.status, r.body)
	}
}

// Behind a trusted reverse proxy on this machine, the login limit and the
// audit log see each person's own address, and the cookie is Secure when
// the person came over HTTPS; without the option the headers are ignored.
func TestTrustProxy(t *testing.T) {
	for _, trust := range []bool{false, true} {
		e := newEnv(t)
		e.api.cfg.TrustProxy = trust
		login := func(xff, pw string) result {
			b, _ := json.Marshal(map[string]string{"username": "leader-a", "password": pw})
			req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/login", bytes.NewReader(b))
			req.Header.Set("X-Forwarded-For", "203.0.113.9, "+xff) // the first is what the client claimed
			req.Header.Set("X-Forwarded-Proto", "https")
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return result{resp.StatusCode, string(body), resp.Header}
		}
		r := login("198.51.100.7", testPassword)
		secure := strings.Contains(r.header.Get("Set-Cookie"), "Secure")
		if r.status != 200 || secure != trust {
			t.Errorf("trust=%v: login %d, Secure cookie %v", trust, r.status, secure)
		}
		var remote string
		for _, a := range decodeAudit(t, e.do(e.tokenClient(), "GET", "/api/v1/audit", nil)) {
			if a.Action == "login" {
				remote = a.Remote
			}
		}
		if want := map[bool]string{true: "198.51.100.7", false: "127.0.0.1"}[trust]; remote != want {
			t.Errorf("trust=%v: the audit log says the login came from %q, want %q", trust, remote, want)
		}
	}
}
