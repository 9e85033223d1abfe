package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The administrator sees each cluster's software version, adds a release
// and starts a rollout from the browser, and follows it to its halt (the
// release is older than what the cluster runs, so it refuses it and keeps
// its version), then stops a rollout waiting for an offline cluster. An
// officer does not see the page.
func TestWebRolloutPage(t *testing.T) {
	chromium, dir, ctl := webCommune(t)
	startNode(t, "ota-web", ctl.enrol(t, "ota-web", "z-center", dir, "silent"), nil)
	ctl.waitOnline(t, "ota-web")
	ctl.radioctl(t, "zone", "add", "z-2", "st-1", "-name", "Thôn 2")
	ctl.enrol(t, "ota-off", "z-2", dir, "silent") // never started: offline
	adminPw := ctl.createUser(t, "quan.tri", "Phạm Quản Trị", "admin", "")
	officerPw := ctl.createUser(t, "can.bo", "Nguyễn Văn An", "officer", "x-an-phu")
	rel := filepath.Join(dir, "radio-node-old")
	if err := os.WriteFile(rel, []byte("an old build"), 0o644); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, chromium, ctl.url)
	b.login("quan.tri", adminPw)
	b.open("nodes")
	b.wait(`tr[data-test="node-ota-web"]`, time.Minute)
	if row := b.text(`tr[data-test="node-ota-web"]`); !strings.Contains(row, "0.1.0-dev") {
		t.Errorf("cluster row %q does not show its version 0.1.0-dev", row)
	}

	b.open("updates")
	b.wait(`[data-test="releases-table-empty"]`, time.Minute)
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#release-file"), []string{rel}),
		chromedp.SendKeys(chromedp.CSS("#release-version"), "0.0.1"),
		chromedp.SetValue(chromedp.CSS("#release-arch"), "amd64"),
		chromedp.Click(chromedp.CSS("#release-add")))
	b.wait(`tr[data-test="release-0.0.1-amd64"]`, time.Minute)
	b.shot("desk-release-added")

	b.eval(`window.confirm = () => true; ''`)
	b.do(chromedp.SetValue(chromedp.CSS("#rollout-zone"), "z-center"),
		chromedp.Click(chromedp.CSS("#rollout-start")))
	b.wait(`.rollout`, time.Minute)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && !strings.Contains(b.text(".rollout"), "Đã dừng vì lỗi") {
		time.Sleep(300 * time.Millisecond)
	}
	card := b.text(".rollout")
	for _, want := range []string{"0.0.1 · vùng Trung tâm xã", "Đã dừng vì lỗi", "Mục tiêu 1 · đã cập nhật 0 · lỗi 1", "Đã dừng: 1/1 cụm loa lỗi (ngưỡng 1)"} {
		if !strings.Contains(card, want) {
			t.Errorf("rollout card %q lacks %q", card, want)
		}
	}
	b.do(chromedp.Click(chromedp.CSS(".rollout summary")))
	if row := b.text(`tr[data-test="rollout-node-ota-web"]`); !strings.Contains(row, "update_failed") || !strings.Contains(row, "no downgrade") {
		t.Errorf("node row %q, want the node's refusal (update_failed: no downgrade)", row)
	}
	b.shot("desk-rollout-halted")
	b.do(chromedp.EmulateViewport(390, 844))
	b.open("updates")
	b.wait(`.rollout`, time.Minute)
	b.shot("phone-updates")
	b.do(chromedp.Click(chromedp.CSS("#lang-toggle")))
	b.wait(`[data-test="rollout-halted"]`, time.Minute)
	if got := b.text(`[data-test="rollout-halted"]`); !strings.Contains(got, "Halted: 1 of 1 clusters failed") {
		t.Errorf("in English the halt reads %q", got)
	}
	b.do(chromedp.Click(chromedp.CSS("#lang-toggle")))
	b.do(chromedp.EmulateViewport(1280, 900))

	// A rollout whose node is offline waits for it; the administrator stops it.
	b.open("updates")
	b.eval(`window.confirm = () => true; ''`)
	b.do(chromedp.SetValue(chromedp.CSS("#rollout-zone"), "z-2"),
		chromedp.Click(chromedp.CSS("#rollout-start")))
	b.wait(`[data-test^="rollout-stop-"]`, time.Minute)
	if got := b.text(".rollout"); !strings.Contains(got, "Đang chạy") || !strings.Contains(got, "chờ 1") {
		t.Errorf("the waiting rollout reads %q", got)
	}
	b.do(chromedp.Click(chromedp.CSS(`[data-test^="rollout-stop-"]`)))
	deadline = time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && b.has(`[data-test^="rollout-stop-"]`) {
		time.Sleep(300 * time.Millisecond)
	}
	if got := b.text(".rollout"); !strings.Contains(got, "Đã dừng bằng tay (quan.tri)") {
		t.Errorf("the stopped rollout reads %q", got)
	}
	b.shot("desk-rollout-stopped")
	b.logout()

	b.login("can.bo", officerPw)
	if b.has("#nav-updates") {
		t.Error("an officer sees the software updates page")
	}
	b.checkConsole()
}
