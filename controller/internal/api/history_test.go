package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

// What aired stays in the report, coverage's counts and the week
// calendar, with its title, after the programme is replaced by a
// whole-file put that drops it; the
// calendar shows past occurrences as aired or missed, not as approved.
func TestHistoryOutlivesProgramme(t *testing.T) {
	e := newEnv(t) // 2026-12-01 08:00 in Vietnam
	ctx := context.Background()
	admin := e.tokenClient()
	e.clock.Add(-2 * time.Hour) // the programme is made and approved at 06:00
	sang := bulletinJSON("sang", shaA, "z-a")
	mot := bulletinJSON("mot", shaA, "z-a")
	mot["recurrence"] = map[string]any{"kind": "once", "date": y("2026-12-01"), "times": []string{"07:00"}}
	for _, b := range []map[string]any{sang, mot} {
		if r := e.do(admin, "PUT", "/api/v1/schedules/st-a/bulletins/"+b["id"].(string), b); r.status != 200 {
			t.Fatalf("saving %s: %d %s", b["id"], r.status, r.body)
		}
		if r := e.do(admin, "POST", "/api/v1/schedules/st-a/bulletins/"+b["id"].(string)+"/approve", nil); r.status != 200 {
			t.Fatalf("approving %s: %d %s", b["id"], r.status, r.body)
		}
	}
	e.clock.Add(2 * time.Hour)
	at := time.Date(fixtureYear, 12, 1, 6, 30, 0, 0, schedule.Zone)
	occ := y("sang-20261201-063000")
	if _, err := e.reg.InsertPlayEvents(ctx, []registry.PlayEvent{
		{NodeID: "n-a", Seq: 7, Type: "started", ItemID: occ, Media: shaA, At: at},
		{NodeID: "n-a", Seq: 8, Type: "finished", ItemID: occ, Media: shaA, At: at.Add(5 * time.Minute), PlayedMS: 300000},
	}); err != nil {
		t.Fatal(err)
	}

	coverage := func() AirCounts {
		t.Helper()
		var cov Coverage
		get(t, e.do(admin, "GET", "/api/v1/coverage?area=a", nil), &cov)
		for _, s := range cov.Stations {
			if s.ID == "st-a" {
				return s.AirCounts
			}
		}
		t.Fatalf("no st-a in coverage: %+v", cov.Stations)
		return AirCounts{}
	}
	before := coverage()
	if want := (AirCounts{Due: 2, Aired: 1, Missed: 1, NotMeasured: 1}); before != want {
		t.Errorf("coverage of st-a before the programme was replaced: %+v, want %+v", before, want)
	}

	// radioctl schedule put -force of an old file without either bulletin.
	src := "station st-a\nbulletin khac\n    title Chương trình khác\n    source media " + shaA + "\n    target commune\n    status approved\n    daily 09:00\n    duration 5m\n"
	req, _ := http.NewRequest("PUT", e.srv.URL+"/api/v1/schedules/st-a?force=true", strings.NewReader(src))
	if r := e.send(admin, req); r.status != 200 {
		t.Fatalf("replacing the programme: %d %s", r.status, r.body)
	}

	if after := coverage(); after != before {
		t.Errorf("coverage of st-a after the programme was replaced: %+v, want it unchanged: %+v", after, before)
	}

	var rows []OccurrenceRow
	get(t, e.do(admin, "GET", y("/api/v1/reports/occurrences?station=st-a&from=2026-12-01T00:00:00%2B07:00&to=2026-12-01T08:00:00%2B07:00"), nil), &rows)
	got := map[string]string{}
	for _, r := range rows {
		got[r.Occurrence] = r.Title + ": " + r.Status
	}
	want := map[string]string{occ: "Bản tin sang: played", y("mot-20261201-070000"): "Bản tin mot: missed"}
	if len(got) != len(want) || got[occ] != want[occ] || got[y("mot-20261201-070000")] != want[y("mot-20261201-070000")] {
		t.Errorf("report after the programme was replaced: %v, want %v", got, want)
	}

	var plays []PlayRow
	get(t, e.do(admin, "GET", "/api/v1/plays?node=n-a", nil), &plays)
	for _, p := range plays {
		if p.ItemID == occ && p.Title != "Bản tin sang" {
			t.Errorf("proof of play names %s %q after the programme was replaced, want Bản tin sang", occ, p.Title)
		}
	}

	var cal []CalendarEntry
	get(t, e.do(admin, "GET", y("/api/v1/schedules/st-a/occurrences?from=2026-12-01T00:00:00%2B07:00&to=2026-12-02T00:00:00%2B07:00"), nil), &cal)
	status := map[string]string{}
	for _, c := range cal {
		status[c.Occurrence] = c.Status
	}
	if status[occ] != "aired" || status[y("mot-20261201-070000")] != "missed" || status[y("khac-20261201-090000")] != "approved" {
		t.Errorf("the calendar of the day: %v, want sang aired, mot missed, khac approved", status)
	}
	if _, ok := status[y("sang-20261201-063000")]; !ok || len(status) != 3 {
		t.Errorf("the calendar lists %v", status)
	}
}
