package e2e

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/communeradio/radio/internal/audiotest"
)

// The web app in a real browser (Debian's chromium, headless) against the
// real controller and a real node: a commune officer uploads a recording
// and schedules it for the zone through the programme form; the commune
// leader approves it; the node plays it into its recorded sink; it appears
// in the proof of play page. Then every page once at phone width. Each page
// is saved as a PNG in $RADIO_ARTIFACTS (or test-artifacts/web/).
func TestWebOfficerSchedulesLeaderApproves(t *testing.T) {
	chromium, dir, ctl := webCommune(t)
	pulse := audiotest.StartPulse(t, "w1")
	startNode(t, "w1", ctl.enrol(t, "w1", "z-center", dir, "oto"), pulse.Env("w1"))
	ctl.waitOnline(t, "w1")
	users := map[string]string{ // username -> password
		"can.bo.an": ctl.createUser(t, "can.bo.an", "Nguyễn Văn An", "officer", "x-an-phu"),
		"chu.tich":  ctl.createUser(t, "chu.tich", "Trần Thị Bình", "leader", "x-an-phu"),
		"tinh.hcm":  ctl.createUser(t, "tinh.hcm", "Lê Văn Cường", "province", "p-79"),
		"quan.tri":  ctl.createUser(t, "quan.tri", "Phạm Quản Trị", "admin", ""),
	}
	recording := tone(t, dir, 440, 3)

	b := newBrowser(t, chromium, ctl.url)

	// The officer: log in, upload, schedule.
	b.login("can.bo.an", users["can.bo.an"])
	b.shot("desk-dashboard-officer")
	b.open("media")
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#media-file"), []string{recording}),
		chromedp.Click(chromedp.CSS("#media-upload")))
	b.wait("#media-state[data-done]", 2*time.Minute)
	sha := b.eval(`document.getElementById('media-state').dataset.done`)
	b.wait(fmt.Sprintf(`tr[data-test="media-%s"]`, sha[:16]), time.Minute)
	b.shot("desk-media")

	b.open("programme")
	b.do(chromedp.Click(chromedp.CSS("#bulletin-new")))
	b.wait("#bulletin-form", time.Minute)
	// Far enough ahead for the leader to log in and approve, and for the
	// node to fetch the audio; the wait below is as long as it takes.
	airAt := time.Now().Add(75 * time.Second).Truncate(time.Second)
	const item = "ban-tin-thu-nghiem"
	b.do(chromedp.SendKeys(chromedp.CSS("#f-title"), "Bản tin thử nghiệm"),
		chromedp.SetValue(chromedp.CSS("#f-media"), sha),
		chromedp.Click(chromedp.CSS("#f-target-zone")),
		chromedp.SetValue(chromedp.CSS("#f-rec"), "once"),
		chromedp.SetValue(chromedp.CSS("#f-date"), airAt.In(vn).Format("2006-01-02")),
		chromedp.SetValue(chromedp.CSS("#f-times"), airAt.In(vn).Format("15:04:05")))
	if got := b.eval(`document.getElementById('f-id').value`); got != item {
		t.Errorf("bulletin id made from the title: %q, want %q", got, item)
	}
	if !b.has(`#f-zone-z-center:checked`) {
		b.do(chromedp.Click(chromedp.CSS("#f-zone-z-center")))
	}
	b.shot("desk-programme-form")
	b.do(chromedp.Click(chromedp.CSS("#f-save")))
	b.wait(fmt.Sprintf(`tr[data-test="bulletin-%s"]`, item), time.Minute)
	b.wait(fmt.Sprintf(`[data-test="occ-%s"]`, item), time.Minute)
	if txt := b.text(fmt.Sprintf(`tr[data-test="bulletin-%s"]`, item)); !strings.Contains(txt, "Chờ duyệt") {
		t.Errorf("a new bulletin should be a draft (Chờ duyệt); row reads %q", txt)
	}
	b.shot("desk-programme")
	b.open("approvals")
	if b.has(`[data-test^="approve-"]`) {
		t.Error("an officer sees an Approve button")
	}
	b.logout()

	// The leader approves it.
	b.login("chu.tich", users["chu.tich"])
	b.open("approvals")
	b.wait(fmt.Sprintf(`[data-test="approve-%s"]`, item), time.Minute)
	b.shot("desk-approvals")
	b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-test="approve-%s"]`, item))))
	b.wait(fmt.Sprintf(`[data-test="approved-%s"]`, item), time.Minute)
	if time.Now().After(airAt.Add(-5 * time.Second)) {
		t.Fatalf("approved only at %v, too close to the air time %v for the node to get it; the machine is very slow", time.Now(), airAt)
	}

	// The node plays it.
	rec := pulse.Record(t, "w1")
	occ := occurrenceID(item, airAt)
	ctl.waitPlays(t, occ, 3*time.Minute, func(e []playEvent) bool { return count(e, "finished") == 1 })
	s, _ := rec.Stop()
	if tn := audiotest.Analyze(s, audiotest.Rate); !tn.Found || math.Abs(audiotest.Dominant(s[tn.Onset:], audiotest.Rate, 300, 600)-440) > 10 { // Goertzel: a dropout on a loaded machine skews a zero-crossing count
		t.Errorf("the sink of w1 did not hear the 440 Hz bulletin: %+v", tn)
	}

	// Proof of play and the scheduled-vs-aired report show it.
	b.open("plays")
	b.wait(fmt.Sprintf(`tr[data-test="play-finished-%s"]`, occ), time.Minute)
	b.wait(fmt.Sprintf(`tr[data-test="report-%s-w1"]`, occ), time.Minute)
	if txt := b.text(fmt.Sprintf(`tr[data-test="report-%s-w1"]`, occ)); !strings.Contains(txt, "Đã phát") {
		t.Errorf("report row for %s reads %q, want Đã phát (played)", occ, txt)
	}
	csv := b.evalAsync(`fetch(document.getElementById('plays-csv').href, {credentials: 'same-origin'}).then(r => r.text())`)
	if !strings.Contains(csv, occ) {
		t.Errorf("the Xuất CSV link gives no row of %s:\n%s", occ, csv)
	}
	report := b.evalAsync(`fetch(document.getElementById('report-csv').href, {credentials: 'same-origin'}).then(r => r.text())`)
	if !strings.Contains(report, occ) || !strings.Contains(report, "đã phát") {
		t.Errorf("the scheduled-vs-aired CSV link has no played row of %s:\n%s", occ, report)
	}
	b.shot("desk-plays")
	for _, p := range []string{"nodes", "control", "audit"} {
		b.open(p)
		b.shot("desk-" + p)
	}
	b.do(chromedp.Click(chromedp.CSS("#lang-toggle")))
	b.wait(`#nav-dashboard`, time.Minute)
	if got := b.text("#nav-dashboard"); got != "Dashboard" {
		t.Errorf("after the language toggle the menu reads %q, want Dashboard", got)
	}
	b.do(chromedp.Click(chromedp.CSS("#lang-toggle")))
	b.logout()

	// Provincial staff read everything and change nothing.
	b.login("tinh.hcm", users["tinh.hcm"])
	b.open("programme")
	b.wait(fmt.Sprintf(`tr[data-test="bulletin-%s"]`, item), time.Minute)
	if b.has("#bulletin-new") || b.has(`[data-test="edit-`+item+`"]`) {
		t.Error("provincial staff see buttons that change the programme")
	}
	if b.has("#nav-control") {
		t.Error("provincial staff see the Play now page")
	}
	b.logout()

	// Every page at phone width, as the administrator (who sees them all).
	b.login("quan.tri", users["quan.tri"])
	b.open("users")
	b.wait(`tr[data-test="user-can.bo.an"]`, time.Minute)
	b.shot("desk-users")
	b.do(chromedp.EmulateViewport(390, 844))
	for _, p := range []string{"dashboard", "coverage", "nodes", "media", "programme", "approvals", "control", "plays", "audit", "users"} {
		b.open(p)
		b.shot("phone-" + p)
	}
	if b.visible("#nav-dashboard") {
		t.Error("at phone width the menu should be folded away until the menu button is pressed")
	}
	b.do(chromedp.Click(chromedp.CSS("#nav-toggle")))
	b.wait("#nav-dashboard", 10*time.Second)
	b.shot("phone-menu")
	b.logout()
	b.shot("phone-login")
	b.checkConsole()
}

