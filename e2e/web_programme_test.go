package e2e

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/communeradio/radio/internal/audiotest"
)

// The programme's review workflow in real browsers, against the real
// controller and a real node playing into a recorded sink:
//   - an officer changes the recording of an approved bulletin: the change
//     waits, and the node plays the approved recording (440 Hz, not the
//     880 Hz of the change) at its time;
//   - a second officer who opened the same bulletin before that change
//     saves: refused, told what changed and by whom; nothing of theirs is
//     saved;
//   - the leader, on a phone, sees the waiting count in the menu, who
//     submitted the change and its recording, and sends it back with a
//     comment, which the officer then sees;
//   - once aired, the week calendar shows the occurrence as Đã phát.
func TestWebReviewStaleEditAndApprovedAiring(t *testing.T) {
	chromium, dir, ctl := webCommune(t)
	pulse := audiotest.StartPulse(t, "r1")
	startNode(t, "r1", ctl.enrol(t, "r1", "z-center", dir, "oto"), pulse.Env("r1"))
	ctl.waitOnline(t, "r1")
	pwAn := ctl.createUser(t, "can.bo.an", "Nguyễn Văn An", "officer", "x-an-phu")
	pwHoa := ctl.createUser(t, "can.bo.hoa", "Lê Thị Hoa", "officer", "x-an-phu")
	pwLead := ctl.createUser(t, "chu.tich", "Trần Thị Bình", "leader", "x-an-phu")
	approved := ctl.uploadFor(t, "x-an-phu", "ban-tin-duyet.wav", tone(t, dir, 440, 3))
	change := ctl.uploadFor(t, "x-an-phu", "ban-tin-sua.wav", tone(t, dir, 880, 3))

	// Approved, on air in a little while.
	airAt := time.Now().Add(100 * time.Second).Truncate(time.Second)
	ctl.mustCall(t, "PUT", "/api/v1/schedules/st-1/bulletins/tin-sang", map[string]any{"id": "tin-sang", "title": "Bản tin sáng",
		"source": map[string]any{"kind": "media", "media": approved.SHA256}, "target": map[string]any{"kind": "zone", "ids": []string{"z-center"}},
		"recurrence": map[string]any{"kind": "once", "date": airAt.In(vn).Format("2006-01-02"), "times": []string{airAt.In(vn).Format("15:04:05")}}}, nil)
	ctl.mustCall(t, "POST", "/api/v1/schedules/st-1/bulletins/tin-sang/approve", nil, nil)

	// Two officers open the same bulletin.
	an := newBrowser(t, chromium, ctl.url)
	hoa := newBrowser(t, chromium, ctl.url)
	for _, x := range []struct {
		b        *browser
		user, pw string
	}{{an, "can.bo.an", pwAn}, {hoa, "can.bo.hoa", pwHoa}} {
		x.b.login(x.user, x.pw)
		x.b.open("programme")
		x.b.wait(`[data-test="edit-tin-sang"]`, time.Minute)
		x.b.do(chromedp.Click(chromedp.CSS(`[data-test="edit-tin-sang"]`)))
		x.b.wait("#bulletin-form", time.Minute)
	}
	// An changes the recording and saves: the change waits.
	an.do(chromedp.SetValue(chromedp.CSS("#f-media"), change.SHA256))
	an.do(chromedp.Click(chromedp.CSS("#f-save")))
	an.wait(`[data-test="pending-tin-sang"]`, time.Minute)
	if got := an.text(`tr[data-test="bulletin-tin-sang"]`); !strings.Contains(got, "Đã duyệt") {
		t.Errorf("after the change the bulletin reads %q, want still Đã duyệt (the approved version airs)", got)
	}
	an.shot("desk-change-waiting")

	// Hoa, on the version she opened, changes the title: refused.
	hoa.do(chromedp.SetValue(chromedp.CSS("#f-title"), "Bản tin sáng của Hoa"))
	hoa.do(chromedp.Click(chromedp.CSS("#f-save")))
	hoa.wait(`#f-errors[data-stale="true"]`, time.Minute)
	if got := hoa.text(`[data-test="stale-changes"]`); !strings.Contains(got, "Bản tin sáng") || !strings.Contains(got, "Nguyễn Văn An") {
		t.Errorf("the refused edit says %q, want what changed (Bản tin sáng) and by whom (Nguyễn Văn An)", got)
	}
	if got := hoa.text(`[data-test="stale-advice"]`); !strings.Contains(got, "chưa được lưu") {
		t.Errorf("the refused edit's advice: %q", got)
	}
	hoa.shot("desk-stale-refused")
	var bs []struct {
		ID, Title string
		Source    struct{ Media string }
		Pending   *struct {
			Title  string
			Source struct{ Media string }
		}
	}
	ctl.mustCall(t, "GET", "/api/v1/schedules/st-1/bulletins", nil, &bs)
	if len(bs) != 1 || bs[0].Title != "Bản tin sáng" || bs[0].Source.Media != approved.SHA256 || bs[0].Pending == nil ||
		bs[0].Pending.Title != "Bản tin sáng" || bs[0].Pending.Source.Media != change.SHA256 {
		t.Errorf("the server has %+v, want the approved 440 Hz version with An's 880 Hz change waiting, nothing of Hoa's", bs)
	}
	hoa.do(chromedp.Click(chromedp.CSS(`[data-test="stale-reload"]`)))
	hoa.waitGone(`#f-errors[data-stale="true"]`, time.Minute)
	if got := hoa.eval(`document.getElementById('f-media').value`); got != change.SHA256 {
		t.Errorf("after Mở lại the form shows recording %s, want An's change %s", got, change.SHA256)
	}
	hoa.checkConsole()

	// The leader, on a phone.
	lead := newBrowser(t, chromium, ctl.url)
	lead.do(chromedp.EmulateViewport(390, 844))
	lead.login("chu.tich", pwLead)
	lead.do(chromedp.Click(chromedp.CSS("#nav-toggle")))
	lead.wait("#nav-approvals-count", time.Minute)
	if got := lead.text("#nav-approvals-count"); got != "1" {
		t.Errorf("the menu counts %q bulletins waiting, want 1", got)
	}
	lead.shot("phone-menu-count")
	lead.open("approvals")
	lead.wait(`[data-test="approval-tin-sang"]`, time.Minute)
	if got := lead.text(`[data-test="submitted-tin-sang"]`); !strings.Contains(got, "Nguyễn Văn An") {
		t.Errorf("the card says it was submitted by %q, want Nguyễn Văn An", got)
	}
	if got := lead.text(`[data-test="recording-tin-sang"]`); got != "ban-tin-sua.wav" {
		t.Errorf("the card names the recording %q, want ban-tin-sua.wav", got)
	}
	if got := lead.text(`[data-test="airing-tin-sang"]`); !strings.Contains(got, "Bản tin sáng") {
		t.Errorf("the card says what airs meanwhile: %q", got)
	}
	lead.do(chromedp.Click(chromedp.CSS(`[data-test="return-tin-sang"]`)))
	lead.do(chromedp.Click(chromedp.CSS(`[data-test="return-send-tin-sang"]`))) // no comment yet
	lead.waitText(`[data-test="return-form-tin-sang"]`, "Hãy ghi góp ý", time.Minute)
	const comment = "Bản ghi mới bị rè, hãy thu lại"
	lead.do(chromedp.SendKeys(chromedp.CSS(`[data-test="return-comment-tin-sang"]`), comment))
	lead.shot("phone-send-back")
	lead.do(chromedp.Click(chromedp.CSS(`[data-test="return-send-tin-sang"]`)))
	lead.wait(`[data-test="returned-tin-sang"]`, time.Minute)
	lead.waitGone("#nav-approvals-count", time.Minute)
	lead.shot("phone-sent-back")
	lead.checkConsole()

	// An sees it sent back, with the comment and who sent it.
	an.open("dashboard") // the programme page is open: go away and back to read it again
	an.open("programme")
	an.wait(`[data-test="returned-note-tin-sang"]`, time.Minute)
	if got := an.text(`[data-test="returned-note-tin-sang"]`); !strings.Contains(got, comment) || !strings.Contains(got, "Trần Thị Bình") {
		t.Errorf("the officer reads %q, want the leader's comment and name", got)
	}
	an.shot("desk-sent-back")

	// The node plays the approved recording, not the change.
	rec := pulse.Record(t, "r1")
	occ := occurrenceID("tin-sang", airAt)
	ctl.waitPlays(t, occ, 4*time.Minute, func(e []playEvent) bool { return count(e, "finished") == 1 })
	s, _ := rec.Stop()
	if tn := audiotest.Analyze(s, audiotest.Rate); !tn.Found || math.Abs(audiotest.Dominant(s[tn.Onset:], audiotest.Rate, 300, 1000)-440) > 10 {
		t.Errorf("r1 played %+v (dominant %.0f Hz), want the approved 440 Hz recording", tn, audiotest.Dominant(s[tn.Onset:], audiotest.Rate, 300, 1000))
	}

	// The week calendar says it aired, at desktop and phone sizes.
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desk", 1280, 900}, {"phone", 390, 844}} {
		an.do(chromedp.EmulateViewport(size.w, size.h))
		an.open("dashboard")
		an.open("programme")
		an.waitText(`[data-test="occ-tin-sang"]`, "Đã phát", time.Minute)
		an.shot(fmt.Sprintf("%s-calendar-aired", size.name))
	}
	an.checkConsole()
}
