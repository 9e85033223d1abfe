package e2e

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// radio-controller -check passes on the example programmes and fails with
// file:line on each broken one.
func TestCheckFlag(t *testing.T) {
	examples, _ := filepath.Glob("../schedules/*.radio")
	if len(examples) < 2 {
		t.Fatalf("want at least 2 example schedules, found %v", examples)
	}
	out, err := exec.Command(bin+"/radio-controller", append([]string{"-check"}, examples...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("-check on the examples: %v\n%s", err, out)
	}
	broken, _ := filepath.Glob("../controller/internal/schedule/testdata/broken/*.radio")
	if len(broken) < 5 {
		t.Fatalf("want several broken examples, found %d", len(broken))
	}
	for _, f := range broken {
		out, err := exec.Command(bin+"/radio-controller", "-check", f).CombinedOutput()
		if err == nil || !strings.Contains(err.Error(), "exit status") {
			t.Errorf("%s: -check exited %v, want a non-zero status", f, err)
			continue
		}
		if !regexp.MustCompile(regexp.QuoteMeta(f) + `:[0-9]+: `).Match(out) {
			t.Errorf("%s: output has no %s:LINE: prefix:\n%s", f, f, out)
		}
	}
}