// findChromium fails (never skips) when the browser is missing.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("RADIO_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	t.Fatal("chromium is not installed: run `make deps` (it installs Debian's chromium for the browser tests), or set RADIO_CHROMIUM")
	return ""
}

// webCommune starts what every browser test needs: chromium found, a
// controller with the commune of setupCommune, and a folder for the rest.
func webCommune(t *testing.T) (chromium, dir string, ctl *controller) {
	t.Helper()
	chromium = findChromium(t)
	dir = t.TempDir()
	ctl = startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	return chromium, dir, ctl
}

// createUser makes a web account through the API and returns its password.
func (c *controller) createUser(t testing.TB, username, name, role, area string) string {
	t.Helper()
	pw := "mk-" + username + "-2026"
	var resp struct {
		User struct {
			Username string `json:"username"`
		} `json:"user"`
	}
	c.mustCall(t, "POST", "/api/v1/users", map[string]string{"username": username, "name": name, "role": role, "area_id": area, "password": pw}, &resp)
	if resp.User.Username != username {
		t.Fatalf("created user %+v, want %s", resp, username)
	}
	return pw
}

// browser is one headless chromium tab on the app.
type browser struct {
	t         *testing.T
	ctx       context.Context
	url       string
	artifacts string
	n         int

	mu     sync.Mutex
	errors []string // uncaught exceptions in the page
}

