package schedule

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

var errLine = regexp.MustCompile(`^testdata/fuzz\.radio:[1-9][0-9]*: \S`)

// FuzzParse: Parse never panics, every error carries file:line, and what
// parses can be expanded into valid, sorted occurrences.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../../../schedules/*" + Ext)
	broken, _ := filepath.Glob("testdata/broken/*" + Ext)
	for _, p := range append(seeds, broken...) {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte("station s\nbulletin b\n  title \"x\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Parse("testdata/fuzz.radio", src)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %q is not a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if !errLine.MatchString(e.Error()) {
					t.Errorf("error without file:line: %q", e.Error())
				}
			}
			return
		}
		from := time.Date(2026, 11, 23, 0, 0, 0, 0, Zone)
		to := from.Add(8 * 24 * time.Hour)
		occ := s.Occurrences(from, to, nil)
		for i, o := range occ {
			if o.At.Before(from) || !o.At.Before(to) {
				t.Errorf("occurrence %s outside the window", o.ID())
			}
			if i > 0 && o.At.Before(occ[i-1].At) {
				t.Errorf("occurrences out of order at %d", i)
			}
			if !nodeproto.ValidID(o.ID()) {
				t.Errorf("invalid occurrence id %q", o.ID())
			}
		}
		if len(occ) <= 2000 { // the plain definition is quadratic
			if got, want := conflictsBothWays(s, from, to); !slices.Equal(got, want) {
				t.Errorf("Conflicts found %d, the pairwise definition %d", len(got), len(want))
			}
		}
	})
}
