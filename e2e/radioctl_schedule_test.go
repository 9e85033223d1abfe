package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// radioctl schedule put of an old file over a programme built in the web
// app (an approved bulletin due soon): refused, saying what it would
// change; schedule get gives the version, and a put naming it saves;
// -force saves whatever the version and the audit log says so.
func TestRadioctlSchedulePutNamesItsVersion(t *testing.T) {
	dir := t.TempDir()
	ctl := startController(t, filepath.Join(dir, "ctl"))
	ctl.setupCommune(t)
	m := ctl.upload(t, tone(t, dir, 440, 1))
	soon := time.Now().Add(3 * time.Minute)
	ctl.mustCall(t, "PUT", "/api/v1/schedules/st-1/bulletins/tin-gap", map[string]any{"id": "tin-gap", "title": "Thông báo khẩn",
		"source": map[string]any{"kind": "media", "media": m.SHA256}, "target": map[string]any{"kind": "commune"},
		"recurrence": map[string]any{"kind": "once", "date": soon.In(vn).Format("2006-01-02"), "times": []string{soon.In(vn).Format("15:04")}}}, nil)
	ctl.mustCall(t, "POST", "/api/v1/schedules/st-1/bulletins/tin-gap/approve", nil, nil)

	old := filepath.Join(dir, "st-1.radio")
	os.WriteFile(old, []byte("station st-1\nbulletin cu\n    title Chương trình cũ\n    source media "+m.SHA256+"\n    target commune\n    daily 09:00\n"), 0o644)
	put := func(args ...string) (string, error) {
		out, err := exec.Command(bin+"/radioctl", append([]string{"-server", ctl.url, "-token", ctl.token, "schedule", "put"}, args...)...).CombinedOutput()
		return string(out), err
	}
	out, err := put("st-1", old)
	if err == nil || !strings.Contains(out, `"Thông báo khẩn" (tin-gap) was removed`) || !strings.Contains(out, "HTTP 409") {
		t.Fatalf("put of an old file: %v\n%s\nwant refused, naming the approved bulletin it would remove", err, out)
	}
	var bs []struct{ ID, Status string }
	ctl.mustCall(t, "GET", "/api/v1/schedules/st-1/bulletins", nil, &bs)
	if len(bs) != 1 || bs[0].ID != "tin-gap" || bs[0].Status != "approved" {
		t.Fatalf("after the refused put the programme is %+v", bs)
	}

	get := exec.Command(bin+"/radioctl", "-server", ctl.url, "-token", ctl.token, "schedule", "get", "st-1")
	var stderr strings.Builder
	get.Stderr = &stderr
	src, err := get.Output()
	if err != nil {
		t.Fatal(err)
	}
	v := regexp.MustCompile(`-version ([0-9a-f]{16})`).FindStringSubmatch(stderr.String())
	if v == nil || !strings.Contains(string(src), "bulletin tin-gap") {
		t.Fatalf("schedule get: stdout %q stderr %q, want the file and its version", src, stderr.String())
	}
	cur := filepath.Join(dir, "cur.radio")
	os.WriteFile(cur, append(src, []byte("# thêm ghi chú\n")...), 0o644)
	if out, err := put("st-1", cur, "-version", v[1]); err != nil || !strings.Contains(out, "saved") {
		t.Fatalf("put naming the version it was made from: %v\n%s", err, out)
	}
	if out, err := put("st-1", old, "-version", v[1]); err == nil || !strings.Contains(out, "changed by someone else") {
		t.Errorf("put naming a version no longer current: %v\n%s", err, out)
	}
	if out, err := put("st-1", old, "-force"); err != nil {
		t.Fatalf("forced put: %v\n%s", err, out)
	}
	var audit []struct{ Action, Detail string }
	ctl.mustCall(t, "GET", "/api/v1/audit", nil, &audit)
	forced := false
	for _, a := range audit {
		forced = forced || a.Action == "schedule.save" && strings.Contains(a.Detail, "forced") && strings.Contains(a.Detail, "tin-gap")
	}
	if !forced {
		t.Errorf("the audit log does not say the put was forced, replacing tin-gap: %+v", audit)
	}
}
