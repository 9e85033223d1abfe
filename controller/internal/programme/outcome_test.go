package programme

import (
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

// What the report and coverage make of a node's records of one occurrence.
func TestOutcome(t *testing.T) {
	at := time.Date(2026, 12, 1, 6, 30, 0, 0, schedule.Zone)
	o := schedule.Occurrence{At: at, End: at.Add(time.Minute)}
	after := at.Add(time.Hour)         // well past its end
	during := at.Add(30 * time.Second) // on air
	ev := func(typ string, silent bool) registry.PlayEvent {
		return registry.PlayEvent{Type: typ, At: at, PlayedMS: 60000, Silent: silent}
	}
	gaps := func(typ string, gapMS int64) registry.PlayEvent {
		return registry.PlayEvent{Type: typ, At: at, PlayedMS: 60000, Gaps: 3, GapMS: gapMS}
	}
	for _, tc := range []struct {
		name   string
		evs    []registry.PlayEvent
		relay  string
		now    time.Time
		want   string
		reason string
	}{
		{"through a sound device", []registry.PlayEvent{ev("started", false), ev("finished", false)}, "", after, Played, ""},
		{"into the silent sink", []registry.PlayEvent{ev("started", true), ev("finished", true)}, "", after, Unheard, NoSoundReason},
		{"device failed while playing", []registry.PlayEvent{ev("started", false), ev("finished", true)}, "", after, Unheard, NoSoundReason},
		{"cut short, silent", []registry.PlayEvent{ev("started", true), ev("interrupted", true)}, "", after, Unheard, NoSoundReason},
		{"on air, silent", []registry.PlayEvent{ev("started", true)}, "", during, Unheard, NoSoundReason},
		{"failed, however marked", []registry.PlayEvent{ev("failed", true)}, "", after, Missed, ""},
		{"interrupted", []registry.PlayEvent{ev("started", false), {Type: "interrupted", PlayedMS: 2000, Reason: "stopped"}}, "", after, Partly, "stopped"},
		{"on air", []registry.PlayEvent{ev("started", false)}, "", during, Playing, ""},
		{"started, no end, past its end", []registry.PlayEvent{ev("started", false)}, "", after, Partly, "started, but the node never reported its end"},
		{"no report yet", nil, "", during, Upcoming, ""},
		{"no report, past its end", nil, "", after, Missed, "no report from the node"},
		{"relay, a few holes", []registry.PlayEvent{ev("started", false), gaps("finished", 300)}, "", after, Played, ""},
		{"relay, holes in half of it", []registry.PlayEvent{ev("started", false), gaps("finished", 30000)}, "", after, Partly, "audio missing for 30s of 1m0s"},
		{"relay that never got audio", []registry.PlayEvent{ev("started", false), gaps("finished", 60000)}, "", after, Missed, "no audio reached the node: 1m0s of 1m0s played as silence"},
		{"relay the controller could not air", []registry.PlayEvent{ev("started", false), gaps("finished", 60000)}, "source unreachable", after, Missed, "source unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Outcome(Fold(tc.evs), o, tc.relay, tc.now)
			if got.Status != tc.want || got.Reason != tc.reason {
				t.Errorf("Outcome = %q (%q), want %q (%q)", got.Status, got.Reason, tc.want, tc.reason)
			}
		})
	}
}
