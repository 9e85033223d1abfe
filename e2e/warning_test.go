package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// capAlert writes a CAP 1.2 alert from the spec's elements.
type capAlert struct {
	ID, Status, MsgType, Refs string
	Sent, Expires             time.Time
	Headline, Description     string
	Area                      string // <polygon>, <circle> or <geocode> elements
	Resource                  string // a <resource> element
}

func (a capAlert) xml() []byte {
	f := func(t time.Time) string { return t.In(vn).Format("2006-01-02T15:04:05-07:00") }
	refs := ""
	if a.Refs != "" {
		refs = "<references>" + a.Refs + "</references>"
	}
	exp := ""
	if !a.Expires.IsZero() {
		exp = "<expires>" + f(a.Expires) + "</expires>"
	}
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>%s</identifier><sender>canhbao@kttv.gov.vn</sender><sent>%s</sent>
  <status>%s</status><msgType>%s</msgType><scope>Public</scope>%s
  <info><language>en-US</language><category>Met</category><event>Storm</event><urgency>Immediate</urgency>
    <severity>Severe</severity><certainty>Observed</certainty>%s<headline>Storm warning</headline>
    <area><areaDesc>Whole province</areaDesc><geocode><valueName>MaDVHC</valueName><value>79</value></geocode></area></info>
  <info><language>vi-VN</language><category>Met</category><event>Bão</event><urgency>Immediate</urgency>
    <severity>Severe</severity><certainty>Observed</certainty>%s<headline>%s</headline><description>%s</description>%s
    <area><areaDesc>Vùng cảnh báo</areaDesc>%s</area></info>
</alert>`, a.ID, f(a.Sent), a.Status, a.MsgType, refs, exp, exp, a.Headline, a.Description, a.Resource, a.Area)
}

// capResult is the answer to POST /api/v1/cap.
type capResult struct {
	Outcome  string   `json:"outcome"`
	Detail   string   `json:"detail"`
	Warning  string   `json:"warning"`
	Nodes    []string `json:"nodes"`
	NoDrills []string `json:"no_drills"`
	Ended    []string `json:"ended"`
	Code     string   `json:"code"`
	Error    string   `json:"error"`
}

func postCAP(t *testing.T, c *controller, token string, body []byte) (int, capResult) {
	t.Helper()
	code, r := postCAPQuiet(t, c, token, body)
	t.Logf("POST /api/v1/cap: HTTP %d %+v", code, r)
	return code, r
}

func postCAPQuiet(t testing.TB, c *controller, token string, body []byte) (int, capResult) {
	t.Helper()
	req, _ := http.NewRequest("POST", c.url+"/api/v1/cap", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/cap+xml")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r capResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("POST /api/v1/cap: HTTP %d %s: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, r
}

type warningProgress struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Media  string `json:"media"`
	Text   string `json:"text"`
	Nodes  []struct {
		Node    string `json:"node"`
		Command string `json:"command"`
		State   string `json:"state"`
	} `json:"nodes"`
	Started int `json:"started"`
}

// waitWarning polls a warning's progress until cond holds.
func (c *controller) waitWarning(t testing.TB, id string, cond func(warningProgress) bool) warningProgress {
	t.Helper()
	var p warningProgress
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		c.mustCall(t, "GET", "/api/v1/warnings/"+id, nil, &p)
		if cond(p) {
			return p
		}
	}
	t.Fatalf("warning %s: %+v", id, p)
	return p
}

func states(p warningProgress) map[string]string {
	out := map[string]string{}
	for _, n := range p.Nodes {
		out[n.Node] = n.State
	}
	return out
}

// itemEvents lists the event types of one item on one node, oldest first.
func (c *controller) itemEvents(t *testing.T, node, item string) []string {
	t.Helper()
	var evs []playEvent
	c.mustCall(t, "GET", "/api/v1/plays?node="+node+"&item="+item, nil, &evs)
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, evs[i].Type)
	}
	return out
}

// A CAP alert whose polygon covers two of three nodes plays only there, cuts
// the normal bulletin that then resumes; an Update changes its text, a
// Cancel stops it; an Exercise plays only where drills are on and stops at
// its expiry; bad alerts are refused with clear errors.
func TestCAPAlert(t *testing.T) {
	dir := t.TempDir()
	ctl := startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	ctl.radioctl(t, "area", "add", "x-binh-an", "Xã Bình An", "-kind", "commune", "-parent", "p-79")
	ctl.radioctl(t, "station", "add", "st-2", "x-binh-an", "Đài truyền thanh xã Bình An")
	ctl.radioctl(t, "area", "add", "p-01", "Thành phố Hà Nội", "-kind", "province")
	ctl.radioctl(t, "area", "add", "x-ha-noi", "Phường Hoàn Kiếm", "-kind", "commune", "-parent", "p-01")
	ctl.radioctl(t, "station", "add", "st-9", "x-ha-noi", "Đài phường Hoàn Kiếm")
	places := []struct{ id, station, lat, lon string }{
		{"n1", "st-1", "10.75", "106.70"}, {"n2", "st-1", "10.76", "106.72"}, {"n3", "st-2", "10.90", "106.90"},
	}
	nodes := []string{"n1", "n2", "n3"}
	for _, p := range places {
		cfg := ctl.enrolWith(t, p.id, dir, "silent", "node", "add", p.id, p.station, "-lat", p.lat, "-lon", p.lon)
		startNode(t, p.id, cfg, nil)
	}
	// Hà Nội's node is enrolled, never started: only the refusal matters.
	ctl.enrolWith(t, "n9", dir, "silent", "node", "add", "n9", "st-9", "-lat", "21.03", "-lon", "105.85")
	ctl.waitOnline(t, nodes...)
	ctl.mustCall(t, "PUT", "/api/v1/areas/p-79/warning-settings", map[string]any{"code": "79"}, nil)
	ctl.mustCall(t, "PUT", "/api/v1/areas/x-binh-an/warning-settings", map[string]any{"code": "26735", "drills": true}, nil)

	// The province's alerting system has a token of the province.
	var tok struct {
		Secret string `json:"secret"`
	}
	ctl.mustCall(t, "POST", "/api/v1/tokens", map[string]any{"name": "KTTV", "role": "province", "area_id": "p-79"}, &tok)
	sender := tok.Secret

	// A normal bulletin plays everywhere, resuming after interruptions.
	normal := ctl.upload(t, tone(t, dir, 440, 40))
	bulletin := map[string]string{}
	for _, n := range nodes {
		var res struct {
			Command string `json:"command"`
		}
		ctl.mustCall(t, "POST", "/api/v1/play", map[string]any{"node": n, "media": normal.SHA256, "resume": true, "title": "Bản tin"}, &res)
		bulletin[n] = res.Command
	}
	for _, n := range nodes {
		ctl.waitPlays(t, bulletin[n], 60*time.Second, func(e []playEvent) bool { return count(e, "started") == 1 })
	}

	now := time.Now()
	polygon := "<polygon>10.70,106.65 10.70,106.75 10.80,106.75 10.80,106.65 10.70,106.65</polygon>"
	first := capAlert{ID: "KTTV-1", Status: "Actual", MsgType: "Alert", Sent: now, Expires: now.Add(time.Hour),
		Headline: "Cảnh báo bão số 9", Description: "Bão đổ bộ lúc 14h00.", Area: polygon}
	code, res := postCAP(t, ctl, sender, first.xml())
	if code != http.StatusAccepted || res.Outcome != "played" || !slices.Equal(res.Nodes, []string{"n1", "n2"}) {
		t.Fatalf("alert: HTTP %d %+v, want 202 played on n1, n2", code, res)
	}
	w1 := ctl.waitWarning(t, res.Warning, func(p warningProgress) bool { return p.Started == 2 })
	for _, n := range []string{"n1", "n2"} {
		ctl.waitPlays(t, bulletin[n], 30*time.Second, func(e []playEvent) bool { return count(e, "interrupted") == 1 })
	}
	if got := ctl.itemEvents(t, "n3", bulletin["n3"]); !slices.Equal(got, []string{"started"}) {
		t.Errorf("n3 (outside the polygon): bulletin events %v, want only started", got)
	}

	// Update: new text, the old warning ends, the new one plays on the same nodes.
	upd := first
	upd.ID, upd.MsgType, upd.Refs, upd.Sent = "KTTV-2", "Update", "canhbao@kttv.gov.vn,KTTV-1,"+first.Sent.In(vn).Format("2006-01-02T15:04:05-07:00"), now.Add(time.Second)
	upd.Description = "Bão đã vào đất liền, mưa rất to."
	code, res = postCAP(t, ctl, sender, upd.xml())
	if code != http.StatusAccepted || res.Outcome != "updated" || !slices.Equal(res.Ended, []string{w1.ID}) || !slices.Equal(res.Nodes, []string{"n1", "n2"}) {
		t.Fatalf("update: HTTP %d %+v", code, res)
	}
	w2 := ctl.waitWarning(t, res.Warning, func(p warningProgress) bool { return p.Started == 2 })
	if !strings.Contains(w2.Text, "mưa rất to") || w2.Media == w1.Media {
		t.Errorf("update: text %q media %s, want the new text in new audio (was %s)", w2.Text, w2.Media, w1.Media)
	}
	if p := ctl.waitWarning(t, w1.ID, func(p warningProgress) bool { return p.Status == "replaced" }); states(p)["n1"] != "interrupted" {
		t.Errorf("replaced warning on n1: %v, want interrupted", states(p))
	}

	// Cancel: stops everywhere at once; the bulletin resumes and finishes later.
	cancel := capAlert{ID: "KTTV-3", Status: "Actual", MsgType: "Cancel", Sent: now.Add(2 * time.Second),
		Refs: "canhbao@kttv.gov.vn,KTTV-2," + upd.Sent.In(vn).Format("2006-01-02T15:04:05-07:00"), Headline: "Hủy cảnh báo", Area: polygon}
	code, res = postCAP(t, ctl, sender, cancel.xml())
	if code != http.StatusOK || res.Outcome != "cancelled" || !slices.Equal(res.Ended, []string{w2.ID}) {
		t.Fatalf("cancel: HTTP %d %+v", code, res)
	}
	ctl.waitWarning(t, w2.ID, func(p warningProgress) bool {
		s := states(p)
		return p.Status == "cancelled" && s["n1"] == "interrupted" && s["n2"] == "interrupted"
	})
	for _, n := range []string{"n1", "n2"} {
		ctl.waitPlays(t, bulletin[n], 30*time.Second, func(e []playEvent) bool { return count(e, "resumed") >= 1 })
	}

	// Exercise: a geocode covering the whole province, but drills are on in
	// Bình An only; its audio comes embedded, and it stops at its expiry.
	drillAudio := tone(t, dir, 660, 30)
	ogg := filepath.Join(dir, "drill.ogg")
	if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", drillAudio, "-c:a", "libopus", "-b:a", "16k", ogg).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, b)
	}
	b, _ := os.ReadFile(ogg)
	drill := capAlert{ID: "KTTV-4", Status: "Exercise", MsgType: "Alert", Sent: time.Now(), Expires: time.Now().Add(15 * time.Second),
		Area:     `<geocode><valueName>MaDVHC</valueName><value>79</value></geocode>`,
		Resource: `<resource><resourceDesc>Bản tin diễn tập</resourceDesc><mimeType>audio/ogg</mimeType><derefUri>` + base64.StdEncoding.EncodeToString(b) + `</derefUri></resource>`}
	code, res = postCAP(t, ctl, sender, drill.xml())
	if code != http.StatusAccepted || !slices.Equal(res.Nodes, []string{"n3"}) || !slices.Equal(res.NoDrills, []string{"n1", "n2"}) {
		t.Fatalf("exercise: HTTP %d %+v, want played on n3 only", code, res)
	}
	ctl.waitWarning(t, res.Warning, func(p warningProgress) bool { return p.Started == 1 })
	ctl.waitWarning(t, res.Warning, func(p warningProgress) bool { return p.Status == "expired" && states(p)["n3"] == "interrupted" })

	// Refusals, each with its code; nothing plays.
	stale := capAlert{ID: "KTTV-5", Status: "Actual", MsgType: "Alert", Sent: now.Add(-2 * time.Hour), Expires: now.Add(-time.Hour), Headline: "Cũ", Area: polygon}
	away := capAlert{ID: "KTTV-6", Status: "Actual", MsgType: "Alert", Sent: now, Headline: "Hà Nội", Area: "<circle>21.03,105.85 3</circle>"}
	nowhere := capAlert{ID: "KTTV-7", Status: "Actual", MsgType: "Alert", Sent: now, Headline: "Biển Đông", Area: "<circle>15.0,112.0 10</circle>"}
	for _, c := range []struct {
		name   string
		token  string
		doc    []byte
		status int
		code   string
	}{
		{"malformed", sender, []byte("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>x</identifier>"), 400, "invalid_cap"},
		{"missing status", sender, []byte(strings.Replace(string(first.xml()), "<status>Actual</status>", "", 1)), 400, "invalid_cap"},
		{"expired", sender, stale.xml(), 422, "expired"},
		{"duplicate", sender, first.xml(), 409, "duplicate"},
		{"no token", "", first.xml(), 401, "unauthorized"},
		{"forged token", "rt_forged", first.xml(), 401, "unauthorized"},
		{"out of area", sender, away.xml(), 403, "out_of_area"},
	} {
		code, res := postCAP(t, ctl, c.token, c.doc)
		if code != c.status || res.Code != c.code || res.Error == "" {
			t.Errorf("%s: HTTP %d %q %q, want %d %s", c.name, code, res.Code, res.Error, c.status, c.code)
		}
	}
	code, res = postCAP(t, ctl, sender, nowhere.xml())
	if code != http.StatusOK || res.Outcome != "no_match" || len(res.Nodes) != 0 || res.Warning != "" {
		t.Errorf("alert covering no cluster: HTTP %d %+v, want 200 no_match", code, res)
	}

	// Every outcome is stored, and the feed lists what was broadcast.
	rows := sqliteRows(t, ctl.dir, "SELECT identifier, outcome FROM cap_alerts ORDER BY id")
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprint(r[0], ":", r[1]))
	}
	want := []string{"KTTV-1:played", "KTTV-2:updated", "KTTV-3:cancelled", "KTTV-4:played", "KTTV-6:refused", "KTTV-7:no_match"}
	if !slices.Equal(got, want) {
		t.Errorf("stored alerts %v, want %v", got, want)
	}
	resp, err := http.Get(ctl.url + "/api/v1/cap/feed.atom")
	if err != nil {
		t.Fatal(err)
	}
	feed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, id := range []string{"KTTV-1", "KTTV-2", "KTTV-3", "KTTV-4"} {
		if !strings.Contains(string(feed), "<identifier>"+id+"</identifier>") {
			t.Errorf("feed lacks %s:\n%s", id, feed)
		}
	}
	if strings.Contains(string(feed), "KTTV-7") || strings.Contains(string(feed), "KTTV-6") {
		t.Errorf("feed lists an alert that did not play:\n%s", feed)
	}

	// The normal bulletin finished everywhere, after the warnings.
	for _, n := range nodes {
		ctl.waitPlays(t, bulletin[n], 90*time.Second, func(e []playEvent) bool { return count(e, "finished") == 1 })
	}
}

// An officer's warning from radioctl: a typed text to a commune, followed
// live, then cancelled everywhere at once; a recording to a zone plays
// its attention signal first and repeats.
func TestWarningFromRadioctl(t *testing.T) {
	dir := t.TempDir()
	ctl := startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	nodes := []string{"w1", "w2"}
	for _, id := range nodes {
		startNode(t, id, ctl.enrol(t, id, "z-center", dir, "silent"), nil)
	}
	ctl.waitOnline(t, nodes...)
	out := ctl.radioctl(t, "warn", "send", "-text", "Nước lũ lên nhanh, di dời ngay.", "-area", "x-an-phu", "-times", "3", "-gap", "2s", "-follow")
	t.Log(out)
	id := regexp.MustCompile(`warning (w-\S+) sent to 2 nodes`).FindStringSubmatch(out)
	if id == nil || !strings.Contains(out, "started on 2 of 2 nodes") {
		t.Fatalf("warn send -follow: %s", out)
	}
	st := ctl.radioctl(t, "warn", "status", id[1])
	if strings.Count(st, "started") < 2 {
		t.Errorf("warn status: %s", st)
	}
	ctl.radioctl(t, "warn", "cancel", id[1])
	ctl.waitWarning(t, id[1], func(p warningProgress) bool {
		s := states(p)
		return p.Status == "cancelled" && s["w1"] == "interrupted" && s["w2"] == "interrupted"
	})
	// The audit log has the send and the cancel.
	rows := sqliteRows(t, ctl.dir, "SELECT action FROM audit WHERE target = ? ORDER BY id", id[1])
	if len(rows) != 2 || rows[0][0] != "warning.send" || rows[1][0] != "warning.cancelled" {
		t.Errorf("audit of %s: %v", id[1], rows)
	}

	// The public feed has it as a CAP alert, and its cancellation.
	resp, err := http.Get(ctl.url + "/api/v1/cap/feed.atom")
	if err != nil {
		t.Fatal(err)
	}
	feed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"<identifier>" + id[1] + "</identifier>", "<identifier>" + id[1] + "-cancel</identifier>",
		"<msgType>Cancel</msgType>", "<description>Nước lũ lên nhanh, di dời ngay.</description>", "<areaDesc>Xã An Phú</areaDesc>"} {
		if !strings.Contains(string(feed), want) {
			t.Errorf("feed lacks %s:\n%s", want, feed)
		}
	}

	// A recording: the attention signal comes first, it plays twice.
	rec := ctl.upload(t, tone(t, dir, 523, 2))
	var w struct {
		ID    string `json:"id"`
		Media string `json:"media"`
	}
	ctl.mustCall(t, "POST", "/api/v1/warnings", map[string]any{"media": rec.SHA256, "times": 2, "gap_ms": 500,
		"target": map[string]any{"zones": []string{"z-center"}}}, &w)
	var m mediaInfo
	ctl.mustCall(t, "GET", "/api/v1/media/"+w.Media, nil, &m)
	if w.Media == rec.SHA256 || m.DurationMS < rec.DurationMS+2000 {
		t.Errorf("warning media %s of %d ms, want the recording (%d ms) after an attention signal", w.Media, m.DurationMS, rec.DurationMS)
	}
	done := ctl.waitWarning(t, w.ID, func(p warningProgress) bool { s := states(p); return s["w1"] == "finished" && s["w2"] == "finished" })
	for _, n := range done.Nodes {
		evs := ctl.itemEvents(t, n.Node, n.Command)
		if got := evs[len(evs)-1]; got != "finished" || n.Command == "" {
			t.Errorf("%s: %v", n.Node, evs)
		}
	}
}

// The warning page on a phone: the officer draws an area round one cluster
// on the map, types the text, sends; the page shows live that the cluster
// has started it (and that the other has not been sent it); "stop" ends it
// everywhere. Screenshots go to the test's artifacts folder.
func TestWebWarningOnPhone(t *testing.T) {
	chromium, dir, ctl := webCommune(t)
	for _, p := range []struct{ id, lat, lon string }{{"p1", "10.75", "106.70"}, {"p2", "10.80", "106.76"}} {
		cfg := ctl.enrolWith(t, p.id, dir, "silent", "node", "add", p.id, "st-1", "-name", "Cụm loa "+p.id, "-lat", p.lat, "-lon", p.lon)
		startNode(t, p.id, cfg, nil)
	}
	ctl.waitOnline(t, "p1", "p2")
	pw := ctl.createUser(t, "can.bo.lan", "Trần Thị Lan", "officer", "x-an-phu")

	b := newBrowser(t, chromium, ctl.url)
	asked := b.acceptDialogs()
	b.login("can.bo.lan", pw)
	b.do(chromedp.EmulateViewport(390, 844))
	b.open("warning")
	b.shot("phone-warning-form")

	// Draw a square round p1 by tapping its four corners on the map.
	b.eval(`(() => {
		const svg = document.getElementById('warn-map');
		const pin = svg.querySelector('[data-test="pin-p1"] circle').getBoundingClientRect();
		const cx = pin.left + pin.width / 2, cy = pin.top + pin.height / 2, d = 25;
		for (const [dx, dy] of [[-d, -d], [d, -d], [d, d], [-d, d]]) {
			svg.dispatchEvent(new MouseEvent('click', { clientX: cx + dx, clientY: cy + dy, bubbles: true }));
		}
		return '';
	})()`)
	if got := b.text("#warn-drawn"); !strings.Contains(got, "4 góc") || !strings.Contains(got, "phủ 1 cụm loa") {
		t.Errorf("after drawing round p1 the page says %q, want 4 corners covering 1 cluster", got)
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#warn-text"), "Nước lũ lên nhanh, bà con di dời ngay."),
		chromedp.SetValue(chromedp.CSS("#warn-gap"), "1"))
	b.shot("phone-warning-drawn")
	b.do(chromedp.Click(chromedp.CSS("#warn-send")))
	b.wait(`#warn-live[data-started="1"]`, 2*time.Minute)
	if q := asked(); len(q) != 1 || !strings.Contains(q[0], "Phát cảnh báo khẩn cấp") {
		t.Errorf("confirmations asked: %q", q)
	}
	if got := b.text("#warn-count"); !strings.Contains(got, "1/1") {
		t.Errorf("live count reads %q, want started on 1/1", got)
	}
	if b.has(`[data-test^="warn-node-p2"]`) {
		t.Error("p2 (outside the drawn area) is listed as a target")
	}
	b.wait(`tr[data-test="warn-node-p1-started"]`, time.Minute)
	b.shot("phone-warning-live")

	var ws []struct {
		ID string `json:"id"`
	}
	ctl.mustCall(t, "GET", "/api/v1/warnings", nil, &ws)
	if len(ws) != 1 {
		t.Fatalf("warnings: %+v", ws)
	}
	b.do(chromedp.Click(chromedp.CSS("#warn-cancel")))
	b.wait(`#warn-live[data-status="cancelled"]`, time.Minute)
	ctl.waitWarning(t, ws[0].ID, func(p warningProgress) bool { return states(p)["p1"] == "interrupted" })
	b.wait(`tr[data-test="warn-node-p1-interrupted"]`, time.Minute)
	b.waitText(`tr[data-test="warn-`+ws[0].ID+`"]`, "Đã huỷ", time.Minute) // the recent list follows
	b.shot("phone-warning-cancelled")
	b.checkConsole()
}
