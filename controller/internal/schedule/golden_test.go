package schedule

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenStarts are the instants each example is expanded from: an ordinary
// week, the Tết holidays, and the 30/4 - 1/5 holidays.
var goldenStarts = []time.Time{
	time.Date(2026, 11, 23, 0, 0, 0, 0, Zone),
	time.Date(2027, 2, 3, 0, 0, 0, 0, Zone),
	time.Date(2027, 4, 29, 0, 0, 0, 0, Zone),
}

const goldenN = 40

// render lists the next goldenN occurrences of s from each golden start.
func render(s *Schedule) string {
	var b strings.Builder
	for _, from := range goldenStarts {
		fmt.Fprintf(&b, "# next %d from %s\n", goldenN, from.Format("2006-01-02 15:04:05 -07:00"))
		occ := s.Occurrences(from, from.AddDate(1, 0, 0), nil)
		for _, o := range occ[:min(goldenN, len(occ))] {
			end := "?       "
			if !o.End.IsZero() {
				end = o.End.Format("15:04:05")
			}
			flags := o.Item.Source.Kind
			if !o.Item.Source.Playable() {
				flags += "(not yet playable)"
			}
			if !o.Item.Airs() {
				flags += " draft"
			}
			fmt.Fprintf(&b, "%s %s-%s %-34s %-9s %-28s %-24s %s\n", o.At.Format("2006-01-02 Mon"), o.At.Format("15:04:05"), end,
				o.ID(), o.Item.Priority, o.Item.Target, flags, o.Item.Title)
		}
	}
	return b.String()
}

func examples(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../../schedules/*" + Ext)
	if err != nil || len(files) < 2 {
		t.Fatalf("example schedules: %v %v", files, err)
	}
	return files
}

// TestGolden compares the expansion of every example schedule with
// testdata/<name>.txtar, which holds a copy of the schedule and the expected
// occurrences. go test ./controller/internal/schedule -update rewrites them.
func TestGolden(t *testing.T) {
	for _, path := range examples(t) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse(path, src)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := archive{
				comment: fmt.Sprintf("Occurrences of schedules/%s. Refresh: go test ./controller/internal/schedule -update\n", name),
				files:   []archiveFile{{name, string(src)}, {"occurrences", render(s)}},
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(name, Ext)+".txtar")
			if *update {
				if err := os.WriteFile(golden, got.format(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			data, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(parseArchive(data), got, cmp.AllowUnexported(archive{}, archiveFile{})); diff != "" {
				t.Errorf("%s is out of date (-want +got), run with -update if the change is right:\n%s", golden, diff)
			}
		})
	}
}

// TestMachineTimeZone expands the examples in child processes whose TZ is
// set to other zones. time.Local is read from TZ once per process, so
// setting TZ inside this process would prove nothing; the package must not
// touch time.Local at all, and a child with another zone shows it does not.
func TestMachineTimeZone(t *testing.T) {
	if os.Getenv("SCHEDULE_TZ_CHILD") == "1" {
		for _, path := range examples(t) {
			s, err := ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Print(render(s))
		}
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	var want strings.Builder
	for _, path := range examples(t) {
		s, err := ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want.WriteString(render(s))
	}
	for _, tz := range []string{"UTC", "America/New_York", "Asia/Kathmandu", "Pacific/Chatham"} {
		t.Run(tz, func(t *testing.T) {
			t.Setenv("TZ", tz)
			t.Setenv("SCHEDULE_TZ_CHILD", "1")
			cmd := exec.Command(os.Args[0], "-test.run=^TestMachineTimeZone$", "-test.count=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v\n%s%s", err, out, stderr.String())
			}
			got := strings.TrimSuffix(string(out), "PASS\n")
			if diff := cmp.Diff(want.String(), got); diff != "" {
				t.Errorf("TZ=%s changes the occurrences (-in process +child):\n%s", tz, diff)
			}
		})
	}
}

// archive is the txtar format of golang.org/x/tools/txtar, which is not a
// requirement of the module yet: a comment, then files each introduced by
// a "-- name --" line.
type archive struct {
	comment string
	files   []archiveFile
}

type archiveFile struct{ name, data string }

func (a archive) format() []byte {
	var b strings.Builder
	b.WriteString(a.comment)
	for _, f := range a.files {
		fmt.Fprintf(&b, "-- %s --\n", f.name)
		b.WriteString(f.data)
		if f.data != "" && !strings.HasSuffix(f.data, "\n") {
			b.WriteString("\n")
		}
	}
	return []byte(b.String())
}

func parseArchive(data []byte) archive {
	var a archive
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "-- "); ok && strings.HasSuffix(name, " --") {
			a.files = append(a.files, archiveFile{name: strings.TrimSuffix(name, " --")})
		} else if len(a.files) == 0 {
			a.comment += line
		} else {
			a.files[len(a.files)-1].data += line
		}
	}
	return a
}
