package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/internal/audiotest"
)

// Proof that people heard it (issue 13, done-when 5). "loa" plays through
// its PulseAudio sink and captures that sink's monitor, as a box with a
// line-in tapped after the amplifier: its first bulletin is heard (high
// correlation, a level stated). Then its capture is muted, as a cut speaker
// cable leaves the line silent: the second bulletin is played but not
// heard. "khong-mic" has no capture: its plays are "not measured", never
// "not heard". Proof of play, the occurrence report and coverage say so
// through the API and in the browser.
func TestHeardThenCaptureMuted(t *testing.T) {
	chromium, dir, ctl := webCommune(t)
	pulse := audiotest.StartPulse(t, "loa", "khong-mic")
	cfg := ctl.enrol(t, "loa", "z-center", dir, "oto")
	setConfig(t, cfg, "capture_device", "default")
	startNode(t, "loa", cfg, append(pulse.Env("loa"), "PULSE_SOURCE=loa.monitor"))
	startNode(t, "khong-mic", ctl.enrol(t, "khong-mic", "z-center", dir, "oto"), pulse.Env("khong-mic"))
	ctl.waitOnline(t, "loa", "khong-mic")

	rec := ctl.upload(t, speech(t, dir, "Thông báo của Ủy ban nhân dân xã An Phú. Sáng mai, các hộ gia đình mang thẻ bảo hiểm y tế đến trạm y tế xã để khám sức khỏe."))
	first := time.Now().Add(15 * time.Second).Truncate(time.Second)
	second := first.Add(20 * time.Second)
	ctl.putSchedule(t, "x-an-phu", fmt.Sprintf(`station st-1 Đài truyền thanh xã An Phú
bulletin tin-1
  title Bản tin sáng
  source media %[1]s
  target zone z-center
  status approved
  once %[2]s
bulletin tin-2
  title Bản tin trưa
  source media %[1]s
  target zone z-center
  status approved
  once %[3]s
`, rec.SHA256, at(first), at(second)))
	occ1, occ2 := occurrenceID("tin-1", first), occurrenceID("tin-2", second)

	ctl.waitPlays(t, occ1, 2*time.Minute, func(e []playEvent) bool { return count(e, "finished") == 2 })
	// The speaker cable is cut: loa's capture hears nothing from now on.
	mute := exec.Command("pactl", "set-source-mute", "loa.monitor", "1")
	mute.Env = append(os.Environ(), pulse.Env("loa")...)
	if b, err := mute.CombinedOutput(); err != nil {
		t.Fatalf("pactl: %v %s", err, b)
	}
	ctl.waitPlays(t, occ2, 2*time.Minute, func(e []playEvent) bool { return count(e, "finished") == 2 })

	// Proof of play.
	type heardEvent struct {
		NodeID    string   `json:"node_id"`
		Type      string   `json:"type"`
		Heard     *bool    `json:"heard"`
		HeardCorr *float64 `json:"heard_corr"`
		HeardDB   *float64 `json:"heard_db"`
		HeardBgDB *float64 `json:"heard_bg_db"`
	}
	finished := func(occ string) map[string]heardEvent {
		var evs []heardEvent
		ctl.mustCall(t, "GET", "/api/v1/plays?type=finished&item="+occ, nil, &evs)
		out := map[string]heardEvent{}
		for _, e := range evs {
			out[e.NodeID] = e
		}
		return out
	}
	str := func(e heardEvent) string {
		b, _ := json.Marshal(e)
		return string(b)
	}
	f1, f2 := finished(occ1), finished(occ2)
	t.Logf("first bulletin: loa %s; khong-mic %s", str(f1["loa"]), str(f1["khong-mic"]))
	t.Logf("second bulletin (capture muted): loa %s", str(f2["loa"]))
	if e := f1["loa"]; e.Heard == nil || !*e.Heard || e.HeardCorr == nil || *e.HeardCorr < 0.6 || e.HeardDB == nil || *e.HeardDB < -40 ||
		e.HeardBgDB == nil || *e.HeardBgDB > *e.HeardDB-20 {
		t.Errorf("loa's first play: %s, want heard, correlation >= 0.6 (the threshold is 0.3), level above -40 dBFS and well above the background", str(e))
	}
	if e := f2["loa"]; e.Heard == nil || *e.Heard || e.HeardCorr == nil || *e.HeardCorr >= 0.3 || e.HeardDB == nil {
		t.Errorf("loa's play with its capture muted: %s, want played but not heard, its level stated", str(e))
	}
	for _, f := range []map[string]heardEvent{f1, f2} {
		if e, ok := f["khong-mic"]; !ok || e.Heard != nil || e.HeardCorr != nil {
			t.Errorf("khong-mic (no capture): %s, want a finished play, not measured", str(e))
		}
	}

	// The occurrence report and coverage.
	var report []struct{ Occurrence, Node, Status, Heard string }
	ctl.mustCall(t, "GET", "/api/v1/reports/occurrences?station=st-1", nil, &report)
	got := map[string]string{}
	for _, r := range report {
		got[r.Occurrence+" "+r.Node] = r.Status + "/" + r.Heard
	}
	for key, want := range map[string]string{occ1 + " loa": "played/heard", occ2 + " loa": "played/not heard",
		occ1 + " khong-mic": "played/not measured", occ2 + " khong-mic": "played/not measured"} {
		if got[key] != want {
			t.Errorf("report %s: %q, want %q", key, got[key], want)
		}
	}
	var cov struct {
		Totals struct {
			Due, Aired  int
			Heard       int `json:"heard"`
			NotHeard    int `json:"not_heard"`
			NotMeasured int `json:"not_measured"`
		} `json:"totals"`
	}
	ctl.mustCall(t, "GET", "/api/v1/coverage", nil, &cov)
	if c := cov.Totals; c.Due != 4 || c.Aired != 4 || c.Heard != 1 || c.NotHeard != 1 || c.NotMeasured != 2 {
		t.Errorf("coverage totals %+v, want 4 due and aired: 1 heard, 1 not heard, 2 not measured", c)
	}

	// The browser.
	pw := ctl.createUser(t, "tinh.hcm", "Lê Văn Cường", "province", "p-79")
	b := newBrowser(t, chromium, ctl.url)
	b.login("tinh.hcm", pw)
	// The dashboard names loa: its last play was not heard.
	b.waitText(`[data-test="dash-alerts"]`, "Phát nhưng không nghe thấy", time.Minute)
	if got := b.text(`[data-test="dash-alerts"]`); !strings.Contains(got, "Cụm loa loa") || strings.Contains(got, "Cụm loa khong-mic") {
		t.Errorf("the dashboard's alerts read %q, want loa not heard, nothing of khong-mic", got)
	}
	b.open("coverage")
	b.wait("#cov-total-heard", time.Minute)
	if got := b.text("#cov-total-heard"); !strings.Contains(got, "1/4") || !strings.Contains(got, "1 phát nhưng không nghe thấy") || !strings.Contains(got, "2 chưa đo") {
		t.Errorf("coverage's heard total reads %q, want 1/4, 1 played but not heard, 2 not measured", got)
	}
	if got := b.text(`tr[data-test="cov-station-st-1"]`); !strings.Contains(got, "1 không nghe thấy") {
		t.Errorf("st-1 reads %q, want its play not heard flagged", got)
	}
	b.shot("desk-coverage-heard")
	b.open("plays")
	for occ, want := range map[string]map[string]string{occ1: {"loa": "Đã nghe thấy", "khong-mic": "Chưa đo"},
		occ2: {"loa": "Phát nhưng không nghe thấy", "khong-mic": "Chưa đo"}} {
		for node, text := range want {
			sel := fmt.Sprintf(`tr[data-test="report-%s-%s"]`, occ, node)
			b.wait(sel, time.Minute)
			if got := b.text(sel); !strings.Contains(got, text) {
				t.Errorf("report row %s reads %q, want %q", sel, got, text)
			}
		}
	}
	rows := b.eval(fmt.Sprintf(`[...document.querySelectorAll('tr[data-test="play-finished-%s"]')].map((r) => r.innerText.replace(/\s+/g, ' ')).join('\n')`, occ1))
	for _, row := range strings.Split(rows, "\n") {
		if strings.Contains(row, "Cụm loa loa") && !strings.Contains(row, "Đã nghe thấy") ||
			strings.Contains(row, "Cụm loa khong-mic") && !strings.Contains(row, "Chưa đo") {
			t.Errorf("proof-of-play row %q: loa should read heard, khong-mic not measured", row)
		}
	}
	b.shot("desk-plays-heard")
	b.checkConsole()
}

// speech is a bulletin spoken by espeak-ng's Vietnamese voice, as a WAV file:
// speech, with its pauses, is what a microphone has to recognise.
func speech(t *testing.T, dir, text string) string {
	t.Helper()
	out := filepath.Join(dir, "ban-tin.wav")
	if b, err := exec.Command("espeak-ng", "-v", "vi", "-w", out, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng (run make test, which installs it): %v %s", err, b)
	}
	return out
}

// setConfig sets one field of a node's config file.
func setConfig(t *testing.T, path, key string, value any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg[key] = value
	b, _ = json.Marshal(cfg)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
