package controller

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/communeradio/radio/controller/internal/schedule"
)

// CheckSchedules parses schedule files (or folders of *.radio files) and
// checks them for conflicts, returning every mistake as "file:line: ...".
// It needs no running controller: `radio-controller -check`. n is the
// number of schedule files checked.
func CheckSchedules(paths ...string) (n int, err error) {
	seen := map[string]bool{}
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			m, _ := filepath.Glob(filepath.Join(p, "*"+schedule.Ext))
			for _, f := range m {
				seen[f] = true
			}
		} else if strings.HasSuffix(p, schedule.Ext) {
			seen[p] = true
		}
	}
	return len(seen), schedule.Check(paths...)
}
