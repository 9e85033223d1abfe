package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/communeradio/radio/internal/audiotest"
)

// A box boots with its clock a year behind (no real-time clock: the node
// runs with -clock-offset -8760h) and its only clock source is the
// system's NTP state, not yet synchronised (the test's stand-in for
// timesyncd's flag file does not exist). It plays nothing time-bound: a
// play with a play_at is refused with `clock`, a programme slot falling due
// is not played, its State says "unsynced". Then NTP synchronises (the flag
// file appears, the clock steps): the slot that fell due plays (late, only
// after the step), and the next slot plays on time, as heard on the node's
// PulseAudio sink.
func TestUnsetClockPlaysNothingTimedUntilSynchronised(t *testing.T) {
	dir := t.TempDir()
	pulse := audiotest.StartPulse(t, "rtc")
	ctl := startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	cfgPath := ctl.enrol(t, "rtc", "z-center", dir, "oto")
	syncFile := filepath.Join(dir, "synchronized")
	var cfg map[string]any
	b, _ := os.ReadFile(cfgPath)
	json.Unmarshal(b, &cfg)
	cfg["clock_sources"] = []string{"system"}
	cfg["clock_sync_file"] = syncFile
	b, _ = json.Marshal(cfg)
	os.WriteFile(cfgPath, b, 0o600)
	node := start(t, "rtc", pulse.Env("rtc"), bin+"/radio-node", "-config", cfgPath, "-clock-offset", "-8760h")
	ctl.waitOnline(t, "rtc")
	node.wait(t, `clock not synchronised`, 10*time.Second)
	if c := nodeClock(t, ctl, "rtc"); c != "unsynced" {
		t.Fatalf("node state clock %q, want unsynced", c)
	}

	early := ctl.upload(t, tone(t, dir, 440, 1))
	onTime := ctl.upload(t, tone(t, dir, 880, 1))
	rec := pulse.Record(t, "rtc")
	var play struct {
		Command string `json:"command"`
	}
	ctl.mustCall(t, "POST", "/api/v1/play", map[string]any{"node": "rtc", "media": early.SHA256, "delay_ms": 2000}, &play)

	first := time.Now().Add(12 * time.Second).Truncate(time.Second)
	second := first.Add(30 * time.Second)
	ctl.putSchedule(t, "x-an-phu", fmt.Sprintf(`station st-1 Đài truyền thanh xã An Phú
bulletin truoc
  title Bản tin lúc đồng hồ chưa đúng
  source media %s
  target zone z-center
  status approved
  once %s
bulletin sau
  title Bản tin sau khi đồng bộ
  source media %s
  target zone z-center
  status approved
  once %s
`, early.SHA256, at(first), onTime.SHA256, at(second)))
	firstID, secondID := occurrenceID("truoc", first), occurrenceID("sau", second)

	// The play command is refused: the node cannot judge its expiry.
	var cmd struct {
		Replies []struct {
			OK   bool `json:"ok"`
			Code int  `json:"code"`
		} `json:"replies"`
	}
	for deadline := time.Now().Add(20 * time.Second); len(cmd.Replies) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctl.mustCall(t, "GET", "/api/v1/commands/"+play.Command, nil, &cmd)
	}
	if len(cmd.Replies) != 1 || cmd.Replies[0].OK || cmd.Replies[0].Code != 1014 {
		t.Errorf("replies to a timed play while unsynchronised: %+v, want one refusal with clock (1014)", cmd.Replies)
	}

	// The first slot's time passes: nothing plays.
	time.Sleep(time.Until(first.Add(4 * time.Second)))
	var evs []playEvent
	ctl.mustCall(t, "GET", "/api/v1/plays?node=rtc", nil, &evs)
	if len(evs) != 0 {
		t.Errorf("proof of play while unsynchronised: %+v, want none", evs)
	}
	if c := nodeClock(t, ctl, "rtc"); c != "unsynced" {
		t.Errorf("node state clock %q after its slot's time, want unsynced", c)
	}

	// NTP synchronises: the flag file appears, the simulated clock steps.
	synced := time.Now()
	if err := os.WriteFile(syncFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	node.wait(t, `clock synchronised`, 30*time.Second)
	ctl.waitPlays(t, secondID, time.Minute, func(e []playEvent) bool { return count(e, "finished") == 1 })
	time.Sleep(300 * time.Millisecond)
	s, err := rec.Stop()
	if err != nil {
		t.Fatal(err)
	}
	segs := audiotest.Segments(s, audiotest.Rate, 50*time.Millisecond)
	var heard []string
	for _, seg := range segs {
		when := rec.TimeOf(seg.Onset)
		heard = append(heard, fmt.Sprintf("%.0f Hz at %v", seg.Freq, when.Sub(first)))
		switch {
		case math.Abs(seg.Freq-440) < 10:
			if when.Before(synced) {
				t.Errorf("the first slot was heard %v before the clock was synchronised", synced.Sub(when))
			}
		case math.Abs(seg.Freq-880) < 18:
			if d := when.Sub(second); d < -20*time.Millisecond || d > 20*time.Millisecond {
				t.Errorf("the slot after the sync was heard %v from its time", d)
			}
		}
	}
	t.Logf("heard: %v", heard)
	if len(segs) != 2 {
		t.Errorf("heard %v, want the late first slot (440 Hz) after the sync, then the second (880 Hz) on time", heard)
	}
	ctl.mustCall(t, "GET", "/api/v1/plays?item="+firstID, nil, &evs)
	if count(evs, "started") != 1 {
		t.Errorf("first slot's proof of play %+v, want it started once (late, after the sync)", evs)
	}
	if c := nodeClock(t, ctl, "rtc"); c != "synced" {
		t.Errorf("node state clock %q at the end, want synced", c)
	}
}

func nodeClock(t *testing.T, ctl *controller, id string) string {
	t.Helper()
	var n struct {
		State struct {
			Clock string `json:"clock"`
		} `json:"state"`
	}
	ctl.mustCall(t, "GET", "/api/v1/nodes/"+id, nil, &n)
	return n.State.Clock
}
