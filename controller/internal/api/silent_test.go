package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
)

// A cluster with no sound device: its state says audio silent and its
// proof of play says so too. The dashboard, the node list and coverage
// warn of it, and neither coverage nor the report counts its play as aired.
func TestSilentNodeWarnedAndNotAired(t *testing.T) {
	e, admin, at, item := bulletinB(t)
	ctx := context.Background()
	if _, err := e.reg.InsertPlayEvents(ctx, []registry.PlayEvent{
		{NodeID: "n-b", Seq: 2, Type: "started", ItemID: item, At: at, Silent: true},
		{NodeID: "n-b", Seq: 3, Type: "finished", ItemID: item, At: at.Add(5 * time.Minute), PlayedMS: 300000, Silent: true},
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.UpsertNodeState(ctx, registry.NodeState{NodeID: "n-b", Online: true,
		State: json.RawMessage(`{"node":"n-b","online":true,"audio":"silent"}`), UpdatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}

	var cov Coverage
	get(t, e.do(admin, "GET", "/api/v1/coverage", nil), &cov)
	for _, s := range cov.Stations {
		if s.ID == "st-b" && (s.Due != 1 || s.Aired != 0 || s.Unheard != 1 || s.NoSound != 1 || s.Online != 1) {
			t.Errorf("coverage of st-b: %+v, want 1 due, 0 aired, 1 unheard, 1 of 1 online clusters with no sound", s)
		}
	}
	if cov.Totals.Unheard != 1 || cov.Totals.Aired != 0 || cov.Totals.NoSound != 1 {
		t.Errorf("coverage totals: %+v, want 1 unheard, none aired, 1 cluster with no sound", cov.Totals)
	}

	var rows []OccurrenceRow
	get(t, e.do(admin, "GET", y("/api/v1/reports/occurrences?station=st-b&from=2026-12-01T00:00:00%2B07:00&to=2026-12-02T00:00:00%2B07:00"), nil), &rows)
	if len(rows) != 1 || rows[0].Node != "n-b" || rows[0].Status != "unheard" || rows[0].Reason != noSoundReason {
		t.Errorf("report rows %+v, want n-b unheard", rows)
	}

	if r := e.do(admin, "GET", "/api/v1/plays.csv?node=n-b", nil); !strings.Contains(r.body, ",n-b,phát xong (không phát ra loa),") {
		t.Errorf("plays.csv does not say nobody heard n-b's play:\n%s", r.body)
	}
	if r := e.do(admin, "GET", y("/api/v1/reports/occurrences.csv?station=st-b&from=2026-12-01T00:00:00%2B07:00&to=2026-12-02T00:00:00%2B07:00"), nil); !strings.Contains(r.body, ",n-b,thông thường,không phát ra loa,") {
		t.Errorf("occurrences.csv does not say n-b's play was not heard:\n%s", r.body)
	}

	var d Dashboard
	get(t, e.do(admin, "GET", "/api/v1/dashboard", nil), &d)
	alerted := false
	for _, a := range d.Alerts {
		alerted = alerted || a.Kind == "no_sound" && a.Node == "n-b"
	}
	if d.NoSound != 1 || !alerted {
		t.Errorf("dashboard: no_sound %d, alerts %+v; want n-b warned of", d.NoSound, d.Alerts)
	}
	var nodes []NodeView
	get(t, e.do(admin, "GET", "/api/v1/nodes", nil), &nodes)
	for _, n := range nodes {
		if n.NoSound != (n.ID == "n-b") {
			t.Errorf("node %s: no_sound %v", n.ID, n.NoSound)
		}
	}
}

// get decodes a 200 answer.
func get(t *testing.T, r result, out any) {
	t.Helper()
	if r.status != 200 || json.Unmarshal([]byte(r.body), out) != nil {
		t.Fatalf("HTTP %d %s", r.status, r.body)
	}
}
