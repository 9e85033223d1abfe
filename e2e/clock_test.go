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

// Two boxes boot with a wrong clock and their only clock source is the
// system's NTP state, not yet synchronised (the test's stand-in for
// timesyncd's flag file does not exist): "behind" has no real-time clock
// (-clock-offset -8760h: a year behind), "ahead" a clock 3 minutes fast (it
// would take every slot of the next minutes for missed, and play a
// command's play_at at once). Neither plays anything time-bound: a play
// with a play_at is refused with `clock`, a programme slot falling due is
// not played, their State says "unsynced". Then NTP synchronises (the flag
// file appears, the clocks step): the slot that fell due plays late, only
// after the step, and the next slot plays on time, as heard on each node's
// PulseAudio sink.
func TestUnsetClockPlaysNothingTimedUntilSynchronised(t *testing.T) {
	dir := t.TempDir()
	offsets := map[string]string{"behind": "-8760h", "ahead": "3m"}
	ids := []string{"behind", "ahead"}
	pulse := audiotest.StartPulse(t, ids...)
	ctl := startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	syncFile := filepath.Join(dir, "synchronized")
	nodes := map[string]*proc{}
	for _, id := range ids {
		cfgPath := ctl.enrol(t, id, "z-center", dir, "oto")
		var cfg map[string]any
		b, _ := os.ReadFile(cfgPath)
		json.Unmarshal(b, &cfg)
		cfg["clock_sources"] = []string{"system"}
		cfg["clock_sync_file"] = syncFile
		b, _ = json.Marshal(cfg)
		os.WriteFile(cfgPath, b, 0o600)
		nodes[id] = start(t, id, pulse.Env(id), bin+"/radio-node", "-config", cfgPath, "-clock-offset", offsets[id])
	}
	ctl.waitOnline(t, ids...)
	for _, id := range ids {
		nodes[id].wait(t, `clock not synchronised`, 10*time.Second)
		if c := nodeClock(t, ctl, id); c != "unsynced" {
			t.Fatalf("%s: state clock %q, want unsynced", id, c)
		}
	}

	early := ctl.upload(t, tone(t, dir, 440, 1))
	onTime := ctl.upload(t, tone(t, dir, 880, 1))
	recs := map[string]*audiotest.Recording{}
	for _, id := range ids {
		recs[id] = pulse.Record(t, id)
	}
	var play struct {
		Command string `json:"command"`
	}
	ctl.mustCall(t, "POST", "/api/v1/play", map[string]any{"zone": "z-center", "media": early.SHA256, "delay_ms": 2000}, &play)

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

	// The play command is refused: the nodes cannot judge its expiry.
	var cmd struct {
		Replies []struct {
			NodeID string `json:"node_id"`
			OK     bool   `json:"ok"`
			Code   int    `json:"code"`
		} `json:"replies"`
	}
	for deadline := time.Now().Add(20 * time.Second); len(cmd.Replies) < len(ids) && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctl.mustCall(t, "GET", "/api/v1/commands/"+play.Command, nil, &cmd)
	}
	if len(cmd.Replies) != len(ids) {
		t.Errorf("replies to a timed play while unsynchronised: %+v, want one from each node", cmd.Replies)
	}
	for _, r := range cmd.Replies {
		if r.OK || r.Code != 1014 {
			t.Errorf("%s answered a timed play while unsynchronised with %+v, want a refusal with clock (1014)", r.NodeID, r)
		}
	}

	// The first slot's time passes: nothing plays, nothing is given up.
	time.Sleep(time.Until(first.Add(4 * time.Second)))
	var evs []playEvent
	ctl.mustCall(t, "GET", "/api/v1/plays", nil, &evs)
	if len(evs) != 0 {
		t.Errorf("proof of play while unsynchronised: %+v, want none", evs)
	}
	for _, id := range ids {
		if c := nodeClock(t, ctl, id); c != "unsynced" {
			t.Errorf("%s: state clock %q after its slot's time, want unsynced", id, c)
		}
	}

	// NTP synchronises: the flag file appears, the simulated clocks step.
	synced := time.Now()
	if err := os.WriteFile(syncFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		nodes[id].wait(t, `clock synchronised`, 30*time.Second)
	}
	ctl.waitPlays(t, secondID, time.Minute, func(e []playEvent) bool { return count(e, "finished") == len(ids) })
	time.Sleep(300 * time.Millisecond)
	for _, id := range ids {
		s, err := recs[id].Stop()
		if err != nil {
			t.Fatal(err)
		}
		segs := audiotest.Segments(s, audiotest.Rate, 50*time.Millisecond)
		var heard []string
		for _, seg := range segs {
			when := recs[id].TimeOf(seg.Onset)
			heard = append(heard, fmt.Sprintf("%.0f Hz at %v", seg.Freq, when.Sub(first)))
			switch {
			case math.Abs(seg.Freq-440) < 10:
				if when.Before(synced) {
					t.Errorf("%s: the first slot was heard %v before the clock was synchronised", id, synced.Sub(when))
				}
			case math.Abs(seg.Freq-880) < 18:
				if d := when.Sub(second); d < -20*time.Millisecond || d > 20*time.Millisecond {
					t.Errorf("%s: the slot after the sync was heard %v from its time", id, d)
				}
			}
		}
		t.Logf("%s heard: %v", id, heard)
		if len(segs) != 2 {
			t.Errorf("%s heard %v, want the late first slot (440 Hz) after the sync, then the second (880 Hz) on time", id, heard)
		}
		if c := nodeClock(t, ctl, id); c != "synced" {
			t.Errorf("%s: state clock %q at the end, want synced", id, c)
		}
	}
	ctl.mustCall(t, "GET", "/api/v1/plays?item="+firstID, nil, &evs)
	if count(evs, "started") != len(ids) {
		t.Errorf("first slot's proof of play %+v, want it started once on each node (late, after the sync)", evs)
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
