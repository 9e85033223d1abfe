package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Two clusters report their health: "hc" has a CPU at 48.5 °C, a 4G modem
// (ModemManager's answer given by a stand-in mmcli) and a clock that is
// not synchronised (its only source, NTP's flag, never appears); "ok" has
// no modem and its clock set from the controller's time. The cluster page
// shows each one's health in Vietnamese, warns of hc's clock and marks it
// in the list; the metrics count one unsynchronised node and the hottest
// CPU.
func TestWebNodeHealth(t *testing.T) {
	chromium, dir, ctl := webCommune(t)
	mmcli := filepath.Join(dir, "mmcli")
	os.WriteFile(mmcli, []byte("#!/bin/sh\ncat <<'EOF'\nmodem.generic.access-technologies.value[1]       : lte\nmodem.generic.signal-quality.value               : 67\nmodem.generic.signal-quality.recent              : yes\nmodem.3gpp.operator-name                         : Viettel\nEOF\n"), 0o755)
	setup := func(id, temp string, extra map[string]any) string {
		path := ctl.enrol(t, id, "z-center", dir, "silent")
		var cfg map[string]any
		b, _ := os.ReadFile(path)
		json.Unmarshal(b, &cfg)
		thermal := filepath.Join(dir, id+"-temp")
		os.WriteFile(thermal, []byte(temp+"\n"), 0o644)
		cfg["thermal_path"] = thermal
		cfg["modem_command"] = filepath.Join(dir, "no-mmcli-here")
		for k, v := range extra {
			cfg[k] = v
		}
		b, _ = json.Marshal(cfg)
		os.WriteFile(path, b, 0o600)
		return path
	}
	hc := setup("hc", "48500", map[string]any{"modem_command": mmcli, "clock_sources": []string{"system"}, "clock_sync_file": filepath.Join(dir, "never")})
	start(t, "hc", nil, bin+"/radio-node", "-config", hc, "-clock-offset", "-1h")
	startNode(t, "ok", setup("ok", "40000", nil), nil)
	ctl.waitOnline(t, "hc", "ok")
	for deadline := time.Now().Add(30 * time.Second); nodeClock(t, ctl, "ok") != "synced"; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("ok's clock not synchronised from the controller's time within 30 s")
		}
	}

	fams := ctl.scrape(t)
	if got, _ := metric(fams, "radio_nodes_clock_unsynced"); got != 1 {
		t.Errorf("radio_nodes_clock_unsynced = %v, want 1 (hc)", got)
	}
	if got, _ := metric(fams, "radio_node_cpu_temp_max_celsius"); got != 48.5 {
		t.Errorf("radio_node_cpu_temp_max_celsius = %v, want 48.5 (hc)", got)
	}

	pw := ctl.createUser(t, "canbo.hc", "Trần Thị Bình", "officer", "x-an-phu")
	b := newBrowser(t, chromium, ctl.url)
	b.login("canbo.hc", pw)
	b.open("nodes")
	b.wait(`[data-test="unsynced-hc"]`, time.Minute)
	if b.has(`[data-test="unsynced-ok"]`) {
		t.Error("the cluster list marks ok's clock as unsynchronised")
	}
	b.do(chromedp.Click(chromedp.CSS(`tr[data-test="node-hc"] button.link-btn`)))
	b.wait("#node-unsynced", time.Minute)
	if got := b.text("#node-unsynced"); !strings.Contains(got, "chưa phát bản tin hẹn giờ") {
		t.Errorf("hc's clock warning reads %q", got)
	}
	health := b.text(`[data-test="node-health"]`)
	for _, want := range []string{"Tình trạng thiết bị", "Đồng hồ chưa đồng bộ", "48.5 °C", "67% (lte, Viettel)", "Bộ nhớ còn trống", "Thời gian hoạt động"} {
		if !strings.Contains(health, want) {
			t.Errorf("hc's health reads %q, want %q in it", health, want)
		}
	}
	b.shot("desk-node-health-unsynced")
	b.do(chromedp.Click(chromedp.CSS(`tr[data-test="node-ok"] button.link-btn`)))
	b.waitGone("#node-unsynced", time.Minute)
	health = b.text(`[data-test="node-health"]`)
	for _, want := range []string{"Đã đồng bộ", "40.0 °C", "Không có modem"} {
		if !strings.Contains(health, want) {
			t.Errorf("ok's health reads %q, want %q in it", health, want)
		}
	}
	if got := b.text("#map-detail"); strings.Contains(got, "null") {
		t.Errorf("ok's detail shows a stray null: %q", got)
	}
	b.shot("desk-node-health-ok")
	b.checkConsole()
}
