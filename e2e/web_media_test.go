package e2e

import (
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/communeradio/radio/internal/audiotest"
)

// The media library in the browser, at desk size (1366x768): the
// administrator uploads a quiet recording (peaks at -26 dBFS, as the demo
// recording does) for the commune; the stored file measures the target
// loudness; the commune's officer has it, renames it, cannot delete it
// while a bulletin uses it (the page names the bulletin), and can once the
// bulletin is gone. The audit log then names the recording instead of its
// hash and fits the page; the top bar's buttons stay readable on hover.
func TestWebMediaLoudnessRenameDeleteInUse(t *testing.T) {
	chromium, dir, ctl := webCommune(t)
	officer := ctl.createUser(t, "can.bo.media", "Đỗ Thị Mai", "officer", "x-an-phu")
	admin := ctl.createUser(t, "quan.tri.media", "Phạm Quản Trị", "admin", "")
	// A phone recorder's kind of file name: long, without a space.
	quiet := filepath.Join(dir, "Ghi_am_"+strings.Repeat("20261207_063000_", 8)+"ban-tin-nho.wav")
	if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "sine=frequency=440:duration=6,volume=-8dB", "-y", quiet).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, b)
	}
	if peak := peakDBFS(t, quiet); math.Abs(peak+26) > 0.5 {
		t.Fatalf("the quiet recording peaks at %.1f dBFS, want -26", peak)
	}

	b := newBrowser(t, chromium, ctl.url, chromedp.WindowSize(1366, 768))
	b.do(chromedp.EmulateViewport(1366, 768))
	b.login("quan.tri.media", admin)
	b.open("media")
	if got := b.text("#media-limits"); !strings.Contains(got, "100 MB") || !strings.Contains(got, "-16 LUFS") {
		t.Errorf("the upload form states %q, want the 100 MB limit and the -16 LUFS target", got)
	}
	b.setSelect("#media-area", "x-an-phu")
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#media-file"), []string{quiet}),
		chromedp.Click(chromedp.CSS("#media-upload")))
	b.wait("#media-state[data-done]", 2*time.Minute)
	sha := b.eval(`document.getElementById('media-state').dataset.done`)
	if got := b.text("#media-state"); !strings.Contains(got, "LUFS") {
		t.Errorf("after the upload the page says %q, want the loudness it was brought to", got)
	}
	stored := filepath.Join(ctl.dir, "media", sha[:2], sha+".opus")
	lufs := integratedLUFS(t, stored)
	t.Logf("quiet upload (%.1f LUFS) stored at %.1f LUFS", integratedLUFS(t, quiet), lufs)
	if math.Abs(lufs-(-16)) > 1 {
		t.Errorf("the stored recording measures %.1f LUFS, want -16 ± 1", lufs)
	}
	b.shot("desk-media-admin-uploaded")
	b.logout()

	// The commune's officer has it, and renames it.
	b.login("can.bo.media", officer)
	b.open("media")
	key := sha[:16]
	row := fmt.Sprintf(`tr[data-test="media-%s"]`, key)
	b.wait(row, time.Minute)
	if got := b.text(row); !strings.Contains(got, "ban-tin-nho.wav") {
		t.Errorf("the officer's library row reads %q, want the admin's upload by name", got)
	}
	b.do(chromedp.Click(chromedp.CSS(`[data-test="media-rename-` + key + `"]`)))
	b.wait(`[data-test="media-newname-`+key+`"]`, 10*time.Second)
	b.do(chromedp.SetValue(chromedp.CSS(`[data-test="media-newname-`+key+`"]`), "Thông báo lịch tiêm chủng"),
		chromedp.Click(chromedp.CSS(`[data-test="media-save-`+key+`"]`)))
	b.waitText(row, "Thông báo lịch tiêm chủng", time.Minute)

	// A bulletin uses it: the delete is refused, naming the bulletin.
	ctl.mustCall(t, "PUT", "/api/v1/schedules/st-1/bulletins/tiem-chung", map[string]any{"id": "tiem-chung", "title": "Lịch tiêm chủng tháng 12",
		"source": map[string]any{"kind": "media", "media": sha}, "target": map[string]any{"kind": "zone", "ids": []string{"z-center"}},
		"recurrence": map[string]any{"kind": "daily", "times": []string{"06:30"}}, "duration": "1m"}, nil)
	asked := b.acceptDialogs()
	b.do(chromedp.Click(chromedp.CSS(`[data-test="media-delete-` + key + `"]`)))
	b.wait(`[data-test="media-in-use"]`, time.Minute)
	if got := b.text("#media-msg"); !strings.Contains(got, "Lịch tiêm chủng tháng 12") || !strings.Contains(got, "Đài truyền thanh xã An Phú") ||
		!strings.Contains(got, "đang được dùng") {
		t.Errorf("the refused delete says %q, want it to name the bulletin and the station", got)
	}
	if len(asked()) != 1 {
		t.Errorf("questions asked before deleting: %q, want one", asked())
	}
	if !b.has(row) {
		t.Error("the recording left the library although its delete was refused")
	}
	b.shot("desk-media-delete-refused")

	// Once the bulletin is gone it can be deleted.
	ctl.mustCall(t, "DELETE", "/api/v1/schedules/st-1/bulletins/tiem-chung", nil, nil)
	b.do(chromedp.Click(chromedp.CSS(`[data-test="media-delete-` + key + `"]`)))
	b.wait(`#media-msg[data-deleted]`, time.Minute)
	b.waitGone(row, time.Minute)
	var left []mediaInfo
	ctl.mustCall(t, "GET", "/api/v1/media", nil, &left)
	for _, m := range left {
		if m.SHA256 == sha {
			t.Error("the administrator still lists the deleted recording")
		}
	}

	// The audit log names the recording, and fits 1366 px, even with the
	// long unbroken file name in it.
	b.logout()
	b.login("quan.tri.media", admin)
	b.open("audit")
	b.wait(`[data-test="audit-table"]`, time.Minute)
	if got := b.text(`[data-test="audit-table"]`); strings.Contains(got, sha) || !strings.Contains(got, "Thông báo lịch tiêm chủng") {
		t.Errorf("the audit log shows the hash or not the name:\n%s", got)
	}
	if over := b.eval(`(() => { const w = document.querySelector('#audit-list .table-wrap'); return w.scrollWidth + ' ' + w.clientWidth; })()`); !fits(over) {
		t.Errorf("the audit table is wider than its box at 1366 px (scrollWidth clientWidth: %s)", over)
	}
	b.shot("desk-audit")

	// The top bar's buttons stay readable under the mouse.
	for _, sel := range []string{"#logout", "#lang-toggle", "#pw-open"} {
		b.hover(sel)
		if c := b.contrast(sel, ""); c < 3 {
			t.Errorf("%s under the mouse: text contrast %.2f with its background, want at least 3", sel, c)
		}
	}
	// And the phone's menu button (its three white bars).
	b.do(chromedp.EmulateViewport(390, 844))
	b.open("media")
	b.hover("#nav-toggle")
	if c := b.contrast("#nav-toggle", ".burger"); c < 3 {
		t.Errorf("the phone menu button under a finger: bar contrast %.2f with its background, want at least 3", c)
	}
	b.shot("phone-menu-hover")
	b.checkConsole()
}

