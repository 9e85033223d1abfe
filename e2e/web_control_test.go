package e2e

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/communeradio/radio/internal/audiotest"
)

// Phát ngay in the browser, against a real node process: the officer plays a
// recording now to the zone and the node's sink has the tone; stops a longer
// one while it plays and the node's proof of play says it was cut by the
// stop; sets the volume with the slider and the node reports that volume.
func TestWebOfficerPlaysNowStopsSetsVolume(t *testing.T) {
	chromium, dir, ctl := webCommune(t)
	pulse := audiotest.StartPulse(t, "c1")
	startNode(t, "c1", ctl.enrol(t, "c1", "z-center", dir, "oto"), pulse.Env("c1"))
	ctl.waitOnline(t, "c1")
	pw := ctl.createUser(t, "can.bo.chi", "Hồ Thị Chi", "officer", "x-an-phu")
	short := ctl.uploadFor(t, "x-an-phu", "thong-bao-ngan.mp3", tone(t, dir, 523, 3))
	long := ctl.uploadFor(t, "x-an-phu", "ban-tin-dai.mp3", tone(t, dir, 660, 40))

	b := newBrowser(t, chromium, ctl.url)
	b.login("can.bo.chi", pw)
	b.open("control")

	// Play the short one now, to the zone.
	rec := pulse.Record(t, "c1")
	b.do(chromedp.SetValue(chromedp.CSS("#ctl-target"), "zone:z-center"),
		chromedp.SetValue(chromedp.CSS("#ctl-media"), short.SHA256),
		chromedp.SetValue(chromedp.CSS("#ctl-priority"), "normal"),
		chromedp.SendKeys(chromedp.CSS("#ctl-title"), "Thông báo ngắn"),
		chromedp.Click(chromedp.CSS("#ctl-play")))
	b.wait("#ctl-result[data-command]", time.Minute)
	first := b.eval(`document.getElementById('ctl-result').dataset.command`)
	if got := b.text("#ctl-result"); !strings.Contains(got, "Đã gửi lệnh") {
		t.Errorf("after Phát ngay the page says %q", got)
	}
	b.shot("desk-control-played")
	evs := ctl.waitPlays(t, first, 2*time.Minute, func(e []playEvent) bool { return count(e, "finished") == 1 })
	time.Sleep(300 * time.Millisecond) // the tail of the tone into the recording
	s, _ := rec.Stop()
	if tn := audiotest.Analyze(s, audiotest.Rate); !tn.Found || math.Abs(audiotest.Dominant(s[tn.Onset:], audiotest.Rate, 400, 700)-523) > 10 { // Goertzel: a dropout on a loaded machine skews a zero-crossing count
		t.Errorf("the sink of c1 did not hear the 523 Hz recording played now: %+v", tn)
	}
	if count(evs, "started") != 1 || evs[0].NodeID != "c1" {
		t.Errorf("proof of play of %s: %+v, want c1 started and finished", first, evs)
	}

	// Play the long one, and stop it while it plays.
	b.do(chromedp.SetValue(chromedp.CSS("#ctl-media"), long.SHA256),
		chromedp.SetValue(chromedp.CSS("#ctl-title"), "Bản tin dài"),
		chromedp.Click(chromedp.CSS("#ctl-play")))
	b.wait(fmt.Sprintf(`#ctl-result[data-command]:not([data-command=%q])`, first), time.Minute)
	second := b.eval(`document.getElementById('ctl-result').dataset.command`)
	ctl.waitPlays(t, second, 2*time.Minute, func(e []playEvent) bool { return count(e, "started") == 1 })
	b.do(chromedp.Click(chromedp.CSS("#ctl-stop")))
	b.waitText("#ctl-result", "Đã gửi lệnh dừng", time.Minute)
	evs = ctl.waitPlays(t, second, 2*time.Minute, func(e []playEvent) bool { return count(e, "interrupted")+count(e, "finished") > 0 })
	for _, e := range evs {
		switch e.Type {
		case "finished":
			t.Errorf("the 40 s recording played to the end although Dừng phát was pressed: %+v", e)
		case "interrupted":
			if !strings.Contains(e.Reason, "stop") {
				t.Errorf("interrupted with reason %q, want it to say it was stopped", e.Reason)
			}
			if e.PlayedMS >= 40000 {
				t.Errorf("interrupted after %d ms played, want part of the 40 s", e.PlayedMS)
			}
		}
	}
	b.shot("desk-control-stopped")
	b.open("plays")
	b.wait(fmt.Sprintf(`tr[data-test="play-interrupted-%s"]`, second), time.Minute)
	if got := b.text(fmt.Sprintf(`tr[data-test="play-interrupted-%s"]`, second)); !strings.Contains(got, "Bị ngắt") ||
		!strings.Contains(got, "Dừng theo lệnh") || !strings.Contains(got, "Bản tin dài") {
		t.Errorf("the proof of play row of the stopped recording reads %q, want Bản tin dài, Bị ngắt, Dừng theo lệnh", got)
	}
	b.wait(fmt.Sprintf(`tr[data-test="play-finished-%s"]`, first), time.Minute)
	b.shot("desk-plays-stopped")

	// The volume slider.
	b.open("control")
	b.eval(`(() => { const v = document.getElementById('ctl-volume'); v.value = 35; v.dispatchEvent(new Event('input', {bubbles: true})); return ''; })()`)
	if got := b.text("#ctl-volume-out"); got != "35" {
		t.Errorf("the slider's read-out shows %q, want 35", got)
	}
	b.do(chromedp.Click(chromedp.CSS("#ctl-volume-set")))
	b.waitText("#ctl-result", "Đã gửi lệnh đặt âm lượng 35", time.Minute)
	deadline := time.Now().Add(time.Minute)
	var volume = -1
	for time.Now().Before(deadline) && volume != 35 {
		var nodes []struct {
			ID    string `json:"id"`
			State *struct {
				Volume int `json:"volume"`
			} `json:"state"`
		}
		ctl.mustCall(t, "GET", "/api/v1/nodes", nil, &nodes)
		for _, n := range nodes {
			if n.ID == "c1" && n.State != nil {
				volume = n.State.Volume
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if volume != 35 {
		t.Errorf("c1 reports volume %d after the slider set 35", volume)
	}
	b.open("nodes")
	b.wait(`tr[data-test="node-c1"]`, time.Minute)
	if got := b.eval(`document.querySelector('tr[data-test="node-c1"] td.num')?.innerText ?? ''`); got != "35" {
		t.Errorf("the cluster list shows c1's volume as %q, want 35", got)
	}
	b.shot("desk-nodes-volume")
	b.do(chromedp.EmulateViewport(390, 844))
	b.open("control")
	b.shot("phone-control")
	b.checkConsole()
}

// Changing an approved bulletin in the form makes it a draft (Chờ duyệt)
// again, back in the leaders' queue; deleting one takes it off the week.
func TestWebOfficerEditsApprovedBulletinDeletesOne(t *testing.T) {
	chromium, dir, ctl := webCommune(t)
	ctl.enrol(t, "d1", "z-center", dir, "oto")
	pw := ctl.createUser(t, "can.bo.dung", "Lý Văn Dũng", "officer", "x-an-phu")
	m := ctl.uploadFor(t, "x-an-phu", "ban-tin.mp3", tone(t, dir, 440, 3))
	for _, bt := range []struct{ id, title, at string }{{"tin-sang", "Bản tin sáng", "06:30"}, {"tin-chieu", "Bản tin chiều", "17:00"}} {
		ctl.mustCall(t, "PUT", "/api/v1/schedules/st-1/bulletins/"+bt.id, map[string]any{"id": bt.id, "title": bt.title,
			"source": map[string]any{"kind": "media", "media": m.SHA256}, "target": map[string]any{"kind": "zone", "ids": []string{"z-center"}},
			"recurrence": map[string]any{"kind": "daily", "times": []string{bt.at}}}, nil)
		ctl.mustCall(t, "POST", "/api/v1/schedules/st-1/bulletins/"+bt.id+"/approve", nil, nil)
	}

	b := newBrowser(t, chromium, ctl.url)
	dialogs := b.acceptDialogs()
	b.login("can.bo.dung", pw)
	b.open("approvals")
	if b.has(`[data-test^="approval-"]`) {
		t.Errorf("both bulletins are approved, yet the queue shows: %s", b.text("#approvals"))
	}
	b.open("programme")
	b.wait(`tr[data-test="bulletin-tin-sang"]`, time.Minute)
	b.wait(`[data-test="occ-tin-sang"]`, time.Minute)
	if got := b.text(`tr[data-test="bulletin-tin-sang"]`); !strings.Contains(got, "Đã duyệt") {
		t.Fatalf("the approved bulletin reads %q, want Đã duyệt", got)
	}
	b.shot("desk-programme-approved")

	// Edit: a new time.
	b.do(chromedp.Click(chromedp.CSS(`[data-test="edit-tin-sang"]`)))
	b.wait("#bulletin-form", time.Minute)
	if got := b.text("#bulletin-form h2"); !strings.Contains(got, "Bản tin sáng") {
		t.Errorf("the form's heading is %q, want it to name the bulletin", got)
	}
	if got := b.eval(`document.getElementById('f-times').value`); got != "06:30" {
		t.Errorf("the form shows the times %q, want 06:30", got)
	}
	b.do(chromedp.SetValue(chromedp.CSS("#f-times"), "06:45"))
	b.shot("desk-programme-edit")
	b.do(chromedp.Click(chromedp.CSS("#f-save")))
	// The change waits for the leader; the approved 06:30 version airs meanwhile.
	b.wait(`[data-test="pending-tin-sang"]`, time.Minute)
	if got := b.text(`tr[data-test="bulletin-tin-sang"]`); !strings.Contains(got, "Đã duyệt") || !strings.Contains(got, "Có thay đổi chờ duyệt") {
		t.Errorf("the changed approved bulletin reads %q, want Đã duyệt with a change waiting", got)
	}
	b.waitText(`[data-test="occ-tin-sang"]`, "06:30", time.Minute)
	if got := b.text(`[data-test="occ-tin-sang"]`); !strings.Contains(got, "Đã duyệt") {
		t.Errorf("the week calendar shows the bulletin on air as %q, want 06:30 Đã duyệt", got)
	}
	if got := b.text(`tr[data-test="bulletin-tin-chieu"]`); !strings.Contains(got, "Đã duyệt") {
		t.Errorf("the bulletin nobody changed reads %q, want it still Đã duyệt", got)
	}
	var bulletins []struct {
		ID         string `json:"id"`
		Status     string `json:"status"`
		Recurrence struct {
			Times []string `json:"times"`
		} `json:"recurrence"`
		Pending *struct {
			Recurrence struct {
				Times []string `json:"times"`
			} `json:"recurrence"`
		} `json:"pending"`
	}
	ctl.mustCall(t, "GET", "/api/v1/schedules/st-1/bulletins", nil, &bulletins)
	for _, bl := range bulletins {
		if bl.ID == "tin-sang" && (bl.Status != "approved" || !slices.Equal(bl.Recurrence.Times, []string{"06:30"}) ||
			bl.Pending == nil || !slices.Equal(bl.Pending.Recurrence.Times, []string{"06:45"})) {
			t.Errorf("after the edit the server has tin-sang %+v, want approved at 06:30 with a change to 06:45 waiting", bl)
		}
	}
	b.shot("desk-programme-edited")
	b.open("approvals")
	b.wait(`[data-test="approval-tin-sang"]`, time.Minute)
	if b.has(`[data-test="approval-tin-chieu"]`) {
		t.Error("the approval queue shows the bulletin nobody changed")
	}
	b.shot("desk-approvals-edited")

	// Delete the other one.
	b.open("programme")
	b.wait(`[data-test="occ-tin-chieu"]`, time.Minute)
	b.do(chromedp.Click(chromedp.CSS(`[data-test="delete-tin-chieu"]`)))
	b.waitGone(`[data-test="occ-tin-chieu"]`, time.Minute)
	b.waitGone(`tr[data-test="bulletin-tin-chieu"]`, time.Minute)
	if !b.has(`[data-test="occ-tin-sang"]`) {
		t.Error("deleting one bulletin took the other off the week calendar")
	}
	if msgs := dialogs(); len(msgs) != 1 || !strings.Contains(msgs[0], "Bản tin chiều") {
		t.Errorf("before deleting, the page asked %q, want one question naming Bản tin chiều", msgs)
	}
	bulletins = nil
	ctl.mustCall(t, "GET", "/api/v1/schedules/st-1/bulletins", nil, &bulletins)
	for _, bl := range bulletins {
		if bl.ID == "tin-chieu" {
			t.Errorf("the server still has the deleted bulletin: %+v", bl)
		}
	}
	b.shot("desk-programme-deleted")
	b.do(chromedp.EmulateViewport(390, 844))
	b.open("programme")
	b.shot("phone-programme-deleted")
	b.checkConsole()
}

// Provincial staff land on Độ phủ and see their province's stations (an FM
// one as not monitored over IP), sort the communes and filter the stations;
// the page refreshes by itself; an officer sees only their own commune.
func TestWebCoverage(t *testing.T) {
	chromium, dir, ctl := webCommune(t) // p-79 / x-an-phu / st-1 / z-center
	for _, args := range [][]string{
		{"area", "add", "x-binh-my", "Xã Bình Mỹ", "-kind", "commune", "-parent", "p-79"},
		{"station", "add", "st-fm", "x-binh-my", "Đài FM Bình Mỹ", "-kind", "fm"},
		{"area", "add", "x-tan-thong", "Xã Tân Thông Hội", "-kind", "commune", "-parent", "p-79"},
		{"station", "add", "st-3", "x-tan-thong", "Đài xã Tân Thông Hội"},
		{"node", "add", "v3", "st-3", "-name", "Cụm loa Tân Thông", "-out", filepath.Join(dir, "v3.json")}, // never started
		{"area", "add", "p-01", "Thành phố Hà Nội", "-kind", "province"},
		{"area", "add", "x-soc-son", "Xã Sóc Sơn", "-kind", "commune", "-parent", "p-01"},
		{"station", "add", "st-hn", "x-soc-son", "Đài xã Sóc Sơn"},
	} {
		ctl.radioctl(t, args...)
	}
	node := startNode(t, "v1", ctl.enrol(t, "v1", "z-center", dir, "silent"), nil)
	ctl.waitOnline(t, "v1")
	users := map[string]string{
		"tinh.hcm":    ctl.createUser(t, "tinh.hcm", "Lê Văn Cường", "province", "p-79"),
		"can.bo.giao": ctl.createUser(t, "can.bo.giao", "Mai Thị Giao", "officer", "x-an-phu"),
	}

	b := newBrowser(t, chromium, ctl.url)
	b.loginHome("tinh.hcm", users["tinh.hcm"], "coverage")
	if got := b.text("#page-title"); got != "Độ phủ" {
		t.Errorf("provincial staff land on %q, want Độ phủ", got)
	}
	if !b.has(`#nav-coverage[aria-current="page"]`) {
		t.Error("the menu does not mark Độ phủ as the current page")
	}
	b.wait(`tr[data-test="cov-station-st-1"]`, time.Minute)
	b.shot("desk-coverage-province")
	if got := b.stations(); !slices.Equal(got, []string{"st-1", "st-fm", "st-3"}) {
		t.Errorf("provincial staff of p-79 see the stations %v, want st-1, st-fm, st-3 (by commune) and not Hà Nội's", got)
	}
	if got := b.text(`tr[data-test="cov-station-st-1"]`); !strings.Contains(got, "1/1") || !strings.Contains(got, "IP") {
		t.Errorf("st-1 reads %q, want its one cluster online (1/1), kind IP", got)
	}
	if got := b.text(`tr[data-test="cov-station-st-fm"]`); !strings.Contains(got, "không giám sát qua IP") || !strings.Contains(got, "FM") {
		t.Errorf("the FM station reads %q, want FM, không giám sát qua IP", got)
	}
	if got := b.text(`tr[data-test="cov-station-st-3"]`); !strings.Contains(got, "0/1") {
		t.Errorf("st-3 reads %q, want its cluster offline (0/1)", got)
	}
	for sel, want := range map[string]string{"#cov-total-stations": "IP 2 · FM 1 · có dây 0", "#cov-total-online": "1/2"} {
		if got := b.text(sel); !strings.Contains(got, want) {
			t.Errorf("%s reads %q, want %q", sel, got, want)
		}
	}

	// The communes, by % online: lowest first, highest first; the one with
	// no clusters last either way.
	b.do(chromedp.SetValue(chromedp.CSS("#cov-sort"), "online-asc"))
	if got := b.communes(); !slices.Equal(got, []string{"x-tan-thong", "x-an-phu", "x-binh-my"}) {
		t.Errorf("communes by %% online, lowest first: %v", got)
	}
	b.do(chromedp.Click(chromedp.CSS(`[data-test="cov-sort-online"]`)))
	if got := b.communes(); !slices.Equal(got, []string{"x-an-phu", "x-tan-thong", "x-binh-my"}) {
		t.Errorf("communes by %% online, highest first (header pressed again): %v", got)
	}
	if got := b.eval(`document.getElementById('cov-sort').value`); got != "online-desc" {
		t.Errorf("after the header was pressed the sort menu reads %q", got)
	}

	// The stations, by commune and by a search without diacritics.
	b.do(chromedp.SetValue(chromedp.CSS("#cov-commune"), "x-binh-my"))
	if got := b.stations(); !slices.Equal(got, []string{"st-fm"}) {
		t.Errorf("stations of Xã Bình Mỹ: %v", got)
	}
	b.do(chromedp.SetValue(chromedp.CSS("#cov-commune"), ""),
		chromedp.SendKeys(chromedp.CSS("#cov-search"), "tan thong"))
	if got := b.stations(); !slices.Equal(got, []string{"st-3"}) {
		t.Errorf("stations found by “tan thong”: %v", got)
	}
	b.shot("desk-coverage-search")
	b.eval(`(() => { const s = document.getElementById('cov-search'); s.value = ''; s.dispatchEvent(new Event('input', {bubbles: true})); return ''; })()`)
	b.do(chromedp.Click(chromedp.CSS(`[data-test="cov-pick-x-an-phu"]`)))
	if got := b.stations(); !slices.Equal(got, []string{"st-1"}) {
		t.Errorf("after choosing Xã An Phú in the commune table the stations are %v", got)
	}

	// The page refreshes by itself: the cluster's daemon stops, and the
	// page, never reloaded, shows it offline.
	b.do(chromedp.SetValue(chromedp.CSS("#cov-commune"), ""))
	b.eval(`(document.getElementById('page-coverage').dataset.mark = 'not reloaded', '')`)
	node.stop()
	b.waitText(`tr[data-test="cov-station-st-1"]`, "0/1", 3*time.Minute)
	if got := b.eval(`document.getElementById('page-coverage')?.dataset.mark ?? ''`); got != "not reloaded" {
		t.Error("the page was rebuilt rather than refreshed in place")
	}
	b.shot("desk-coverage-offline")

	// In English.
	b.do(chromedp.Click(chromedp.CSS("#lang-toggle")))
	b.wait(`#main[data-ready="coverage"] tr[data-test="cov-station-st-fm"]`, time.Minute)
	if got := b.text(`tr[data-test="cov-station-st-fm"]`); !strings.Contains(got, "not monitored over IP") {
		t.Errorf("in English the FM station reads %q", got)
	}
	b.do(chromedp.Click(chromedp.CSS("#lang-toggle")))
	b.wait(`#main[data-ready="coverage"]`, time.Minute)

	// At phone width: cards, nothing wider than the screen.
	b.do(chromedp.EmulateViewport(390, 844))
	b.wait(`tr[data-test="cov-station-st-fm"]`, time.Minute)
	if got := b.eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); got != "true" {
		t.Errorf("at 390 px the coverage page is %s px wide", b.eval(`String(document.documentElement.scrollWidth)`))
	}
	b.shot("phone-coverage-province")
	b.do(chromedp.EmulateViewport(1280, 900))
	b.logout()

	// An officer lands on the dashboard and sees only their commune here.
	b.loginHome("can.bo.giao", users["can.bo.giao"], "dashboard")
	b.open("coverage")
	b.wait(`tr[data-test="cov-station-st-1"]`, time.Minute)
	if got := b.stations(); !slices.Equal(got, []string{"st-1"}) {
		t.Errorf("the officer of Xã An Phú sees the stations %v", got)
	}
	if got := b.communes(); !slices.Equal(got, []string{"x-an-phu"}) {
		t.Errorf("the officer of Xã An Phú sees the communes %v", got)
	}
	if got := b.text("#cov-total-stations"); !strings.HasPrefix(strings.TrimSpace(got), "1") {
		t.Errorf("the officer's total of stations reads %q, want 1", got)
	}
	b.shot("desk-coverage-officer")
	b.checkConsole()
}

// uploadFor uploads a recording on behalf of a commune, so that its officers
// have it in their media library.
func (c *controller) uploadFor(t *testing.T, area, name, path string) mediaInfo {
	t.Helper()
	audio, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m mediaInfo
	c.mustCall(t, "POST", "/api/v1/media?name="+name+"&area="+area, audio, &m)
	return m
}

// loginHome opens the app at its address with no page named, logs in, and
// waits for the page the role lands on.
func (b *browser) loginHome(user, password, want string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.url + "/"))
	b.wait("#login-user", time.Minute)
	b.do(chromedp.SendKeys(chromedp.CSS("#login-user"), user),
		chromedp.SendKeys(chromedp.CSS("#login-pass"), password),
		chromedp.Click(chromedp.CSS("#login-submit")))
	b.wait(`#main[data-ready]:not([data-ready=""]):not([data-ready="login"])`, time.Minute)
	if got := b.eval(`document.getElementById('main').dataset.ready`); got != want {
		b.t.Errorf("%s lands on %q after logging in, want %q", user, got, want)
	}
	b.wait(fmt.Sprintf(`#main[data-ready=%q]`, want), time.Minute)
}

