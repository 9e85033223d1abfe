package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/communeradio/radio/internal/audiotest"
)

// A programme keeps a live slot (`source live`: the officer's daily
// announcement). The live page lists it; an officer takes it and speaks;
// the session carries the slot's occurrence id, so the node's proof of play
// and the occurrence report count the slot as aired. A second take of the
// same slot is a session of its own (nodes do not play an ended session
// again), and a slot that is not the caller's is refused.
func TestLiveSlotTakenAndReported(t *testing.T) {
	dir := t.TempDir()
	pulse := audiotest.StartPulse(t, "k1")
	ctl := startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	startNode(t, "k1", ctl.enrol(t, "k1", "z-center", dir, "oto"), pulse.Env("k1"))
	ctl.waitOnline(t, "k1")
	pw := ctl.createUser(t, "an", "Nguyễn Văn An", "officer", "x-an-phu")

	slotAt := time.Now().Add(5 * time.Second).Truncate(time.Second)
	ctl.putSchedule(t, "x-an-phu", fmt.Sprintf(`station st-1 Đài truyền thanh xã An Phú
bulletin thong-bao-truc-tiep
  title Thông báo trực tiếp của UBND xã
  source live
  target zone z-center
  status approved
  once %s
  duration 2m
`, at(slotAt)))
	occ := occurrenceID("thong-bao-truc-tiep", slotAt)

	web := webClient(t, ctl.url, "an", pw)
	code, body := web.call("GET", "/api/v1/live/slots", nil)
	var slots []struct{ Occurrence, Title, Priority, Target string }
	if json.Unmarshal([]byte(body), &slots); code != http.StatusOK || len(slots) != 1 || slots[0].Occurrence != occ || slots[0].Priority != "priority" {
		t.Fatalf("live slots: HTTP %d %s; want %s at priority", code, body, occ)
	}
	if code, body := web.call("POST", "/api/v1/live", map[string]string{"slot": "khong-co-20261207-000000"}); code != http.StatusNotFound {
		t.Errorf("an unknown slot: HTTP %d %s, want 404", code, body)
	}

	src := filepath.Join(dir, "voice.ogg")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000:duration=4",
		"-ac", "1", "-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-page_duration", "20000", "-f", "ogg", src).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	raw, _ := os.ReadFile(src)
	pages := oggPages(t, raw)
	speak := func() string {
		t.Helper()
		code, body := web.call("POST", "/api/v1/live", map[string]string{"slot": occ})
		var tk struct{ Session, WS string }
		if json.Unmarshal([]byte(body), &tk); code != http.StatusCreated {
			t.Fatalf("taking the slot: HTTP %d %s", code, body)
		}
		d := websocket.Dialer{Jar: web.c.Jar}
		conn, _, err := d.Dial("ws"+strings.TrimPrefix(ctl.url, "http")+tk.WS, http.Header{"Origin": {ctl.url}})
		if err != nil {
			t.Fatalf("socket: %v", err)
		}
		defer conn.Close()
		t0 := time.Now()
		for _, p := range pages {
			if p.end > 0 {
				time.Sleep(time.Until(t0.Add(time.Duration(p.end-312) * time.Second / 48000)))
			}
			if err := conn.WriteMessage(websocket.BinaryMessage, p.data); err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		conn.WriteMessage(websocket.TextMessage, []byte("stop"))
		for { // until the controller says it ended
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, m, err := conn.ReadMessage()
			if err != nil || strings.Contains(string(m), `"ended"`) {
				break
			}
		}
		return tk.Session
	}

	rec := pulse.Record(t, "k1")
	if s := speak(); s != occ {
		t.Fatalf("the slot's session is %q, want its occurrence id %s", s, occ)
	}
	evs := ctl.waitPlays(t, occ, time.Minute, func(e []playEvent) bool { return count(e, "finished") == 1 })
	s, _ := rec.Stop()
	if tn := audiotest.Analyze(s, audiotest.Rate); !tn.Found {
		t.Errorf("k1's sink heard nothing of the live slot")
	} else if hz := audiotest.Dominant(s[tn.Onset:], audiotest.Rate, 400, 900); hz < 650 || hz > 670 {
		t.Errorf("k1 heard %.1f Hz, want the officer's 660 Hz", hz)
	}
	if count(evs, "started") != 1 {
		t.Errorf("proof of play of %s: %+v", occ, evs)
	}
	var rows []struct {
		Occurrence, Node, Status string
	}
	day := slotAt.In(vn).Format("2006-01-02")
	ctl.mustCall(t, "GET", "/api/v1/reports/occurrences?station=st-1&from="+day+"T00:00:00%2B07:00&to="+day+"T23:59:59%2B07:00", nil, &rows)
	found := false
	for _, r := range rows {
		if r.Occurrence == occ && r.Node == "k1" {
			found = true
			if r.Status != "played" {
				t.Errorf("the report calls the live slot %q on k1, want played", r.Status)
			}
		}
	}
	if !found {
		t.Errorf("the report lacks the live slot %s: %+v", occ, rows)
	}

	// A second take: a session of its own, and not the slot's id again.
	if s := speak(); s == occ || !strings.HasPrefix(s, "live-") {
		t.Errorf("second take of the slot: session %q, want a new live- session", s)
	}
}
