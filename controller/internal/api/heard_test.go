package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

// Coverage counts what the clusters' microphones heard apart from what
// played, and the occurrence report says it per node; a cluster with no
// microphone is "not measured", never "not heard".
func TestCoverageCountsHeardApart(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	b := func(v bool) *bool { return &v }
	for _, tc := range []struct {
		name                     string
		heard                    *bool
		want                     string
		heardN, notHeardN, notMN int
	}{
		{"heard", b(true), registry.HeardYes, 1, 0, 0},
		{"played, not heard", b(false), registry.HeardNo, 0, 1, 0},
		{"no microphone", nil, registry.HeardNotMeasured, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, admin, at, item := bulletinB(t)
			ctx := context.Background()
			fin := registry.PlayEvent{NodeID: "n-b", Seq: 3, Type: "finished", ItemID: item, At: at.Add(5 * time.Minute), PlayedMS: 300000}
			if tc.heard != nil {
				fin.Heard, fin.HeardCorr, fin.HeardDB, fin.HeardBgDB = tc.heard, f(0.91), f(-21.5), f(-60)
			}
			if _, err := e.reg.InsertPlayEvents(ctx, []registry.PlayEvent{
				{NodeID: "n-b", Seq: 2, Type: "started", ItemID: item, At: at}, fin}); err != nil {
				t.Fatal(err)
			}
			var cov Coverage
			get(t, e.do(admin, "GET", "/api/v1/coverage", nil), &cov)
			x := cov.Totals
			if x.Aired != 1 || x.Heard != tc.heardN || x.NotHeard != tc.notHeardN || x.NotMeasured != tc.notMN {
				t.Errorf("coverage totals %+v, want aired 1, heard %d, not heard %d, not measured %d", x.AirCounts, tc.heardN, tc.notHeardN, tc.notMN)
			}
			var rows []OccurrenceRow
			get(t, e.do(admin, "GET", y("/api/v1/reports/occurrences?station=st-b&from=2026-12-01T00:00:00%2B07:00&to=2026-12-02T00:00:00%2B07:00"), nil), &rows)
			if len(rows) != 1 || rows[0].Status != "played" || rows[0].Heard != tc.want {
				t.Fatalf("report rows %+v, want n-b played, heard %q", rows, tc.want)
			}
			if tc.heard != nil && (rows[0].HeardCorr == nil || *rows[0].HeardCorr != 0.91 || rows[0].HeardDB == nil || *rows[0].HeardDB != -21.5) {
				t.Errorf("report row measurement: corr %v db %v", rows[0].HeardCorr, rows[0].HeardDB)
			}
			csvWord := map[string]string{registry.HeardYes: "micrô nghe thấy", registry.HeardNo: "micrô không nghe thấy", registry.HeardNotMeasured: "chưa đo"}[tc.want]
			if r := e.do(admin, "GET", y("/api/v1/reports/occurrences.csv?station=st-b&from=2026-12-01T00:00:00%2B07:00&to=2026-12-02T00:00:00%2B07:00"), nil); !strings.Contains(r.body, ","+csvWord+"\r\n") && !strings.Contains(r.body, ","+csvWord+"\n") {
				t.Errorf("occurrences.csv does not end n-b's row with %q:\n%s", csvWord, r.body)
			}
			if r := e.do(admin, "GET", "/api/v1/plays.csv?node=n-b&type=finished", nil); tc.heard != nil && !strings.Contains(r.body, "phát xong ("+csvWord+")") {
				t.Errorf("plays.csv does not say %q:\n%s", csvWord, r.body)
			}
			if err := e.reg.UpsertNodeState(ctx, registry.NodeState{NodeID: "n-b", Online: true,
				State: json.RawMessage(`{"node":"n-b","online":true}`), UpdatedAt: e.clock.Now()}); err != nil {
				t.Fatal(err)
			}
			var dash Dashboard
			get(t, e.do(admin, "GET", "/api/v1/dashboard", nil), &dash)
			alerted := false
			for _, al := range dash.Alerts {
				alerted = alerted || al.Kind == "not_heard" && al.Node == "n-b" && al.Detail == notHeardReason
			}
			if alerted != (tc.want == registry.HeardNo) {
				t.Errorf("dashboard not_heard alert for n-b: %v, want %v (%+v)", alerted, tc.want == registry.HeardNo, dash.Alerts)
			}
			var plays []PlayRow
			get(t, e.do(admin, "GET", "/api/v1/plays?node=n-b&type=finished", nil), &plays)
			if len(plays) != 1 || (plays[0].Heard == nil) != (tc.heard == nil) || tc.heard != nil && *plays[0].Heard != *tc.heard {
				t.Errorf("proof of play %+v, want heard %v", plays, tc.heard)
			}
		})
	}
}

// bulletinB is the fixture (08:00 in Vietnam) with commune B's 06:30
// bulletin approved: the time it was due and its occurrence's id, which
// proof of play names.
func bulletinB(t *testing.T) (*env, *client, time.Time, string) {
	t.Helper()
	e := newEnv(t)
	admin := e.tokenClient()
	e.clock.Add(-2 * time.Hour) // approved at 06:00, before its 06:30 occurrence: that one is due
	if r := e.do(admin, "POST", "/api/v1/schedules/st-b/bulletins/tin-b/approve", nil); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	e.clock.Add(2 * time.Hour)
	return e, admin, time.Date(fixtureYear, 12, 1, 6, 30, 0, 0, schedule.Zone), y("tin-b-20261201-063000")
}