// waitText waits until the element's text holds want.
func (b *browser) waitText(sel, want string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var got string
	for time.Now().Before(deadline) {
		if got = b.text(sel); strings.Contains(got, want) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.shot("failure")
	b.t.Fatalf("%s still reads %q after %v, want %q", sel, got, timeout, want)
}

// waitGone waits until no element matches sel.
func (b *browser) waitGone(sel string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !b.has(sel) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.shot("failure")
	b.t.Fatalf("%s is still in the page after %v", sel, timeout)
}

// rows lists the data-test names of the rows of a table, in order, less prefix.
func (b *browser) rows(table, prefix string) []string {
	b.t.Helper()
	s := b.eval(fmt.Sprintf(`[...document.querySelectorAll('[data-test=%q] tbody tr')].map((r) => r.dataset.test).join(' ')`, table))
	var out []string
	for _, f := range strings.Fields(s) {
		out = append(out, strings.TrimPrefix(f, prefix))
	}
	return out
}

func (b *browser) stations() []string { return b.rows("cov-stations-table", "cov-station-") }
func (b *browser) communes() []string { return b.rows("cov-communes-table", "cov-commune-") }

// acceptDialogs answers every confirm() of the page with OK, as an officer
// would, and returns a function listing the questions asked so far.
func (b *browser) acceptDialogs() func() []string {
	var mu sync.Mutex
	var asked []string
	opening := chromedp.Events(b.ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range opening {
			if err != nil {
				return
			}
			mu.Lock()
			asked = append(asked, ev.Message)
			mu.Unlock()
			go chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(asked)
	}
}
