package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The node binary runs on a Pi with a few hundred MB: it must not drag in
// the controller or a database driver.
func TestNodeDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps returned only %d packages: %v", len(deps), deps)
	}
	for _, d := range deps {
		switch {
		case d == "database/sql", strings.HasPrefix(d, "database/sql/"),
			strings.HasPrefix(d, "github.com/communeradio/radio/controller"),
			strings.HasPrefix(d, "modernc.org/sqlite"),
			strings.HasPrefix(d, "github.com/mochi-mqtt/"):
			t.Errorf("radio-node imports %s", d)
		}
	}
	for _, want := range []string{"github.com/communeradio/radio/node", "github.com/communeradio/radio/node/internal/player"} {
		found := false
		for _, d := range deps {
			found = found || d == want
		}
		if !found {
			t.Errorf("radio-node does not import %s: is this test looking at the right package?", want)
		}
	}
}
