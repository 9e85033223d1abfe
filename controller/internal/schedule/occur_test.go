package schedule

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, Zone)
	if err != nil {
		panic(err)
	}
	return t
}

func mustParse(t *testing.T, src string) *Schedule {
	t.Helper()
	s, err := Parse("t.radio", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, src)
	}
	return s
}

// starts lists "YYYY-MM-DD hh:mm:ss id" for the occurrences in [from, to).
func starts(s *Schedule, from, to string) []string {
	var out []string
	for _, o := range s.Occurrences(at(from), at(to), nil) {
		out = append(out, o.At.Format("2006-01-02 15:04:05 ")+o.Item.ID)
	}
	return out
}

func TestOccurrences(t *testing.T) {
	const m = "media 450aa4f6b9ae77ea37a744cc3257c174694a0b23b46bac6006810852a5ddb1b9"
	tests := []struct {
		name     string
		holidays string
		lines    string // the bulletin's recurrence and date lines
		from, to string
		want     []string
	}{
		{name: "daily over a month end",
			lines: "daily 23:59:59, 00:00", from: "2026-01-30 12:00:00", to: "2026-02-02 00:00:01",
			want: []string{"2026-01-30 23:59:59", "2026-01-31 00:00:00", "2026-01-31 23:59:59", "2026-02-01 00:00:00", "2026-02-01 23:59:59", "2026-02-02 00:00:00"}},
		{name: "window is half open",
			lines: "daily 06:30", from: "2026-03-01 06:30:00", to: "2026-03-03 06:30:00",
			want: []string{"2026-03-01 06:30:00", "2026-03-02 06:30:00"}},
		{name: "leap day",
			lines: "daily 06:00", from: "2028-02-28 00:00:00", to: "2028-03-02 00:00:00",
			want: []string{"2028-02-28 06:00:00", "2028-02-29 06:00:00", "2028-03-01 06:00:00"}},
		{name: "once on a leap day",
			lines: "once 2028-02-29 06:00:30", from: "2028-01-01 00:00:00", to: "2029-01-01 00:00:00",
			want: []string{"2028-02-29 06:00:30"}},
		{name: "once outside the window",
			lines: "once 2028-02-29 06:00", from: "2028-03-01 00:00:00", to: "2029-01-01 00:00:00"},
		{name: "yearly holiday on 02-29 only in leap years", holidays: "holiday 02-29 Ngày nhuận\n",
			lines: "daily 06:00", from: "2027-02-28 00:00:00", to: "2027-03-02 00:00:00",
			want: []string{"2027-02-28 06:00:00", "2027-03-01 06:00:00"}},
		{name: "yearly holiday on 02-29", holidays: "holiday 02-29 Ngày nhuận\n",
			lines: "daily 06:00", from: "2028-02-28 00:00:00", to: "2028-03-02 00:00:00",
			want: []string{"2028-02-28 06:00:00", "2028-03-01 06:00:00"}},
		{name: "weekly", lines: "weekly mon,thu 07:00", from: "2026-11-23 00:00:00", to: "2026-12-04 00:00:00",
			want: []string{"2026-11-23 07:00:00", "2026-11-26 07:00:00", "2026-11-30 07:00:00", "2026-12-03 07:00:00"}},
		{name: "weekly vietnamese days", lines: "weekly t7-cn 07:00", from: "2026-11-23 00:00:00", to: "2026-11-30 00:00:00",
			want: []string{"2026-11-28 07:00:00", "2026-11-29 07:00:00"}},
		// From is a Wednesday: week 0 is Mon 23 - Sun 29 Nov, so Mon 23 is
		// before from, Fri 27 plays, week 1 is skipped, week 2 plays.
		{name: "every 2 weeks anchored to the week of from",
			lines: "every 2 weeks on mon,fri 08:00\nfrom 2026-11-25", from: "2026-11-01 00:00:00", to: "2026-12-22 00:00:00",
			want: []string{"2026-11-27 08:00:00", "2026-12-07 08:00:00", "2026-12-11 08:00:00", "2026-12-21 08:00:00"}},
		{name: "every 3 weeks across a year end",
			lines: "every 3 weeks on sun 19:00\nfrom 2026-12-14", from: "2026-12-01 00:00:00", to: "2027-02-01 00:00:00",
			want: []string{"2026-12-20 19:00:00", "2027-01-10 19:00:00", "2027-01-31 19:00:00"}},
		{name: "holiday range", holidays: "holiday 2027-02-04..2027-02-10 Tết\n",
			lines: "daily 06:30", from: "2027-02-03 00:00:00", to: "2027-02-12 00:00:00",
			want: []string{"2027-02-03 06:30:00", "2027-02-11 06:30:00"}},
		{name: "on-holiday play", holidays: "holiday 2027-02-04..2027-02-10 Tết\n",
			lines: "daily 06:30\non-holiday play\nexcept 2027-02-06", from: "2027-02-04 00:00:00", to: "2027-02-08 00:00:00",
			want: []string{"2027-02-04 06:30:00", "2027-02-05 06:30:00", "2027-02-07 06:30:00"}},
		{name: "yearly holiday across new year", holidays: "holiday 12-31..01-01 Tết Dương lịch\n",
			lines: "daily 06:30", from: "2026-12-30 00:00:00", to: "2027-01-03 00:00:00",
			want: []string{"2026-12-30 06:30:00", "2027-01-02 06:30:00"}},
		{name: "except days and ranges",
			lines: "daily 06:30\nexcept 2026-12-02, 2026-12-04..2026-12-05\nexcept 12-07", from: "2026-12-01 00:00:00", to: "2026-12-09 00:00:00",
			want: []string{"2026-12-01 06:30:00", "2026-12-03 06:30:00", "2026-12-06 06:30:00", "2026-12-08 06:30:00"}},
		{name: "from and until are inclusive",
			lines: "daily 06:30\nfrom 2026-12-02\nuntil 2026-12-03", from: "2026-12-01 00:00:00", to: "2026-12-09 00:00:00",
			want: []string{"2026-12-02 06:30:00", "2026-12-03 06:30:00"}},
		{name: "cron on the 31st skips short months",
			lines: `cron "0 0 12 31 * *"`, from: "2027-01-01 00:00:00", to: "2027-06-01 00:00:00",
			want: []string{"2027-01-31 12:00:00", "2027-03-31 12:00:00", "2027-05-31 12:00:00"}},
		{name: "cron on 29 February",
			lines: `cron "15 0 6 29 2 *"`, from: "2026-01-01 00:00:00", to: "2033-01-01 00:00:00",
			want: []string{"2028-02-29 06:00:15", "2032-02-29 06:00:15"}},
		{name: "cron with seconds, from and holidays", holidays: "holiday 2026-11-24 Nghỉ\n",
			lines: `cron "30 0 6 * * mon-fri"` + "\nuntil 2026-11-26", from: "2026-11-20 06:00:30", to: "2026-12-01 00:00:00",
			want: []string{"2026-11-20 06:00:30", "2026-11-23 06:00:30", "2026-11-25 06:00:30", "2026-11-26 06:00:30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "station s\n" + tt.holidays + "bulletin b\n  title t\n  source " + m + "\n  target commune\n" +
				"  " + strings.ReplaceAll(tt.lines, "\n", "\n  ") + "\n"
			s := mustParse(t, src)
			got := starts(s, tt.from, tt.to)
			var want []string
			for _, w := range tt.want {
				want = append(want, w+" b")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("occurrences (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOccurrenceEndAndOrder(t *testing.T) {
	s := mustParse(t, `station s
bulletin z-normal
  title t
  source media 450aa4f6b9ae77ea37a744cc3257c174694a0b23b46bac6006810852a5ddb1b9
  target commune
  daily 06:30
  repeat 2 gap 1m
  duration 3m
bulletin a-normal
  title t
  source live
  target commune
  daily 06:30
  duration 30m
bulletin m-emergency
  title t
  source media 450aa4f6b9ae77ea37a744cc3257c174694a0b23b46bac6006810852a5ddb1b9
  target commune
  priority emergency
  daily 06:30
`)
	from := at("2026-11-23 00:00:00")
	occ := s.Occurrences(from, from.Add(24*time.Hour), nil)
	type row struct{ ID, End string }
	var got []row
	for _, o := range occ {
		end := ""
		if !o.End.IsZero() {
			end = o.End.Format("15:04:05")
		}
		got = append(got, row{o.ID(), end})
	}
	want := []row{ // same start: higher priority first, then by id
		{"m-emergency-20261123-063000", ""},
		{"a-normal-20261123-063000", "07:00:00"},
		{"z-normal-20261123-063000", "06:41:00"}, // 3 plays of 3m and 2 gaps of 1m
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// The media's own length wins over the declared duration.
	occ = s.Occurrences(from, from.Add(24*time.Hour), func(it Item) time.Duration {
		if it.ID == "z-normal" {
			return 10 * time.Second
		}
		return 0
	})
	if got, want := occ[2].End, at("2026-11-23 06:32:30"); !got.Equal(want) {
		t.Errorf("End with a known length = %v, want %v", got, want)
	}
	if s.Occurrences(from, from, nil) != nil {
		t.Error("an empty window has occurrences")
	}
}

func TestOccurrenceID(t *testing.T) {
	it := &Item{ID: strings.Repeat("x", MaxItemID)}
	o := Occurrence{Item: it, At: time.Date(2026, 11, 22, 23, 30, 15, 0, time.UTC)} // 06:30:15 on the 23rd in Vietnam
	id := o.ID()
	if want := strings.Repeat("x", MaxItemID) + "-20261123-063015"; id != want {
		t.Errorf("ID = %q, want %q", id, want)
	}
	if !nodeproto.ValidID(id) {
		t.Errorf("ID %q (%d bytes) is not a valid protocol id", id, len(id))
	}
}

func TestConflicts(t *testing.T) {
	const body = "  source media 450aa4f6b9ae77ea37a744cc3257c174694a0b23b46bac6006810852a5ddb1b9\n"
	tests := []struct {
		name string
		a, b string // extra lines of two bulletins
		want []string
	}{
		{"overlap", "target commune\ndaily 06:30\nduration 10m", "target zone z1\ndaily 06:35\nduration 1m",
			[]string{`t.radio:2: "a" at 2026-11-23 06:30:00-06:40:00 overlaps "b" (t.radio:9) at 06:35:00-06:36:00 on zone z1; both are normal`}},
		{"back to back is fine", "target commune\ndaily 06:30\nduration 10m", "target commune\ndaily 06:40\nduration 1m", nil},
		{"higher priority cuts in", "target commune\ndaily 06:30\nduration 10m", "target commune\ndaily 06:35\npriority priority\nduration 1m", nil},
		{"emergency vs emergency", "target commune\ndaily 06:30\npriority emergency\nduration 10m", "target commune\ndaily 06:35\npriority emergency\nduration 1m",
			[]string{`both are emergency`}},
		{"different zones", "target zone z1\ndaily 06:30\nduration 10m", "target zone z2\ndaily 06:35\nduration 1m", nil},
		{"shared node", "target nodes n1,n2\ndaily 06:30\nduration 10m", "target nodes n2,n3\ndaily 06:35\nduration 1m",
			[]string{`on nodes n2;`}},
		{"zone and nodes may share", "target zone z1\ndaily 06:30\nduration 10m", "target nodes n2\ndaily 06:35\nduration 1m",
			[]string{`on zone z1 and nodes n2 (if they share nodes);`}},
		{"unknown length, same start", "target commune\ndaily 06:30", "target commune\ndaily 06:30",
			[]string{`"a" at 2026-11-23 06:30:00 overlaps "b" (t.radio:8) at 06:30:00 on commune`}},
		{"unknown length, later start", "target commune\ndaily 06:30", "target commune\ndaily 06:30:01", nil},
		{"draft does not air", "target commune\ndaily 06:30\nduration 10m", "target commune\ndaily 06:35\nstatus draft\nduration 1m", nil},
		{"repeats count", "target commune\ndaily 06:30\nduration 2m\nrepeat 1 gap 2m", "target commune\ndaily 06:35",
			[]string{`"a" at 2026-11-23 06:30:00-06:36:00 overlaps "b"`}},
		{"an item with itself", "target commune\ndaily 06:30,06:35\nduration 10m", "target zone z\nonce 2026-11-24 12:00",
			[]string{`"a" at 2026-11-23 06:30:00-06:40:00 overlaps "a" (t.radio:2) at 06:35:00-06:45:00 on commune`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			indent := func(s string) string {
				if !strings.Contains(s, "status") {
					s += "\nstatus approved"
				}
				return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
			}
			src := "station s\nbulletin a\n  title A\n" + body + indent(tt.a) + "bulletin b\n  title B\n" + body + indent(tt.b)
			s := mustParse(t, src)
			from := at("2026-11-23 00:00:00")
			cs := s.Conflicts(from, from.Add(24*time.Hour), nil)
			if len(cs) != len(tt.want) {
				var got []string
				for _, c := range cs {
					got = append(got, c.String())
				}
				t.Fatalf("got %d conflicts, want %d:\n%s\n%s", len(cs), len(tt.want), strings.Join(got, "\n"), src)
			}
			for i, c := range cs {
				if !strings.Contains(c.String(), tt.want[i]) {
					t.Errorf("conflict %d:\ngot  %s\nwant …%s…", i, c, tt.want[i])
				}
			}
		})
	}
}

func TestConflictsBounded(t *testing.T) {
	s := mustParse(t, `station s
bulletin a
  title A
  source relay https://x.example/s
  target commune
  status approved
  cron "0 * * * * *"
  duration 24h
`)
	from := at("2026-11-23 00:00:00")
	if n := len(s.Conflicts(from, from.Add(CheckWindow), nil)); n != MaxConflicts {
		t.Errorf("%d conflicts, want the cap %d", n, MaxConflicts)
	}
}

// pairwiseConflicts is the plain definition of Conflicts: every later
// occurrence that starts before one ends, of equal priority, with targets
// that may share a node. Conflicts must find the same, in the same order.
func pairwiseConflicts(s *Schedule, from, to time.Time) []string {
	var occ []Occurrence
	for _, o := range s.Occurrences(from, to, nil) {
		if o.Item.Airs() {
			occ = append(occ, o)
		}
	}
	var out []string
	for i, a := range occ {
		end := a.End
		if end.IsZero() {
			end = a.At.Add(time.Second)
		}
		for _, b := range occ[i+1:] {
			if !b.At.Before(end) || a.Item.Priority != b.Item.Priority {
				continue
			}
			if shared, ok := a.Item.Target.Overlap(b.Item.Target); ok {
				out = append(out, Conflict{A: a, B: b, Target: shared}.String())
			}
		}
	}
	return out
}

// conflictsBothWays returns what Conflicts finds and what the pairwise
// definition finds (cut at MaxConflicts), as strings.
func conflictsBothWays(s *Schedule, from, to time.Time) (got, want []string) {
	for _, c := range s.Conflicts(from, to, nil) {
		got = append(got, c.String())
	}
	want = pairwiseConflicts(s, from, to)
	if len(want) > MaxConflicts {
		want = want[:MaxConflicts]
	}
	return got, want
}

func TestConflictsMatchPairwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	targets := []string{"commune", "zone z1", "zone z2", "zone z1,z3", "nodes n1", "nodes n2,n3", "nodes n1,n3"}
	priorities := []string{"normal", "priority", "emergency"}
	for round := range 200 {
		var b strings.Builder
		b.WriteString("station s\n")
		for i := range 1 + rng.IntN(12) {
			fmt.Fprintf(&b, "bulletin b%d\n  title B\n  source relay https://x.example/s\n", i)
			fmt.Fprintf(&b, "  target %s\n  priority %s\n", targets[rng.IntN(len(targets))], priorities[rng.IntN(len(priorities))])
			if rng.IntN(5) > 0 {
				b.WriteString("  status approved\n")
			}
			fmt.Fprintf(&b, "  daily %02d:%02d,%02d:%02d\n", rng.IntN(2), rng.IntN(60), 2+rng.IntN(2), rng.IntN(60))
			fmt.Fprintf(&b, "  duration %dm\n", 1+rng.IntN(90))
		}
		s := mustParse(t, b.String())
		from := at("2026-11-23 00:00:00")
		got, want := conflictsBothWays(s, from, from.Add(48*time.Hour))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("round %d: Conflicts differs from the pairwise definition (-want +got):\n%s\n%s", round, diff, b.String())
		}
	}
}

func TestMaxStartsPerDay(t *testing.T) {
	item := func(id, rule string) string {
		return "bulletin " + id + "\n  title T\n  source relay https://x.example/s\n  target commune\n  duration 1m\n  " + rule + "\n"
	}
	var times []string
	for m := range 100 {
		times = append(times, fmt.Sprintf("%02d:%02d", m/60, m%60))
	}
	// A cron line every minute is 1440 starts a day: allowed alone.
	src := "station s\n" + item("every-minute", `cron "0 * * * * *"`)
	mustParse(t, src)
	// One more daily line of 100 times crosses the limit, and the error
	// names its line and says what to do.
	// It is said once, not again for each bulletin after it.
	more := item("more", "daily "+strings.Join(times, ","))
	_, err := Parse("t.radio", []byte(src+more+item("again", "daily 12:00")))
	if err == nil || !strings.Contains(err.Error(), "t.radio:13:") || !strings.Contains(err.Error(), "1540") ||
		strings.Count(err.Error(), "at most 1500 a day") != 1 {
		t.Fatalf("err = %v, want the limit once, at t.radio:13", err)
	}
}
