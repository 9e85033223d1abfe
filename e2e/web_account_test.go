package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A bulletin the server refuses, in words an officer and a leader can act
// on: the programme form shows a clash with an approved bulletin and a
// one-off time already past next to the form (the times typed as "0630" and
// "8h00"); the approval queue shows, on the bulletin's own card, why it
// cannot be approved (a clash, a time that passed while it waited) and
// what to do. The dashboard counts clusters online as Trực tuyến and names
// the station of what airs next.
func TestWebScheduleRefusals(t *testing.T) {
	chromium, dir, ctl := webCommune(t)
	ctl.enrol(t, "r1", "z-center", dir, "oto")
	users := map[string]string{
		"can.bo.hoa":   ctl.createUser(t, "can.bo.hoa", "Phan Thị Hoa", "officer", "x-an-phu"),
		"chu.tich.lan": ctl.createUser(t, "chu.tich.lan", "Đinh Văn Lân", "leader", "x-an-phu"),
	}
	m := ctl.uploadFor(t, "x-an-phu", "ban-tin.mp3", tone(t, dir, 440, 3))
	put := func(id, title string, rec map[string]any) {
		ctl.mustCall(t, "PUT", "/api/v1/schedules/st-1/bulletins/"+id, map[string]any{"id": id, "title": title,
			"source": map[string]any{"kind": "media", "media": m.SHA256}, "target": map[string]any{"kind": "zone", "ids": []string{"z-center"}},
			"recurrence": rec}, nil)
	}
	approve := func(id string) { ctl.mustCall(t, "POST", "/api/v1/schedules/st-1/bulletins/"+id+"/approve", nil, nil) }
	put("tin-sang", "Bản tin sáng", map[string]any{"kind": "daily", "times": []string{"06:30"}})
	approve("tin-sang")
	// Two drafts at the same time: once one is approved, the other cannot be.
	put("tin-trua", "Bản tin trưa", map[string]any{"kind": "daily", "times": []string{"11:00"}})
	put("tin-trua-2", "Thông báo trưa", map[string]any{"kind": "daily", "times": []string{"11:00"}})
	approve("tin-trua")
	// A one-off draft whose time passes while it waits for the leader.
	gapAt := time.Now().Add(20 * time.Second).Truncate(time.Second)
	put("tin-gap", "Thông báo gấp", map[string]any{"kind": "once", "date": gapAt.In(vn).Format("2006-01-02"), "times": []string{gapAt.In(vn).Format("15:04:05")}})

	b := newBrowser(t, chromium, ctl.url)
	b.login("can.bo.hoa", users["can.bo.hoa"])
	if got := b.text("#dash-online"); !strings.Contains(got, "Trực tuyến") {
		t.Errorf("the dashboard's online counter reads %q, want Trực tuyến", got)
	}
	if got := b.text(`[data-test="dash-next"]`); !strings.Contains(got, "Đài truyền thanh xã An Phú") || strings.Contains(got, "st-1") {
		t.Errorf("Sắp phát reads %q, want the station's name (Đài truyền thanh xã An Phú), not its id", got)
	}

	// The form: a clash with the approved Bản tin sáng.
	b.open("programme")
	b.wait(`tr[data-test="bulletin-tin-sang"]`, time.Minute)
	b.do(chromedp.Click(chromedp.CSS("#bulletin-new")))
	b.wait("#bulletin-form", time.Minute)
	b.do(chromedp.SendKeys(chromedp.CSS("#f-title"), "Bản tin trùng giờ"),
		chromedp.SetValue(chromedp.CSS("#f-media"), m.SHA256),
		chromedp.Click(chromedp.CSS("#f-target-zone")))
	if !b.has(`#f-zone-z-center:checked`) {
		b.do(chromedp.Click(chromedp.CSS("#f-zone-z-center")))
	}
	b.setSelect("#f-rec", "daily")
	b.do(chromedp.SetValue(chromedp.CSS("#f-times"), "0630"),
		chromedp.Click(chromedp.CSS("#f-save")))
	b.waitText("#f-errors", "Bản tin sáng", time.Minute)
	got := b.text("#f-errors")
	t.Logf("the clash as shown next to the form: %q", got)
	if !strings.Contains(got, "trùng giờ với") || !strings.Contains(got, "06:30") || strings.Contains(got, "it would play") {
		t.Errorf("the clash reads %q, want it in Vietnamese (trùng giờ với “Bản tin sáng”, 06:30)", got)
	}
	if b.text("#err-time") == "" {
		t.Error("the clash is not shown beside the time fields")
	}
	if v := b.eval(`document.getElementById('f-times').value`); v != "06:30" {
		t.Errorf("“0630” in the Giờ phát field became %q, want 06:30", v)
	}
	b.shot("desk-form-clash")

	// A one-off time already past; Từ ngày / Đến ngày are hidden for it.
	b.setSelect("#f-rec", "once")
	if b.visible("#f-from") || b.visible("#f-until") || !b.visible("#f-date") {
		t.Error("for Một lần the form should show Ngày phát and hide Từ ngày / Đến ngày")
	}
	yesterday := time.Now().In(vn).AddDate(0, 0, -1)
	b.do(chromedp.SetValue(chromedp.CSS("#f-date"), yesterday.Format("2006-01-02")),
		chromedp.SetValue(chromedp.CSS("#f-times"), "8h00"),
		chromedp.Click(chromedp.CSS("#f-save")))
	b.waitText("#f-errors", "đã qua", time.Minute)
	if got := b.text("#f-errors"); !strings.Contains(got, yesterday.Format("02/01/2006")+" 08:00") {
		t.Errorf("the past time reads %q, want it to name %s 08:00", got, yesterday.Format("02/01/2006"))
	}
	b.shot("desk-form-past")
	b.logout()

	// The leader's queue.
	b.login("chu.tich.lan", users["chu.tich.lan"])
	b.open("approvals")
	b.wait(`[data-test="approve-tin-trua-2"]`, time.Minute)
	if got, want := b.text(`[data-test="approval-tin-gap"]`), "Ngày "+gapAt.In(vn).Format("02/01/2006"); !strings.Contains(got, want) {
		t.Errorf("the one-off's card reads %q, want %q (dd/mm/yyyy)", got, want)
	}
	b.do(chromedp.Click(chromedp.CSS(`[data-test="approve-tin-trua-2"]`)))
	b.wait(`[data-test="approve-errors-tin-trua-2"]`, time.Minute)
	got = b.text(`[data-test="approve-errors-tin-trua-2"]`)
	t.Logf("why Thông báo trưa cannot be approved, on its card: %q", got)
	if !strings.Contains(got, "Hãy báo cán bộ") || !strings.Contains(got, "tin-trua") || strings.Contains(got, ".radio:") {
		t.Errorf("the clash on the card reads %q, want what to do (Hãy báo cán bộ…) and the other bulletin (tin-trua), no file:line", got)
	}
	b.shot("desk-approval-clash")
	time.Sleep(time.Until(gapAt.Add(time.Second))) // the one-off's time passes
	b.do(chromedp.Click(chromedp.CSS(`[data-test="approve-tin-gap"]`)))
	b.wait(`[data-test="approve-errors-tin-gap"]`, time.Minute)
	got = b.text(`[data-test="approve-errors-tin-gap"]`)
	if !strings.Contains(got, "đã qua") || !strings.Contains(got, "Cán bộ cần chọn giờ phát mới") || !strings.Contains(got, gapAt.In(vn).Format("02/01/2006 15:04")) {
		t.Errorf("the past one-off's card reads %q, want its time (%s), đã qua, and that the officer must choose a new one", got, gapAt.In(vn).Format("02/01/2006 15:04"))
	}
	if b.has(`[data-test="approved-tin-gap"]`) || b.has(`[data-test="approved-tin-trua-2"]`) {
		t.Error("a refused bulletin is shown as approved")
	}
	b.shot("desk-approval-past")
	b.checkConsole()
}

