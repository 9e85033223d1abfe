package registry

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// What is due before the plan's start stays as it was planned; from the
// start on, the new plan replaces the old one, row by row or all of it.
func TestOccurrenceHistoryKeepsThePast(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 6, 30, 0, 0, time.UTC)
	occ := func(id, title string, at time.Time) Occurrence {
		return Occurrence{Station: "st-a", ID: id, Schedule: "st-a", Item: id, Title: title, Priority: "normal", Source: "media",
			Target: "commune", At: at, Nodes: []string{"n-1", "n-2"}, PlannedAt: t0}
	}
	if err := db.PlanOccurrences(ctx, "st-a", t0, []Occurrence{occ("sang", "Bản tin sáng", t0), occ("chieu", "Bản tin chiều", t0.Add(10*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	// At 08:00 the programme is replaced by one without either.
	if err := db.PlanOccurrences(ctx, "st-a", t0.Add(90*time.Minute), []Occurrence{occ("khac", "Khác", t0.Add(12*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	got, err := db.ListOccurrences(ctx, nil, t0.Add(-time.Hour), t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "sang" || got[0].Title != "Bản tin sáng" || len(got[0].Nodes) != 2 || got[1].ID != "khac" {
		t.Fatalf("after the replacement: %+v, want the aired sang kept and khac planned", got)
	}
	// Row by row: khac's title changes, and a new one comes; sang (past) cannot be removed.
	if err := db.ReplanOccurrences(ctx, "st-a", t0.Add(2*time.Hour), []Occurrence{occ("khac", "Khác (sửa)", t0.Add(12*time.Hour))},
		[][2]string{{"st-a", "sang"}}); err != nil {
		t.Fatal(err)
	}
	got, _ = db.ListOccurrences(ctx, []string{"st-a"}, t0.Add(-time.Hour), t0.Add(24*time.Hour))
	if len(got) != 2 || got[0].ID != "sang" || got[1].Title != "Khác (sửa)" {
		t.Errorf("after replanning: %+v", got)
	}
	if got, _ := db.ListOccurrences(ctx, []string{"st-b"}, t0.Add(-time.Hour), t0.Add(24*time.Hour)); len(got) != 0 {
		t.Errorf("another station's: %+v", got)
	}
	// Kept as long as proof of play: retention removes it with the rest.
	st, err := db.Prune(ctx, t0.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = db.ListOccurrences(ctx, nil, t0.Add(-time.Hour), t0.Add(24*time.Hour))
	if st.Occurrences != 1 || len(got) != 1 || got[0].ID != "khac" {
		t.Errorf("after pruning before 07:30: removed %d, left %+v; want sang removed, khac kept", st.Occurrences, got)
	}
}

// The in-memory day of occurrences (DayOccurrences) says what SQLite says
// after each kind of write: a whole plan, a row-by-row replan, another
// station's plan, a plan replacing one that held another station, a prune.
func TestDayOccurrencesFollowWrites(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	ctx := context.Background()
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	occ := func(station, id, title string, at time.Time) Occurrence {
		return Occurrence{Station: station, ID: id, Schedule: station, Item: id, Title: title, Priority: "normal", Source: "media",
			Target: "commune", At: at, Nodes: []string{"n-1"}, PlannedAt: day}
	}
	h := func(n int) time.Time { return day.Add(time.Duration(n) * time.Hour) }
	check := func(step string) {
		t.Helper()
		got, err := db.DayOccurrences(ctx, day)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.ListOccurrences(ctx, nil, day, day.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]Occurrence{}
		for _, o := range rows {
			want[o.Station] = append(want[o.Station], o)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: memory differs from SQLite (-sqlite +memory):\n%s", step, d)
		}
	}
	steps := []struct {
		name  string
		write func() error
	}{
		{"first plan", func() error {
			return db.PlanOccurrences(ctx, "st-a", h(0), []Occurrence{occ("st-a", "sang", "Sáng", h(6)), occ("st-a", "chieu", "Chiều", h(17))})
		}},
		{"another station", func() error {
			return db.PlanOccurrences(ctx, "st-b", h(0), []Occurrence{occ("st-b", "trua", "Trưa", h(11))})
		}},
		{"replan row by row", func() error {
			return db.ReplanOccurrences(ctx, "st-a", h(8), []Occurrence{occ("st-a", "chieu", "Chiều (sửa)", h(17)), occ("st-a", "toi", "Tối", h(20))},
				[][2]string{{"st-a", "sang"}})
		}},
		{"a passed bulletin left out of a plan of what comes", func() error {
			return db.ReplanOccurrences(ctx, "st-b", h(12), nil, [][2]string{{"st-b", "trua"}})
		}},
		{"whole plan drops one", func() error {
			return db.PlanOccurrences(ctx, "st-a", h(9), []Occurrence{occ("st-a", "toi", "Tối", h(20))})
		}},
		{"programme moved to another station", func() error {
			return db.PlanOccurrences(ctx, "st-b", h(10), []Occurrence{occ("st-c", "trua", "Trưa", h(12))})
		}},
		{"tomorrow only", func() error {
			return db.PlanOccurrences(ctx, "st-d", h(10), []Occurrence{occ("st-d", "mai", "Mai", h(30))})
		}},
		{"prune", func() error { _, err := db.Prune(ctx, h(7), 10); return err }},
	}
	check("empty")
	// Readers meanwhile (go test -race): what they load while a write
	// commits must not stay in memory.
	done := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := db.DayOccurrences(ctx, day); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer func() { close(done); readers.Wait() }()
	for _, s := range steps {
		if err := s.write(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		check(s.name)
	}
}