func newBrowser(t *testing.T, chromium, url string, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "vi-VN"),
		chromedp.WindowSize(1280, 900),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 10*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium %s: %v", chromium, err)
	}
	dir := os.Getenv("RADIO_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "test-artifacts", "web")
	}
	dir = filepath.Join(dir, t.Name()) // one folder per test, so tests keep each other's
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "[0-9][0-9]-*.png")) // the previous run's
	for _, f := range old {
		os.Remove(f)
	}
	b := &browser{t: t, ctx: ctx, url: url, artifacts: dir}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleException {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s (%s:%d)", m.Text, m.URL, m.Line+1))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.fail(err)
	}
}

func (b *browser) fail(err error) {
	b.t.Helper()
	b.shot("failure")
	if errors.Is(err, context.DeadlineExceeded) {
		b.t.Fatalf("browser: %v (screenshot of the page in %s)", err, b.artifacts)
	}
	b.t.Fatalf("browser: %v", err)
}

// wait waits for an element to be in the page and visible.
func (b *browser) wait(sel string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		b.t.Logf("page text when %s did not show: %s", sel, b.eval(`document.body.innerText`))
		b.fail(fmt.Errorf("waiting for %s: %w", sel, err))
	}
}

func (b *browser) eval(js string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", js, err)
	}
	return s
}

func (b *browser) evalAsync(js string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", js, err)
	}
	return s
}

func (b *browser) has(sel string) bool {
	b.t.Helper()
	return b.eval(fmt.Sprintf(`String(document.querySelector(%q) !== null)`, sel)) == "true"
}

func (b *browser) visible(sel string) bool {
	b.t.Helper()
	return b.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return String(!!e && e.offsetParent !== null); })()`, sel)) == "true"
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return b.eval(fmt.Sprintf(`document.querySelector(%q)?.innerText ?? ''`, sel))
}

// open goes to a page of the app and waits until it has rendered.
func (b *browser) open(page string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.url + "/#/" + page))
	b.wait(fmt.Sprintf(`#main[data-ready=%q]`, page), time.Minute)
}

func (b *browser) login(user, password string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.url + "/#/dashboard"))
	b.wait("#login-user", time.Minute)
	b.do(chromedp.SendKeys(chromedp.CSS("#login-user"), user),
		chromedp.SendKeys(chromedp.CSS("#login-pass"), password),
		chromedp.Click(chromedp.CSS("#login-submit")))
	b.wait(`#main[data-ready="dashboard"]`, time.Minute)
	if got := b.text("#who-name"); got == "" {
		b.t.Errorf("after logging in as %s the header names nobody", user)
	}
}

func (b *browser) logout() {
	b.t.Helper()
	if !b.visible("#logout") { // phone width: the button is in the top bar too
		b.t.Fatal("no logout button")
	}
	b.do(chromedp.Click(chromedp.CSS("#logout")))
	b.wait("#login-user", time.Minute)
}

// shot saves a PNG of the whole page as a test artifact.
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.n++
	path := filepath.Join(b.artifacts, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Errorf("saving screenshot: %v", err)
	}
}

func (b *browser) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("uncaught exception in the page: %s", e)
	}
}