// API tokens from the browser: an officer makes one (its secret shown once),
// a plain HTTP client with it sees the officer's commune only, and once it is
// revoked in the browser the secret is refused. On a phone the opened menu
// says who is logged in. An administrator resets a forgotten password in the
// users page, and the user logs in with the new one.
func TestWebTokensAndPasswordReset(t *testing.T) {
	chromium, dir, ctl := webCommune(t)
	ctl.enrol(t, "k1", "z-center", dir, "oto")
	for _, args := range [][]string{
		{"area", "add", "x-binh-my", "Xã Bình Mỹ", "-kind", "commune", "-parent", "p-79"},
		{"station", "add", "st-2", "x-binh-my", "Đài xã Bình Mỹ"},
		{"node", "add", "k2", "st-2", "-name", "Cụm loa Bình Mỹ", "-out", filepath.Join(dir, "k2.json")},
	} {
		ctl.radioctl(t, args...)
	}
	users := map[string]string{
		"can.bo.khanh": ctl.createUser(t, "can.bo.khanh", "Trịnh Văn Khánh", "officer", "x-an-phu"),
		"quen.mk":      ctl.createUser(t, "quen.mk", "Hà Thị Quên", "officer", "x-an-phu"),
		"quan.tri":     ctl.createUser(t, "quan.tri", "Phạm Quản Trị", "admin", ""),
	}
	nodesWith := func(secret string) (int, []string) {
		req, _ := http.NewRequest("GET", ctl.url+"/api/v1/nodes", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var nodes []struct {
			ID string `json:"id"`
		}
		if resp.StatusCode == 200 {
			if err := json.NewDecoder(resp.Body).Decode(&nodes); err != nil {
				t.Fatal(err)
			}
		}
		var ids []string
		for _, n := range nodes {
			ids = append(ids, n.ID)
		}
		slices.Sort(ids)
		return resp.StatusCode, ids
	}
	if _, all := nodesWith(ctl.token); !slices.Equal(all, []string{"k1", "k2"}) {
		t.Fatalf("the administrator's token sees the nodes %v, want k1 and k2", all)
	}

	b := newBrowser(t, chromium, ctl.url)
	dialogs := b.acceptDialogs()
	b.login("can.bo.khanh", users["can.bo.khanh"])
	b.do(chromedp.Click(chromedp.CSS("#who-name")))
	b.wait(`#main[data-ready="account"]`, time.Minute)
	if got := b.text("#acct-me"); !strings.Contains(got, "Trịnh Văn Khánh") || !strings.Contains(got, "Xã An Phú") {
		t.Errorf("the account page reads %q, want the officer's name and commune", got)
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#token-name"), "kịch bản sao lưu"),
		chromedp.Click(chromedp.CSS("#token-create")))
	b.wait("#token-secret", time.Minute)
	secret := strings.TrimSpace(b.text("#token-secret"))
	if got := b.text(`[data-test="token-once"]`); !strings.Contains(got, "MỘT LẦN") || !b.has("#token-copy") {
		t.Errorf("the new token's box reads %q, want the warning that it is shown only once and a copy button", got)
	}
	b.waitText(`[data-test="tokens-table"]`, "kịch bản sao lưu", time.Minute)
	b.shot("desk-token-created")

	code, ids := nodesWith(secret)
	if code != 200 || !slices.Equal(ids, []string{"k1"}) {
		t.Errorf("with the officer's new token GET /api/v1/nodes answers %d with %v, want 200 and only k1 (their commune)", code, ids)
	}

	b.open("dashboard") // and back: the page is built anew
	b.open("account")
	b.wait(`[data-test="tokens-table"]`, time.Minute)
	if b.has("#token-secret") {
		t.Error("the secret is shown again after the page is opened anew")
	}
	b.do(chromedp.Click(chromedp.CSS(`[data-test^="revoke-"]`)))
	b.wait(`[data-test="tokens-table-empty"]`, time.Minute)
	if msgs := dialogs(); len(msgs) != 1 || !strings.Contains(msgs[0], "kịch bản sao lưu") {
		t.Errorf("before revoking, the page asked %q, want one question naming the token", msgs)
	}
	if code, _ := nodesWith(secret); code != http.StatusUnauthorized {
		t.Errorf("the revoked token's secret gets HTTP %d, want 401", code)
	}
	b.shot("desk-token-revoked")

	// At phone width the opened menu says who is logged in.
	b.do(chromedp.EmulateViewport(390, 844))
	b.open("dashboard")
	if b.visible("#nav-who") {
		t.Error("the menu is open before the menu button is pressed")
	}
	b.do(chromedp.Click(chromedp.CSS("#nav-toggle")))
	b.wait("#nav-who", 30*time.Second)
	if got := b.text("#nav-who"); !strings.Contains(got, "Trịnh Văn Khánh") || !strings.Contains(got, "Cán bộ xã") {
		t.Errorf("at phone width the opened menu reads %q, want the name and role", got)
	}
	b.shot("phone-menu-who")
	b.do(chromedp.EmulateViewport(1280, 900))
	b.open("dashboard")
	if b.visible("#nav-who") {
		t.Error("on a desk the name is in the top bar; the menu should not repeat it")
	}
	b.logout()

	// The administrator resets a forgotten password.
	b.login("quan.tri", users["quan.tri"])
	b.open("users")
	b.wait(`[data-test="reset-quen.mk"]`, time.Minute)
	b.do(chromedp.Click(chromedp.CSS(`[data-test="reset-quen.mk"]`)))
	b.wait("#user-reset-password", time.Minute)
	newPW := strings.TrimSpace(b.text("#user-reset-password"))
	if len(newPW) < 10 || newPW == users["quen.mk"] || !b.has("#user-reset-copy") {
		t.Errorf("the reset shows the password %q (and a copy button: %v), want a new one of 10 characters or more", newPW, b.has("#user-reset-copy"))
	}
	if msgs := dialogs(); len(msgs) != 2 || !strings.Contains(msgs[1], "quen.mk") {
		t.Errorf("before resetting, the page asked %q, want a question naming quen.mk", msgs)
	}
	b.shot("desk-users-reset")
	b.logout()
	if code := loginStatus(t, ctl.url, "quen.mk", users["quen.mk"]); code != http.StatusUnauthorized {
		t.Errorf("the old password still logs in (HTTP %d)", code)
	}
	b.login("quen.mk", newPW)
	if got := b.text("#who-name"); got != "Hà Thị Quên" {
		t.Errorf("after logging in with the new password the header names %q", got)
	}
	b.checkConsole()
}

// loginStatus tries a password with a plain HTTP client.
func loginStatus(t *testing.T, url, user, password string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	resp, err := http.Post(url+"/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// setSelect chooses an option as a person would, so that the page hears
// the change.
func (b *browser) setSelect(sel, value string) {
	b.t.Helper()
	b.do(chromedp.SetValue(chromedp.CSS(sel), value))
	b.eval(`(() => { document.querySelector(` + jsString(sel) + `).dispatchEvent(new Event('change', {bubbles: true})); return ''; })()`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
