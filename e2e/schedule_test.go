package e2e

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/internal/audiotest"
)

var vn = func() *time.Location {
	l, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		panic(err)
	}
	return l
}()

// at formats a time as a schedule file's "<date> <time>" in Vietnam time.
func at(t time.Time) string { return t.In(vn).Format("2006-01-02 15:04:05") }

// putSchedule saves a programme as one who read its current version
// (PUT replaces an existing programme only with If-Match).
func (c *controller) putSchedule(t *testing.T, name, src string) {
	t.Helper()
	get, _ := http.NewRequest("GET", c.url+"/api/v1/schedules/"+name, nil)
	get.Header.Set("Authorization", "Bearer "+c.token)
	cur, err := http.DefaultClient.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	cur.Body.Close()
	req, _ := http.NewRequest("PUT", c.url+"/api/v1/schedules/"+name, strings.NewReader(src))
	req.Header.Set("Authorization", "Bearer "+c.token)
	if v := cur.Header.Get("ETag"); cur.StatusCode == http.StatusOK && v != "" {
		req.Header.Set("If-Match", v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("saving schedule: HTTP %d %s", resp.StatusCode, b)
	}
}

// occurrenceID is the id nodes echo in proof of play for an occurrence.
func occurrenceID(item string, t time.Time) string {
	return item + "-" + t.In(vn).Format("20060102-150405")
}

// A programme with a normal bulletin and an emergency warning that cuts into
// it: on all three nodes the warning plays at its time and the bulletin
// resumes after it, heard in each sink; the report shows both as played.
func TestScheduleEmergencyCutsInAndBulletinResumes(t *testing.T) {
	dir := t.TempDir()
	nodes := []string{"s1", "s2", "s3"}
	pulse := audiotest.StartPulse(t, nodes...)
	ctl := startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	for _, id := range nodes {
		startNode(t, id, ctl.enrol(t, id, "z-center", dir, "oto"), pulse.Env(id))
	}
	ctl.waitOnline(t, nodes...)
	normal := ctl.upload(t, tone(t, dir, 440, 5))
	alarm := ctl.upload(t, tone(t, dir, 880, 1.5))

	start := time.Now().Add(12 * time.Second).Truncate(time.Second)
	cut := start.Add(2 * time.Second)
	src := fmt.Sprintf(`# Chương trình thử
station st-1 Đài truyền thanh xã An Phú
bulletin ban-tin
  title Bản tin sáng
  source media %s
  target zone z-center
  status approved
  on-interrupt resume
  once %s
bulletin canh-bao
  title Cảnh báo bão khẩn cấp
  source media %s
  target commune
  priority emergency
  once %s
`, normal.SHA256, at(start), alarm.SHA256, at(cut))
	ctl.putSchedule(t, "x-an-phu", src)

	recs := map[string]*audiotest.Recording{}
	for _, id := range nodes {
		recs[id] = pulse.Record(t, id)
	}
	bulletin, warning := occurrenceID("ban-tin", start), occurrenceID("canh-bao", cut)
	ctl.waitPlays(t, bulletin, 60*time.Second, func(e []playEvent) bool { return count(e, "finished") == 3 })
	time.Sleep(300 * time.Millisecond)
	for _, id := range nodes {
		var evs []playEvent
		ctl.mustCall(t, "GET", "/api/v1/plays?node="+id, nil, &evs)
		slices.Reverse(evs) // oldest first
		var seq []string
		for _, e := range evs {
			if e.ItemID == bulletin || e.ItemID == warning {
				seq = append(seq, e.Type+":"+strings.SplitN(e.ItemID, "-2", 2)[0])
			}
		}
		want := []string{"started:ban-tin", "interrupted:ban-tin", "started:canh-bao", "finished:canh-bao", "resumed:ban-tin", "finished:ban-tin"}
		if !slices.Equal(seq, want) {
			t.Errorf("%s: events %v, want %v", id, seq, want)
		}

		// What the sink heard: 440 Hz, then 880 Hz from the cut, then 440 Hz again.
		s, _ := recs[id].Stop()
		tone := audiotest.Analyze(s, audiotest.Rate)
		if !tone.Found {
			t.Errorf("%s: silent", id)
			continue
		}
		for _, seg := range audiotest.Segments(s, audiotest.Rate, 50*time.Millisecond) {
			t.Logf("%s: segment %.1f Hz from %v for %.3f s", id, seg.Freq, recs[id].TimeOf(seg.Onset).Sub(start), float64(seg.Length)/audiotest.Rate)
		}
		sampleAt := func(w time.Time) int {
			return int(w.Sub(recs[id].Started).Seconds() * audiotest.Rate)
		}
		for _, w := range []struct {
			from, to time.Time
			hz       float64
		}{
			{start.Add(300 * time.Millisecond), cut.Add(-300 * time.Millisecond), 440},
			{cut.Add(300 * time.Millisecond), cut.Add(1200 * time.Millisecond), 880},
			{cut.Add(1800 * time.Millisecond), cut.Add(4500 * time.Millisecond), 440},
		} {
			a, b := sampleAt(w.from), sampleAt(w.to)
			if a < 0 || b > len(s) {
				t.Errorf("%s: recording does not cover %v..%v", id, w.from, w.to)
				continue
			}
			got := audiotest.Dominant(s[a:b], audiotest.Rate, 300, 1000)
			if math.Abs(got-w.hz) > w.hz*0.02 {
				t.Errorf("%s: %.1f Hz from %v, want %v Hz", id, got, w.from.Sub(start), w.hz)
			}
		}
	}

	// The report: scheduled vs aired, per occurrence and node.
	var rows []struct {
		Occurrence, Node, Status string
	}
	ctl.mustCall(t, "GET", "/api/v1/reports/occurrences", nil, &rows)
	played := map[string]int{}
	for _, r := range rows {
		if r.Status == "played" {
			played[r.Occurrence]++
		}
	}
	if played[bulletin] != 3 || played[warning] != 3 {
		t.Errorf("report: %v played, want 3 of each; rows %+v", played, rows)
	}
}

// The broker (embedded in the controller) goes down before air time: the
// bulletin still plays from the nodes' own schedule and cache, and its
// proof of play reaches SQLite once the broker is back.
func TestScheduledBulletinPlaysWithBrokerDown(t *testing.T) {
	dir := t.TempDir()
	pulse := audiotest.StartPulse(t, "o1", "o2")
	mqttAddr := "127.0.0.1:" + stablePort(t) // survives the restart; see stablePort
	ctlDir := filepath.Join(dir, "ctl")
	ctl := startController(t, ctlDir, "-mqtt", mqttAddr)
	ctl.setupCommune(t)
	for _, id := range []string{"o1", "o2"} {
		startNode(t, id, ctl.enrol(t, id, "z-center", dir, "oto"), pulse.Env(id))
	}
	ctl.waitOnline(t, "o1", "o2")
	m := ctl.upload(t, tone(t, dir, 523, 2))
	start := time.Now().Add(10 * time.Second).Truncate(time.Second)
	ctl.putSchedule(t, "x-an-phu", fmt.Sprintf(`station st-1
bulletin trua
  title Thông báo buổi trưa
  source media %s
  target zone z-center
  status approved
  once %s
`, m.SHA256, at(start)))
	// Wait until both nodes hold the audio, then take the broker away.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ns []struct {
			ID    string `json:"id"`
			State struct {
				CacheBytes int64 `json:"cache_bytes"`
			} `json:"state"`
		}
		ctl.mustCall(t, "GET", "/api/v1/nodes", nil, &ns)
		ready := 0
		for _, n := range ns {
			if n.State.CacheBytes >= m.Size {
				ready++
			}
		}
		if ready == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes did not cache the bulletin: %+v", ns)
		}
		time.Sleep(200 * time.Millisecond)
	}
	recs := map[string]*audiotest.Recording{"o1": pulse.Record(t, "o1"), "o2": pulse.Record(t, "o2")}
	ctl.stop()
	time.Sleep(time.Until(start.Add(3 * time.Second)))

	for id, r := range recs {
		s, _ := r.Stop()
		tone := audiotest.Analyze(s, audiotest.Rate)
		onset := r.Started.Add(time.Duration(tone.Onset) * time.Second / audiotest.Rate)
		if !tone.Found || math.Abs(audiotest.Dominant(s[tone.Onset:], audiotest.Rate, 400, 700)-523) > 10 || onset.Sub(start).Abs() > 300*time.Millisecond {
			t.Errorf("%s with no broker: %+v, onset %v from air time", id, tone, onset.Sub(start))
		}
	}
	// Broker back (the controller restarts on the same data and port).
	ctl = startController(t, ctlDir, "-mqtt", mqttAddr)
	occ := occurrenceID("trua", start)
	ctl.waitPlays(t, occ, 60*time.Second, func(e []playEvent) bool { return count(e, "finished") == 2 })
	rows := sqliteRows(t, ctlDir, "SELECT node_id, type FROM play_events WHERE item_id = ? ORDER BY node_id, seq", occ)
	if len(rows) != 4 {
		t.Errorf("SQLite has %d rows for %s, want started+finished for 2 nodes: %v", len(rows), occ, rows)
	}
}
