package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// What an officer is told when things go wrong, in the browser: a file that
// is not a recording, a bulletin the form itself refuses, a programme the
// server refuses (a cron line that makes no time),
// a wrong password and, after too many, how long to wait.
func TestWebErrorMessages(t *testing.T) {
	chromium, dir, ctl := webCommune(t)
	ctl.enrol(t, "e1", "z-center", dir, "oto")
	pw := ctl.createUser(t, "can.bo.binh", "Đỗ Thị Bình", "officer", "x-an-phu")
	ctl.createUser(t, "quen.mat.khau", "Vũ Văn Dũng", "officer", "x-an-phu")
	audio, err := os.ReadFile(tone(t, dir, 660, 2))
	if err != nil {
		t.Fatal(err)
	}
	var m mediaInfo // the commune's own recording, so its officers see it
	ctl.mustCall(t, "POST", "/api/v1/media?name=ban-tin-sang.mp3&area=x-an-phu", audio, &m)

	b := newBrowser(t, chromium, ctl.url)
	b.login("can.bo.binh", pw)

	// Not a recording.
	notAudio := filepath.Join(dir, "bien-ban.mp3")
	if err := os.WriteFile(notAudio, []byte(strings.Repeat("Biên bản họp thôn, không phải âm thanh.\n", 200)), 0o644); err != nil {
		t.Fatal(err)
	}
	b.open("media")
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#media-file"), []string{notAudio}),
		chromedp.Click(chromedp.CSS("#media-upload")))
	b.wait("#media-state.error", 2*time.Minute)
	if got := b.text("#media-state"); !strings.Contains(got, "Tệp không phải bản ghi âm thanh hợp lệ") {
		t.Errorf("after uploading a text file the page says %q", got)
	}
	b.shot("error-not-audio")

	// The form's own checks.
	b.open("programme")
	b.do(chromedp.Click(chromedp.CSS("#bulletin-new")))
	b.wait("#bulletin-form", time.Minute)
	b.do(chromedp.Click(chromedp.CSS("#f-save")))
	b.wait("#f-errors", time.Minute)
	for sel, want := range map[string]string{"#err-title": "Hãy nhập tiêu đề", "#err-source": "Hãy chọn bản ghi"} {
		if got := b.text(sel); !strings.Contains(got, want) {
			t.Errorf("%s says %q, want %q", sel, got, want)
		}
	}

	// The server's: a cron line with six fields that make no time.
	b.do(chromedp.SendKeys(chromedp.CSS("#f-title"), "Thông báo tiêm phòng"),
		chromedp.SetValue(chromedp.CSS("#f-media"), m.SHA256),
		chromedp.SetValue(chromedp.CSS("#f-rec"), "cron"),
		chromedp.SetValue(chromedp.CSS("#f-cron"), "0 99 25 * * *"),
		chromedp.Click(chromedp.CSS("#f-save")))
	b.wait("#f-errors li", time.Minute)
	deadline := time.Now().Add(30 * time.Second)
	for strings.Contains(b.text("#f-errors"), "Hãy nhập tiêu đề") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // the previous, client-side list until the answer
	}
	got := b.text("#f-errors")
	t.Logf("the server's mistakes as shown: %q", got)
	if strings.Contains(got, "Hãy nhập tiêu đề") || !strings.Contains(strings.ToLower(got), "cron") {
		t.Errorf("the server's mistake in the cron line is not shown next to the form; it says %q", got)
	}
	if b.text("#err-time") == "" {
		t.Errorf("the cron mistake is not shown beside the time fields")
	}
	if strings.Contains(got, ".radio:") {
		t.Errorf("the officer is shown file:line positions of a file they never saw: %q", got)
	}
	b.shot("error-schedule")
	b.logout()

	// Wrong passwords, then the wait.
	b.do(chromedp.Navigate(b.url + "/#/dashboard"))
	b.wait("#login-user", time.Minute)
	b.do(chromedp.SendKeys(chromedp.CSS("#login-user"), "quen.mat.khau"))
	var msg string
	for i := 0; i < 8; i++ {
		b.do(chromedp.SetValue(chromedp.CSS("#login-pass"), fmt.Sprintf("sai-mat-khau-%d", i)),
			chromedp.Click(chromedp.CSS("#login-submit")))
		b.wait("#login-submit:enabled, #login-error[data-wait]", time.Minute) // the wait counts down with the button off
		msg = b.text("#login-error")
		if i == 0 && !strings.Contains(msg, "Sai tên đăng nhập hoặc mật khẩu") {
			t.Errorf("after a wrong password the page says %q", msg)
		}
		if strings.Contains(msg, "Hãy chờ") {
			break
		}
	}
	if !strings.Contains(msg, "Nhập sai mật khẩu quá nhiều lần") || !strings.ContainsAny(msg, "0123456789") {
		t.Errorf("after many wrong passwords the page says %q, want the wait time", msg)
	}
	if !strings.Contains(msg, "nhờ quản trị hệ thống đặt lại mật khẩu") {
		t.Errorf("the lockout reads %q, want it to say the administrator can reset the password", msg)
	}
	if strings.Contains(msg, "wrong passwords") || !strings.Contains(msg, "Chi tiết") {
		t.Errorf("the lockout reads %q, want the server's English folded behind Chi tiết", msg)
	}
	if got := b.eval(`(() => { const e = document.getElementById('login-error'); return e.getAttribute('role') + ' ' + e.className; })()`); !strings.Contains(got, "alert") || !strings.Contains(got, "error") {
		t.Errorf("the login error is %q, want role=alert and styled as an error", got)
	}
	b.shot("error-rate-limited")
	b.checkConsole()
}
