package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/broker"
	"github.com/communeradio/radio/controller/internal/release"
	"github.com/communeradio/radio/controller/internal/signer"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// enrolEnv is newEnv with what enrolment needs: the controller's signing
// key, and a node broker on an unspecified address (0.0.0.0).
func enrolEnv(t *testing.T) *env {
	e := newEnv(t)
	sig, err := signer.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e.api.cfg.Signer = sig
	e.api.cfg.NodeBroker = "ssl://0.0.0.0:8883"
	rel, err := release.New(context.Background(), release.Config{Dir: t.TempDir(), Registry: e.reg, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.api.cfg.Releases = rel
	return e
}

func (e *env) newCode(c *client, body map[string]any) (result, NewEnrolCodeAnswer) {
	e.t.Helper()
	r := e.do(c, "POST", "/api/v1/enrol-codes", body)
	var ans NewEnrolCodeAnswer
	if r.status == http.StatusCreated {
		if err := json.Unmarshal([]byte(r.body), &ans); err != nil {
			e.t.Fatal(err)
		}
	}
	return r, ans
}

func (e *env) redeem(code string) (result, nodeproto.Enrolment) {
	e.t.Helper()
	r := e.do(&client{http: e.srv.Client()}, "POST", nodeproto.EnrolPath, nodeproto.EnrolRequest{Code: code, Version: "test"})
	var en nodeproto.Enrolment
	if r.status == http.StatusOK {
		if err := json.Unmarshal([]byte(r.body), &en); err != nil {
			e.t.Fatal(err)
		}
	}
	return r, en
}

var codeShape = regexp.MustCompile(`^[ACDEFGHJKMNPQRTUVWXY]{4}(-[ACDEFGHJKMNPQRTUVWXY]{4}){3}$`)

func TestEnrolCodeMadeByOfficerUsedOnceByTheBox(t *testing.T) {
	e := enrolEnv(t)
	oa := e.login("officer-a")
	r, ans := e.newCode(oa, map[string]any{"id": "n-a2", "name": "Cụm loa chợ", "station_id": "st-a", "zones": []string{"z-a"}, "lat": 21.1, "lon": 105.2})
	if r.status != http.StatusCreated {
		t.Fatalf("officer's code: %d %s", r.status, r.body)
	}
	if !codeShape.MatchString(ans.Code) {
		t.Errorf("code %q: want 4 groups of 4 unambiguous capitals", ans.Code)
	}
	if want := e.clock.Now().Add(DefaultEnrolTTL); !ans.ExpiresAt.Equal(want) || ans.Status != "pending" {
		t.Errorf("code expires %v status %q, want %v pending", ans.ExpiresAt, ans.Status, want)
	}
	wantCmd := "radio-node enrol " + ans.Code + " -controller " + e.srv.URL
	if ans.Command != wantCmd || !ans.Insecure {
		t.Errorf("command %q insecure=%v, want %q, insecure (plain HTTP)", ans.Command, ans.Insecure, wantCmd)
	}
	if got := decodeQR(t, ans.QR); got != ans.Command {
		t.Errorf("the QR code reads %q, want the command %q", got, ans.Command)
	}

	// The code is kept only as a hash: not in the database file or its log.
	for _, f := range []string{e.db, e.db + "-wal"} {
		b, _ := os.ReadFile(f)
		norm := strings.ReplaceAll(ans.Code, "-", "")
		if bytes.Contains(b, []byte(norm)) || bytes.Contains(b, []byte(ans.Code)) {
			t.Errorf("%s holds the code in clear", filepath.Base(f))
		}
	}

	// The box: the code as typed (small letters, blanks), once.
	typed := strings.ToLower(strings.ReplaceAll(ans.Code, "-", " "))
	r, en := e.redeem(typed)
	if r.status != http.StatusOK {
		t.Fatalf("redeeming: %d %s", r.status, r.body)
	}
	if err := en.Validate(); err != nil {
		t.Errorf("enrolment does not validate: %v", err)
	}
	host := strings.TrimPrefix(e.srv.URL, "http://")
	host = host[:strings.LastIndex(host, ":")]
	if en.ID != "n-a2" || en.Station != "st-a" || !slices.Equal(en.Zones, []string{"z-a"}) || en.Broker != "ssl://"+host+":8883" {
		t.Errorf("enrolment %+v: want n-a2 in st-a/z-a, broker on the host the box reached (%s)", en, host)
	}
	if !slices.EqualFunc(en.ControllerKeys, e.api.cfg.Signer.Keys(), func(a, b nodeproto.Key) bool { return a.ID == b.ID && bytes.Equal(a.Pub, b.Pub) }) {
		t.Errorf("controller keys %+v, want the signer's", en.ControllerKeys)
	}
	// The update key too: without it the box refuses every release.
	if want := e.api.cfg.Releases.Key(); len(en.UpdateKeys) != 1 || en.UpdateKeys[0].ID != want.ID || !bytes.Equal(en.UpdateKeys[0].Pub, want.Pub) {
		t.Errorf("update keys %+v, want the controller's update key %s", en.UpdateKeys, want.ID)
	}
	hash, revoked, err := e.reg.NodeSecret(context.Background(), "n-a2")
	if err != nil || revoked || !broker.CheckSecret(string(hash), en.Secret) {
		t.Errorf("the secret given does not open the node's broker account (err %v, revoked %v)", err, revoked)
	}
	z, _ := e.reg.GetZone(context.Background(), "z-a")
	if !slices.Contains(z.Nodes, "n-a2") {
		t.Errorf("zone z-a = %v, want n-a2 in it", z.Nodes)
	}

	// Again: refused, and the first secret still works.
	r, _ = e.redeem(ans.Code)
	if r.status != http.StatusGone || r.code() != "enrol_used" || !strings.Contains(r.body, "already used") {
		t.Errorf("second use: %d %s, want 410 enrol_used", r.status, r.body)
	}
	if h, _, _ := e.reg.NodeSecret(context.Background(), "n-a2"); !broker.CheckSecret(string(h), en.Secret) {
		t.Error("a refused second use changed the node's secret")
	}

	// The officer's list shows it used, from where; never the code.
	r = e.do(oa, "GET", "/api/v1/enrol-codes", nil)
	if !strings.Contains(r.body, `"status": "used"`) || strings.Contains(r.body, ans.Code) || strings.Contains(r.body, `"code"`) {
		t.Errorf("list of codes: %s", r.body)
	}
}

func TestEnrolCodeExpires(t *testing.T) {
	e := enrolEnv(t)
	r, ans := e.newCode(e.login("leader-a"), map[string]any{"id": "n-late", "station_id": "st-a", "hours": 2})
	if r.status != http.StatusCreated {
		t.Fatalf("leader's code: %d %s", r.status, r.body)
	}
	e.clock.Add(2 * time.Hour)
	r, _ = e.redeem(ans.Code)
	if r.status != http.StatusGone || r.code() != "enrol_expired" {
		t.Errorf("expired code: %d %s, want 410 enrol_expired", r.status, r.body)
	}
	if _, err := e.reg.GetNode(context.Background(), "n-late"); err == nil {
		t.Error("an expired code created its node")
	}
	for _, h := range []int{0 - 1, 169} {
		if r, _ := e.newCode(e.login("leader-a"), map[string]any{"id": "n-x", "station_id": "st-a", "hours": h}); r.status != http.StatusBadRequest {
			t.Errorf("hours %d: %d %s, want 400", h, r.status, r.body)
		}
	}
}

// Officers make codes for their own commune only; provincial staff none.
func TestEnrolCodeScope(t *testing.T) {
	e := enrolEnv(t)
	for _, tc := range []struct {
		who, station string
		zones        []string
		want         int
	}{
		{"officer-a", "st-b", nil, http.StatusForbidden},
		{"officer-a", "st-a", []string{"z-b"}, http.StatusBadRequest}, // another station's zone
		{"province-1", "st-a", nil, http.StatusForbidden},
		{"officer-b", "st-b", []string{"z-b"}, http.StatusCreated},
	} {
		r, _ := e.newCode(e.login(tc.who), map[string]any{"id": "n-new-" + tc.who, "station_id": tc.station, "zones": tc.zones})
		if r.status != tc.want {
			t.Errorf("%s for %s %v: %d %s, want %d", tc.who, tc.station, tc.zones, r.status, r.body, tc.want)
		}
	}
	if r, _ := e.newCode(e.login("officer-a"), map[string]any{"id": "n-a", "station_id": "st-a"}); r.status != http.StatusConflict {
		t.Errorf("code for an existing cluster: %d %s, want 409", r.status, r.body)
	}
	// officer-b's code is invisible to officer-a and cannot be cancelled by them.
	r := e.do(e.login("officer-a"), "GET", "/api/v1/enrol-codes", nil)
	if strings.Contains(r.body, "n-new-officer-b") {
		t.Errorf("officer-a sees commune b's code: %s", r.body)
	}
	r = e.do(e.login("officer-b"), "GET", "/api/v1/enrol-codes", nil)
	list := ids(t, r, "id")
	if len(list) != 1 {
		t.Fatalf("officer-b's codes: %s", r.body)
	}
	if r := e.do(e.login("officer-a"), "DELETE", "/api/v1/enrol-codes/"+list[0], nil); r.status != http.StatusForbidden {
		t.Errorf("officer-a cancelling commune b's code: %d %s", r.status, r.body)
	}
	if r := e.do(e.login("officer-b"), "DELETE", "/api/v1/enrol-codes/"+list[0], nil); r.status != http.StatusOK {
		t.Errorf("officer-b cancelling their code: %d %s", r.status, r.body)
	}
}

// Guessing codes is held back per address: after 10 wrong codes even a
// right one waits, until the wait is over.
func TestEnrolCodeGuessingLimited(t *testing.T) {
	e := enrolEnv(t)
	_, ans := e.newCode(e.login("officer-a"), map[string]any{"id": "n-a3", "station_id": "st-a"})
	for i := range enrolFailLimit {
		guess := NewEnrolCode()
		if i%3 == 0 {
			guess = "not a code"
		}
		r, _ := e.redeem(guess)
		if r.status != http.StatusNotFound || r.code() != "enrol_unknown" {
			t.Fatalf("wrong code %d: %d %s, want 404 enrol_unknown", i, r.status, r.body)
		}
	}
	r, _ := e.redeem(ans.Code)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("after %d wrong codes: %d %s, want 429 with Retry-After", enrolFailLimit, r.status, r.body)
	}
	e.clock.Add(firstWait)
	if r, _ := e.redeem(ans.Code); r.status != http.StatusOK {
		t.Errorf("after the wait, the right code: %d %s", r.status, r.body)
	}
}

// Areas, stations, zones and clusters are managed within the officer's
// commune; a revoked cluster leaves its zones.
func TestManageWithinArea(t *testing.T) {
	e := enrolEnv(t)
	oa := e.login("officer-a")
	steps := []struct {
		who          *client
		method, path string
		body         any
		want         int
	}{
		{oa, "PATCH", "/api/v1/stations/st-a", map[string]string{"name": "Đài xã A mới"}, 200},
		{oa, "PATCH", "/api/v1/stations/st-b", map[string]string{"name": "x"}, 403},
		{oa, "PATCH", "/api/v1/areas/a", map[string]string{"name": "x"}, 403},
		{oa, "POST", "/api/v1/zones", map[string]any{"id": "z-a2", "station_id": "st-a", "name": "Thôn 2"}, 201},
		{oa, "POST", "/api/v1/zones", map[string]any{"id": "z-b2", "station_id": "st-b"}, 403},
		{oa, "POST", "/api/v1/stations", map[string]any{"id": "st-a2", "area_id": "a", "name": "Đài FM", "kind": "fm"}, 201},
		{oa, "POST", "/api/v1/stations", map[string]any{"id": "st-b2", "area_id": "b", "name": "x"}, 403},
		{oa, "PATCH", "/api/v1/zones/z-a2", map[string]string{"name": "Thôn Hai"}, 200},
		{oa, "PATCH", "/api/v1/zones/z-b", map[string]string{"name": "x"}, 403},
		{oa, "PATCH", "/api/v1/nodes/n-a", map[string]any{"name": "Cụm loa đình", "zones": []string{"z-a2"}}, 200},
		{oa, "PATCH", "/api/v1/nodes/n-a", map[string]any{"zones": []string{"z-b"}}, 400},
		{oa, "PATCH", "/api/v1/nodes/n-b", map[string]any{"name": "x"}, 403},
		{e.login("province-1"), "PATCH", "/api/v1/nodes/n-a", map[string]any{"name": "x"}, 403},
		{e.login("province-1"), "POST", "/api/v1/nodes/n-a/revoke", nil, 403},
		{oa, "POST", "/api/v1/nodes/n-b/revoke", nil, 403},
		{e.tokenClient(), "PATCH", "/api/v1/areas/a", map[string]string{"name": "Xã A mới"}, 200},
	}
	for _, s := range steps {
		if r := e.do(s.who, s.method, s.path, s.body); r.status != s.want {
			t.Errorf("%s %s %v: %d %s, want %d", s.method, s.path, s.body, r.status, r.body, s.want)
		}
	}
	ctx := context.Background()
	n, _ := e.reg.GetNode(ctx, "n-a")
	if n.Name != "Cụm loa đình" || !slices.Equal(n.Zones, []string{"z-a2"}) {
		t.Errorf("n-a after rename and move: %+v", n)
	}
	if z, _ := e.reg.GetZone(ctx, "z-a"); len(z.Nodes) != 0 {
		t.Errorf("z-a still holds %v after the move", z.Nodes)
	}
	if r := e.do(oa, "POST", "/api/v1/nodes/n-a/revoke", nil); r.status != 200 {
		t.Fatalf("officer revoking their cluster: %d %s", r.status, r.body)
	}
	if z, _ := e.reg.GetZone(ctx, "z-a2"); len(z.Nodes) != 0 {
		t.Errorf("zone z-a2 still holds %v after its cluster was revoked", z.Nodes)
	}
	if r := e.do(oa, "PATCH", "/api/v1/nodes/n-a", map[string]any{"zones": []string{"z-a"}}); r.status != 400 {
		t.Errorf("putting a revoked cluster back in a zone: %d %s, want 400", r.status, r.body)
	}
	audit := e.do(e.tokenClient(), "GET", "/api/v1/audit", nil).body
	for _, want := range []string{"station.rename", "zone.rename", "node.rename", "node.zones", "node.revoke", "area.rename"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log has no %s", want)
		}
	}
}

