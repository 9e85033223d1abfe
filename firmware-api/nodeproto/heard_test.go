package nodeproto

import "testing"

func TestEventHeardBounds(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	yes := true
	for _, tc := range []struct {
		name  string
		ev    Event
		valid bool
	}{
		{"not measured", Event{}, true},
		{"heard", Event{Heard: &yes, HeardCorr: f(0.97), HeardDB: f(-18.5), HeardBgDB: f(-120)}, true},
		{"correlation above 1", Event{Heard: &yes, HeardCorr: f(1.5)}, false},
		{"level above full scale", Event{Heard: &yes, HeardDB: f(12)}, false},
		{"level below the floor", Event{Heard: &yes, HeardBgDB: f(-400)}, false},
		{"a level without a verdict", Event{HeardDB: f(-20)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			ev.Seq, ev.Type, ev.At, ev.ID = 1, EventFinished, 1795420866003, "c-1"
			if err := ev.Validate(); (err == nil) != tc.valid {
				t.Fatalf("Validate() = %v, want valid %v", err, tc.valid)
			}
		})
	}
}
