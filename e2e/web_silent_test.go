package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/communeradio/radio/internal/audiotest"
)

// Two clusters get the same bulletin: "loa" plays it through its sound card
// (a PulseAudio sink), "cam" has no sound device (its audio output is the
// silent sink, as on a box whose card is missing or failed). Both keep time
// and report; only "loa"'s play is aired. The browser warns of "cam" on
// the dashboard, the cluster list and its detail, and coverage, in
// Vietnamese with what to do; proof of play marks its records as not heard;
// coverage and the occurrence report do not count its play as aired.
func TestWebSilentNodeWarnedAndNotAired(t *testing.T) {
	chromium, dir, ctl := webCommune(t)
	pulse := audiotest.StartPulse(t, "loa")
	startNode(t, "loa", ctl.enrol(t, "loa", "z-center", dir, "oto"), pulse.Env("loa"))
	startNode(t, "cam", ctl.enrol(t, "cam", "z-center", dir, "silent"), nil)
	ctl.waitOnline(t, "loa", "cam")
	pw := ctl.createUser(t, "tinh.hcm", "Lê Văn Cường", "province", "p-79")

	rec := ctl.upload(t, tone(t, dir, 440, 2))
	airAt := time.Now().Add(12 * time.Second).Truncate(time.Second)
	ctl.putSchedule(t, "x-an-phu", fmt.Sprintf(`station st-1 Đài truyền thanh xã An Phú
bulletin ban-tin
  title Bản tin sáng
  source media %s
  target zone z-center
  status approved
  once %s
`, rec.SHA256, at(airAt)))
	occ := occurrenceID("ban-tin", airAt)
	ctl.waitPlays(t, occ, 2*time.Minute, func(e []playEvent) bool { return count(e, "finished") == 2 })

	// The API: the silent cluster's records say so, the other's do not.
	var evs []struct {
		NodeID string `json:"node_id"`
		Type   string `json:"type"`
		Silent bool   `json:"silent"`
	}
	ctl.mustCall(t, "GET", "/api/v1/plays?item="+occ, nil, &evs)
	for _, e := range evs {
		if e.Silent != (e.NodeID == "cam") {
			t.Errorf("proof of play %s %s: silent %v, want it only on cam", e.NodeID, e.Type, e.Silent)
		}
	}
	var report []struct{ Node, Status, Reason string }
	ctl.mustCall(t, "GET", "/api/v1/reports/occurrences?station=st-1", nil, &report)
	status := map[string]string{}
	for _, r := range report {
		status[r.Node] = r.Status
	}
	if status["loa"] != "played" || status["cam"] != "unheard" {
		t.Errorf("occurrence report %+v, want loa played and cam unheard", report)
	}
	var cov struct {
		Totals struct {
			Due, Aired, Missed, Unheard, Online int
			NoSound                             int `json:"no_sound"`
		} `json:"totals"`
	}
	ctl.mustCall(t, "GET", "/api/v1/coverage", nil, &cov)
	if c := cov.Totals; c.Due != 2 || c.Aired != 1 || c.Unheard != 1 || c.Online != 2 || c.NoSound != 1 {
		t.Errorf("coverage totals %+v, want 2 due, 1 aired, 1 unheard; 2 online, 1 with no sound", c)
	}

	const warn = "Cụm loa không có thiết bị âm thanh: kiểm tra card âm thanh / bộ khuếch đại"
	b := newBrowser(t, chromium, ctl.url)
	b.login("tinh.hcm", pw)

	// Dashboard: a banner and an alert naming cam, none for loa.
	b.wait("#dash-nosound", time.Minute)
	if got := b.text("#dash-nosound"); !strings.Contains(got, "1 cụm loa") || !strings.Contains(got, "kiểm tra card âm thanh / bộ khuếch đại") {
		t.Errorf("the dashboard's warning reads %q", got)
	}
	alerts := b.text(`[data-test="dash-alerts"]`)
	if !strings.Contains(alerts, "Không phát ra loa") || !strings.Contains(alerts, "Cụm loa cam") || !strings.Contains(alerts, warn) {
		t.Errorf("the dashboard's alerts read %q, want cam with no sound and what to do", alerts)
	}
	if strings.Contains(alerts, "Cụm loa loa") {
		t.Errorf("the dashboard warns of loa, which has a sound card: %q", alerts)
	}
	b.shot("desk-dashboard-no-sound")

	// Cluster list and cam's detail.
	b.open("nodes")
	b.wait(`[data-test="nosound-cam"]`, time.Minute)
	if b.has(`[data-test="nosound-loa"]`) {
		t.Error("the cluster list marks loa as having no sound")
	}
	b.do(chromedp.Click(chromedp.CSS(`tr[data-test="node-cam"] button.link-btn`)))
	b.wait("#node-nosound", time.Minute)
	if got := b.text("#node-nosound"); !strings.Contains(got, warn) {
		t.Errorf("cam's detail warns %q, want %q", got, warn)
	}
	b.shot("desk-node-no-sound")
	b.do(chromedp.Click(chromedp.CSS(`tr[data-test="node-loa"] button.link-btn`)))
	b.waitGone("#node-nosound", time.Minute)

	// Coverage: 1 of 2 aired, 1 not heard, the station flagged.
	b.open("coverage")
	b.wait(`tr[data-test="cov-station-st-1"]`, time.Minute)
	if got := b.text("#cov-total-aired"); !strings.Contains(got, "1/2") {
		t.Errorf("coverage's aired total reads %q, want 1/2", got)
	}
	if got := b.text("#cov-nosound"); !strings.Contains(got, "kiểm tra card âm thanh / bộ khuếch đại") {
		t.Errorf("coverage's warning reads %q", got)
	}
	if got := b.text(`tr[data-test="cov-station-st-1"]`); !strings.Contains(got, "2/2") || !strings.Contains(got, "1 không có âm thanh") || !strings.Contains(got, "1 không phát ra loa") {
		t.Errorf("st-1 reads %q, want 2/2 online, 1 with no sound, 1 play not heard", got)
	}
	b.shot("desk-coverage-no-sound")

	// Proof of play and the report.
	b.open("plays")
	b.wait(fmt.Sprintf(`tr[data-test="report-%s-cam"]`, occ), time.Minute)
	if got := b.text(fmt.Sprintf(`tr[data-test="report-%s-cam"]`, occ)); !strings.Contains(got, "Không phát ra loa") {
		t.Errorf("the report row of cam reads %q, want Không phát ra loa", got)
	}
	if got := b.text(fmt.Sprintf(`tr[data-test="report-%s-loa"]`, occ)); !strings.Contains(got, "Đã phát") {
		t.Errorf("the report row of loa reads %q, want Đã phát", got)
	}
	finished := b.eval(fmt.Sprintf(`[...document.querySelectorAll('tr[data-test="play-finished-%s"]')].map((r) => r.innerText.replace(/\s+/g, ' ')).join('\n')`, occ))
	for _, row := range strings.Split(finished, "\n") {
		if strings.Contains(row, "Cụm loa cam") != strings.Contains(row, "không phát ra loa") {
			t.Errorf("proof-of-play row %q: only cam's should say không phát ra loa", row)
		}
	}
	if !strings.Contains(finished, "Cụm loa cam") {
		t.Errorf("no finished row of cam in the proof of play: %q", finished)
	}
	b.shot("desk-plays-no-sound")

	// In English.
	b.open("dashboard")
	b.do(chromedp.Click(chromedp.CSS("#lang-toggle")))
	b.wait(`#main[data-ready="dashboard"] #dash-nosound`, time.Minute)
	b.waitText(`[data-test="dash-alerts"]`, "No sound", time.Minute)
	if got := b.text(`[data-test="dash-alerts"]`); !strings.Contains(got, "no sound device: check the sound card / amplifier") {
		t.Errorf("in English the alerts read %q", got)
	}
	b.do(chromedp.Click(chromedp.CSS("#lang-toggle")))
	b.checkConsole()
}