// decodeQR reads a PNG data: URL with zbarimg (Debian's zbar-tools, a
// decoder written apart from the encoder).
func decodeQR(t *testing.T, dataURL string) string {
	t.Helper()
	b64, ok := strings.CutPrefix(dataURL, "data:image/png;base64,")
	if !ok {
		t.Fatalf("QR is not a PNG data URL: %.40s", dataURL)
	}
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatal("zbarimg is not installed: run `make deps` (scripts/install-deps.sh installs zbar-tools for the tests)")
	}
	f := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(f, png, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbar, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", f).Output()
	if err != nil {
		t.Fatalf("zbarimg found no QR code: %v", err)
	}
	return strings.TrimRight(string(out), "\n")
}

// Boxes racing with one code: exactly one gets the config.
func TestEnrolCodeRaceOneWinner(t *testing.T) {
	e := enrolEnv(t)
	_, ans := e.newCode(e.login("officer-a"), map[string]any{"id": "n-race", "station_id": "st-a", "zones": []string{"z-a"}})
	const boxes = 6
	statuses := make(chan int, boxes)
	for range boxes {
		go func() {
			b, _ := json.Marshal(nodeproto.EnrolRequest{Code: ans.Code})
			resp, err := http.Post(e.srv.URL+nodeproto.EnrolPath, "application/json", bytes.NewReader(b))
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	won := 0
	for range boxes {
		switch s := <-statuses; s {
		case http.StatusOK:
			won++
		case http.StatusGone:
		default:
			t.Errorf("a racing box got HTTP %d", s)
		}
	}
	if won != 1 {
		t.Errorf("%d boxes enrolled with one code, want 1", won)
	}
}
