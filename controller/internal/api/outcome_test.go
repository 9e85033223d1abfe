package api

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/communeradio/radio/controller/internal/programme"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

// The occurrence report and coverage read the same records the same way:
// one commune bulletin at 07:00 (5 min), seen at 08:00 on clusters that
// played it through, started it and never said more, played it into a
// silent sink, relayed nothing but holes, said nothing; a revoked cluster
// and one enrolled at 07:30 are not asked to have played it.
func TestReportAndCoverageAgree(t *testing.T) {
	e := newEnv(t) // 08:00 in Vietnam
	ctx := context.Background()
	admin := e.tokenClient()
	at := time.Date(fixtureYear, 12, 1, 7, 0, 0, 0, schedule.Zone)
	early := e.clock.Now().AddDate(0, -1, 0)
	for id, since := range map[string]time.Time{"n-fin": early, "n-open": early, "n-silent": early, "n-holes": early,
		"n-some-holes": early, "n-quiet": early, "n-revoked": early, "n-late": at.Add(30 * time.Minute)} {
		if err := e.reg.CreateNode(ctx, registry.Node{ID: id, StationID: "st-a", CreatedAt: since}, []byte("hash")); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.reg.RevokeNode(ctx, "n-revoked"); err != nil {
		t.Fatal(err)
	}
	// Written and approved at 06:00: what is due is recorded when planned.
	e.clock.Add(-2 * time.Hour)
	if r := e.do(admin, "PUT", "/api/v1/schedules/st-a/bulletins/tin-a", map[string]any{"id": "tin-a", "title": "Tin A",
		"source": map[string]any{"kind": "media", "media": shaA}, "target": map[string]any{"kind": "commune"},
		"recurrence": map[string]any{"kind": "daily", "times": []string{"07:00"}}, "duration": "5m"}); r.status != 200 {
		t.Fatalf("bulletin: %d %s", r.status, r.body)
	}
	if r := e.do(admin, "POST", "/api/v1/schedules/st-a/bulletins/tin-a/approve", nil); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	e.clock.Add(2 * time.Hour)
	item := y("tin-a-20261201-070000")
	ev := func(node string, seq uint64, typ string, played, gap int64, silent bool) registry.PlayEvent {
		return registry.PlayEvent{NodeID: node, Seq: seq, Type: typ, ItemID: item, At: at.Add(time.Duration(played) * time.Millisecond),
			PlayedMS: played, GapMS: gap, Silent: silent}
	}
	if _, err := e.reg.InsertPlayEvents(ctx, []registry.PlayEvent{
		ev("n-fin", 1, "started", 0, 0, false), ev("n-fin", 2, "finished", 300000, 0, false),
		ev("n-open", 1, "started", 0, 0, false), // never finished, and its end is 45 min ago
		ev("n-silent", 1, "started", 0, 0, true), ev("n-silent", 2, "finished", 300000, 0, true),
		ev("n-holes", 1, "started", 0, 0, false), ev("n-holes", 2, "finished", 300000, 299000, false),
		ev("n-some-holes", 1, "started", 0, 0, false), ev("n-some-holes", 2, "finished", 300000, 120000, false),
		ev("n-revoked", 1, "started", 0, 0, false), ev("n-revoked", 2, "finished", 300000, 0, false),
	}); err != nil {
		t.Fatal(err)
	}

	var rows []OccurrenceRow
	get(t, e.do(admin, "GET", "/api/v1/reports/occurrences?station=st-a", nil), &rows)
	got := map[string]string{}
	var fromReport AirCounts
	for _, r := range rows {
		if r.Occurrence != item {
			continue
		}
		got[r.Node] = r.Status
		fromReport.Due++
		switch r.Status {
		case programme.Played:
			fromReport.Aired++
		case programme.Partly:
			fromReport.Partly++
		case programme.Missed:
			fromReport.Missed++
		case programme.Unheard:
			fromReport.Unheard++
		}
		switch r.Heard {
		case registry.HeardYes:
			fromReport.Heard++
		case registry.HeardNo:
			fromReport.NotHeard++
		case registry.HeardNotMeasured:
			fromReport.NotMeasured++
		}
	}
	want := map[string]string{"n-a": programme.Missed, "n-fin": programme.Played, "n-open": programme.Partly,
		"n-silent": programme.Unheard, "n-holes": programme.Missed, "n-some-holes": programme.Partly, "n-quiet": programme.Missed}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("report of %s by node (-want +got):\n%s", item, d)
	}

	var cov Coverage
	get(t, e.do(admin, "GET", "/api/v1/coverage?area=a", nil), &cov)
	var st *StationCoverage
	for i := range cov.Stations {
		if cov.Stations[i].ID == "st-a" {
			st = &cov.Stations[i]
		}
	}
	if st == nil {
		t.Fatalf("no st-a in coverage: %+v", cov.Stations)
	}
	if d := cmp.Diff(fromReport, st.AirCounts); d != "" {
		t.Errorf("coverage of st-a disagrees with the report (-report +coverage):\n%s", d)
	}
}