// Dates read dd/mm/yyyy even when the browser speaks English (US), whose
// own date fields take 12/07/2026 as December 7th; what the API gets is
// the ISO date all the same.
func TestWebDatesDayFirstUnderEnglishUSLocale(t *testing.T) {
	chromium, _, ctl := webCommune(t)
	pw := ctl.createUser(t, "can.bo.ngay", "Vũ Văn Ngày", "officer", "x-an-phu")
	b := newBrowser(t, chromium, ctl.url, chromedp.Flag("lang", "en-US"),
		chromedp.Env("LANGUAGE=en_US", "LC_ALL=en_US.UTF-8", "LANG=en_US.UTF-8"))
	b.login("can.bo.ngay", pw)
	if got := b.eval(`navigator.language`); got != "en-US" {
		t.Fatalf("the browser's language is %q, want en-US for this test", got)
	}
	b.open("plays")
	if got := b.eval(`document.getElementById('plays-until').value`); !dayFirst(got) {
		t.Errorf("the date field shows %q, want dd/mm/yyyy", got)
	}
	b.do(chromedp.SetValue(chromedp.CSS("#plays-since"), ""),
		chromedp.SendKeys(chromedp.CSS("#plays-since"), "12072026"),
		chromedp.SetValue(chromedp.CSS("#plays-until"), ""),
		chromedp.SendKeys(chromedp.CSS("#plays-until"), "20/07/2026"),
		chromedp.Click(chromedp.CSS("#plays-apply")))
	if got := b.eval(`document.getElementById('plays-since').value`); got != "12/07/2026" {
		t.Errorf("typing 12072026 shows %q, want 12/07/2026", got)
	}
	// 12 July, midnight in Vietnam, is 17:00 UTC on the 11th.
	deadline := time.Now().Add(time.Minute)
	for href := ""; !strings.Contains(href, "since=2026-07-11T17%3A00%3A00.000Z") || !strings.Contains(href, "until=2026-07-20T17%3A00%3A00.000Z"); href = b.eval(`document.getElementById('plays-csv').href`) {
		if time.Now().After(deadline) {
			t.Fatalf("after filtering 12/07/2026-20/07/2026 the export asks for %s, want since 2026-07-11T17:00Z until 2026-07-20T17:00Z", href)
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.shot("desk-plays-en-us")

	// The programme's date field too.
	b.open("programme")
	b.do(chromedp.Click(chromedp.CSS("#bulletin-new")))
	b.wait("#bulletin-form", time.Minute)
	if got := b.eval(`document.getElementById('f-date').value`); !dayFirst(got) {
		t.Errorf("the bulletin's date shows %q, want dd/mm/yyyy", got)
	}
	b.checkConsole()
}

// After five wrong passwords the login page counts the wait down, second by
// second, and gives the button back when it is over.
func TestWebLoginWaitCountsDown(t *testing.T) {
	chromium, _, ctl := webCommune(t)
	ctl.createUser(t, "can.bo.quen", "Lý Văn Quên", "officer", "x-an-phu")
	b := newBrowser(t, chromium, ctl.url)
	b.do(chromedp.Navigate(b.url + "/#/dashboard"))
	b.wait("#login-user", time.Minute)
	b.do(chromedp.SendKeys(chromedp.CSS("#login-user"), "can.bo.quen"))
	for i := 0; i < 6 && !b.has("#login-error[data-wait]"); i++ {
		b.do(chromedp.SetValue(chromedp.CSS("#login-pass"), "sai-mat-khau-"+strconv.Itoa(i)),
			chromedp.Click(chromedp.CSS("#login-submit")))
		b.waitTextAny("#login-error", time.Minute)
	}
	b.wait("#login-error[data-wait]", time.Minute)
	first, _ := strconv.Atoi(b.eval(`document.getElementById('login-error').dataset.wait`))
	if first <= 0 || b.eval(`String(document.getElementById('login-submit').disabled)`) != "true" {
		t.Fatalf("the wait shows %d s and the button is enabled=%s", first, b.eval(`String(!document.getElementById('login-submit').disabled)`))
	}
	deadline := time.Now().Add(time.Minute)
	for {
		now, _ := strconv.Atoi(b.eval(`document.getElementById('login-error').dataset.wait || '0'`))
		if now < first {
			if !strings.Contains(b.text("#login-error"), strconv.Itoa(now)+" giây") && now > 0 {
				t.Errorf("the message reads %q, want %d giây", b.text("#login-error"), now)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the wait still shows %d s a minute later", now)
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.shot("login-wait")
	b.checkConsole()
}

// "Phát ngay" on a phone: the slider starts at the cluster's volume; the
// result shows on screen, under the button, and says per cluster that it
// started.
func TestWebPlayNowOnPhone(t *testing.T) {
	chromium, dir, ctl := webCommune(t)
	pulse := audiotest.StartPulse(t, "p1")
	startNode(t, "p1", ctl.enrol(t, "p1", "z-center", dir, "oto"), pulse.Env("p1"))
	ctl.waitOnline(t, "p1")
	pw := ctl.createUser(t, "can.bo.phat", "Trịnh Văn Phát", "officer", "x-an-phu")
	rec := ctl.uploadFor(t, "x-an-phu", "thong-bao.mp3", tone(t, dir, 523, 3))
	ctl.mustCall(t, "POST", "/api/v1/volume", map[string]any{"zone": "z-center", "value": 45}, nil)
	ctl.waitVolume(t, "p1", 45)

	b := newBrowser(t, chromium, ctl.url)
	b.do(chromedp.EmulateViewport(390, 844))
	b.login("can.bo.phat", pw)
	b.open("control")
	b.setSelect("#ctl-target", "zone:z-center")
	if got := b.eval(`document.getElementById('ctl-volume').value`); got != "45" {
		t.Errorf("the slider starts at %s, want the cluster's 45", got)
	}
	b.do(chromedp.SetValue(chromedp.CSS("#ctl-media"), rec.SHA256),
		chromedp.Click(chromedp.CSS("#ctl-play")))
	b.wait("#ctl-result[data-command]", time.Minute)
	if in := b.eval(`(() => { const r = document.getElementById('ctl-result').getBoundingClientRect(); return String(r.top >= 0 && r.top < innerHeight); })()`); in != "true" {
		t.Errorf("the result of Phát ngay is out of sight on a phone (top %s, screen %s)",
			b.eval(`String(document.getElementById('ctl-result').getBoundingClientRect().top)`), b.eval(`String(innerHeight)`))
	}
	b.wait(`[data-test="ctl-node-p1"][data-state="started"], [data-test="ctl-node-p1"][data-state="finished"]`, 2*time.Minute)
	if got := b.text(`[data-test="ctl-node-p1"]`); !strings.Contains(got, "Cụm loa p1") {
		t.Errorf("the cluster's line reads %q, want its name", got)
	}
	b.shot("phone-control-played")
	b.checkConsole()
}

// waitVolume waits until a node reports the volume.
func (c *controller) waitVolume(t *testing.T, node string, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var n struct {
			State *struct {
				Volume int `json:"volume"`
			} `json:"state"`
		}
		c.mustCall(t, "GET", "/api/v1/nodes/"+node, nil, &n)
		if n.State != nil && n.State.Volume == want {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s does not report volume %d", node, want)
}

// waitTextAny waits until the element has some text.
func (b *browser) waitTextAny(sel string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.TrimSpace(b.text(sel)) != "" && b.eval(fmt.Sprintf(`String(document.querySelector(%q).closest('form').querySelector('[aria-busy]') === null)`, sel)) == "true" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("%s stays empty", sel)
}

// hover moves the mouse over the middle of an element.
func (b *browser) hover(sel string) {
	b.t.Helper()
	var x, y float64
	xy := b.eval(fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return (r.left + r.width / 2) + ' ' + (r.top + r.height / 2); })()`, sel))
	fmt.Sscan(xy, &x, &y)
	b.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y))
}

// contrast is the WCAG contrast ratio of an element's text colour (or, with
// inner, the background of that child: the menu button's bars) against
// what is behind it: its own background blended over its ancestors'.
func (b *browser) contrast(sel, inner string) float64 {
	b.t.Helper()
	js := fmt.Sprintf(`(() => {
  const el = document.querySelector(%q);
  const rgba = (s) => { const m = s.match(/[\d.]+/g).map(Number); return [m[0], m[1], m[2], m.length > 3 ? m[3] : 1]; };
  let bg = [255, 255, 255];
  const chain = []; for (let e = el; e; e = e.parentElement) chain.unshift(e);
  for (const e of chain) { const c = rgba(getComputedStyle(e).backgroundColor); bg = bg.map((v, i) => v * (1 - c[3]) + c[i] * c[3]); }
  const inner = %q ? el.querySelector(%q) : null;
  const fg = rgba(inner ? getComputedStyle(inner).backgroundColor : getComputedStyle(el).color).slice(0, 3);
  const lum = (c) => { const l = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2]; };
  const [a, z] = [lum(fg), lum(bg)].sort((p, q) => q - p);
  return String((a + 0.05) / (z + 0.05));
})()`, sel, inner, inner)
	v, err := strconv.ParseFloat(b.eval(js), 64)
	if err != nil {
		b.t.Fatalf("contrast of %s: %v", sel, err)
	}
	return v
}

// fits reads "scrollWidth clientWidth" and says whether nothing overflows.
func fits(s string) bool {
	var sw, cw int
	fmt.Sscan(s, &sw, &cw)
	return cw > 0 && sw <= cw
}

func dayFirst(s string) bool {
	if len(s) != 10 || s[2] != '/' || s[5] != '/' {
		return false
	}
	d, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:5])
	return d >= 1 && d <= 31 && m >= 1 && m <= 12
}

// integratedLUFS measures a file's integrated loudness (EBU R128).
func integratedLUFS(t *testing.T, path string) float64 {
	t.Helper()
	v, err := audiotest.IntegratedLUFS(path)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// peakDBFS is a file's sample peak, with ffmpeg's volumedetect.
func peakDBFS(t *testing.T, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostats", "-i", path, "-af", "volumedetect", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg volumedetect: %v %s", err, out)
	}
	s := string(out)
	i := strings.Index(s, "max_volume:")
	if i < 0 {
		t.Fatalf("no max_volume in:\n%s", s)
	}
	v, _ := strconv.ParseFloat(strings.Fields(s[i:])[1], 64)
	return v
}
