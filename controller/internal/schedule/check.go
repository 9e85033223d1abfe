package schedule

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Ext is the extension of schedule files.
const Ext = ".radio"

// CheckWindow is how far ahead Check looks for conflicts.
const CheckWindow = 35 * 24 * time.Hour

// Check parses schedule files and looks for conflicts over the next
// CheckWindow, for `radio-controller -check`. A folder stands for the *.radio
// files in it, and other files are passed over, so `-check schedules/*` works
// beside a README; naming no schedule file at all is an error. The error is
// an ErrorList with one line per mistake. Media lengths are not known here,
// so only the items' declared durations count.
func Check(paths ...string) error {
	return check(time.Now(), paths...)
}

func check(now time.Time, paths ...string) error {
	var files []string
	var errs ErrorList
	for _, p := range paths {
		st, err := os.Stat(p)
		switch {
		case err != nil:
			errs = append(errs, &Error{Pos{p, 0}, fmt.Sprintf("cannot read the schedule: %v", err)})
		case st.IsDir():
			m, _ := filepath.Glob(filepath.Join(p, "*"+Ext))
			files = append(files, m...)
		case strings.HasSuffix(p, Ext):
			files = append(files, filepath.Clean(p))
		}
	}
	if len(files) == 0 && len(errs) == 0 {
		return ErrorList{{Pos{strings.Join(paths, " "), 0}, "no " + Ext + " schedule files to check"}}
	}
	slices.Sort(files)
	files = slices.Compact(files)
	stations := map[string]string{} // station -> file
	for _, f := range files {
		s, err := ParseFile(f)
		if err != nil {
			errs = append(errs, err.(ErrorList)...)
			continue
		}
		if other, ok := stations[s.Station]; ok {
			errs = append(errs, &Error{Pos{f, 1}, fmt.Sprintf("station %q is also scheduled in %s: keep one file per station", s.Station, other)})
			continue
		}
		stations[s.Station] = f
		errs = append(errs, conflictErrors(s.Conflicts(now, now.Add(CheckWindow), nil))...)
	}
	if len(errs) == 0 {
		return nil
	}
	errs.sort()
	return errs
}

// conflictErrors reports the first clash of each pair of items, with a count
// of the others, so a daily clash is one line, not thirty-five.
func conflictErrors(cs []Conflict) ErrorList {
	type pair struct{ a, b *Item }
	first := map[pair]int{}
	count := map[pair]int{}
	var order []pair
	for i, c := range cs {
		k := pair{c.A.Item, c.B.Item}
		if c.B.Item.Pos.Line < c.A.Item.Pos.Line {
			k = pair{c.B.Item, c.A.Item}
		}
		if _, ok := first[k]; !ok {
			first[k] = i
			order = append(order, k)
		}
		count[k]++
	}
	var errs ErrorList
	for _, k := range order {
		c := cs[first[k]]
		msg := strings.TrimPrefix(c.String(), c.A.Item.Pos.String()+": ")
		if n := count[k] - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more time%s in the next %d days)", n, plural(n), int(CheckWindow.Hours()/24))
		}
		errs = append(errs, &Error{c.A.Item.Pos, msg})
	}
	return errs
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
