package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
)

// wav makes a short tone with ffmpeg, small enough for the test API's
// 64 KiB upload limit.
func wav(t *testing.T, freq string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "t.wav")
	if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency="+freq+":duration=1",
		"-ar", "8000", "-ac", "1", "-c:a", "pcm_s16le", "-y", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (make deps installs it): %v %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// names maps sha256 to name in a media list answer.
func names(t *testing.T, r result) map[string]string {
	t.Helper()
	var v []registry.Media
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("media list (%d): %s", r.status, r.body)
	}
	out := map[string]string{}
	for _, m := range v {
		out[m.SHA256] = m.Name
	}
	return out
}

type inUse struct {
	Code string     `json:"code"`
	Uses []MediaUse `json:"uses"`
}

func decodeInUse(t *testing.T, r result) inUse {
	t.Helper()
	var v inUse
	if r.status != http.StatusConflict || json.Unmarshal([]byte(r.body), &v) != nil || v.Code != "media_in_use" {
		t.Fatalf("want 409 media_in_use, got %d %s", r.status, r.body)
	}
	return v
}

// A recording a programme needs cannot be deleted; the refusal names the
// bulletin and its station. Once the bulletin is gone it can, it leaves
// the library, and proof of play still names it.
func TestMediaDeleteRefusedWhileAProgrammeNeedsIt(t *testing.T) {
	e := newEnv(t)
	ob := e.login("officer-b")
	v := decodeInUse(t, e.do(ob, "DELETE", "/api/v1/media/"+shaB, nil))
	if len(v.Uses) != 1 || v.Uses[0].Kind != "bulletin" || v.Uses[0].Title != "Bản tin tin-b" || v.Uses[0].StationName != "Đài b" {
		t.Errorf("uses = %+v, want the bulletin Bản tin tin-b of Đài b", v.Uses)
	}
	if _, ok := names(t, e.do(ob, "GET", "/api/v1/media", nil))[shaB]; !ok {
		t.Error("the refused delete took the recording out of the library")
	}
	if r := e.do(ob, "GET", "/api/v1/media/"+shaB+"/uses", nil); !strings.Contains(r.body, "tin-b") {
		t.Errorf("uses of the recording: %d %s", r.status, r.body)
	}
	// Officer A may not delete commune B's recording, nor learn it exists.
	if r := e.do(e.login("officer-a"), "DELETE", "/api/v1/media/"+shaB, nil); r.status != http.StatusNotFound {
		t.Errorf("officer A deletes commune B's recording: %d %s", r.status, r.body)
	}
	// A province user looks but does not change.
	if r := e.do(e.login("province-1"), "DELETE", "/api/v1/media/"+shaB, nil); r.status != http.StatusForbidden {
		t.Errorf("province user deletes: %d %s", r.status, r.body)
	}

	if r := e.do(e.tokenClient(), "DELETE", "/api/v1/schedules/st-b/bulletins/tin-b", nil); r.status >= 300 {
		t.Fatalf("deleting the bulletin: %d %s", r.status, r.body)
	}
	r := e.do(ob, "DELETE", "/api/v1/media/"+shaB, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"removed": true`) {
		t.Fatalf("delete once unused: %d %s", r.status, r.body)
	}
	if _, ok := names(t, e.do(ob, "GET", "/api/v1/media", nil))[shaB]; ok {
		t.Error("deleted recording still listed")
	}
	if _, ok := names(t, e.do(e.tokenClient(), "GET", "/api/v1/media", nil))[shaB]; ok {
		t.Error("deleted recording still listed for the administrator")
	}
	if r := e.do(ob, "GET", "/api/v1/media/"+shaB, nil); r.status != http.StatusNotFound {
		t.Errorf("GET of a deleted recording: %d", r.status)
	}
	// A programme may not name it any more.
	if r := e.do(ob, "PUT", "/api/v1/schedules/st-b/bulletins/lai", bulletinJSON("lai", shaB, "z-b")); r.status != http.StatusBadRequest {
		t.Errorf("scheduling a deleted recording: %d %s", r.status, r.body)
	}
	// What it played is still named.
	if got := e.reg.MediaName(context.Background(), shaB); got != "ban-tin-b.mp3" {
		t.Errorf("name of the deleted recording for reports: %q", got)
	}
	audit := decodeAudit(t, e.do(e.tokenClient(), "GET", "/api/v1/audit", nil))
	if !slices.ContainsFunc(audit, func(a registry.Audit) bool { return a.Action == "media.delete" && a.Target == shaB }) {
		t.Error("no media.delete in the audit log")
	}
}

// A "play now" command that has not expired keeps its recording; after it
// expires the recording can go.
func TestMediaDeleteRefusedWhileACommandNeedsIt(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := e.clock.Now()
	if err := e.reg.InsertCommand(ctx, registry.Command{ID: "c-play-1", Type: "play", Target: "zone:z-a", Media: shaA,
		PlayAt: now.Add(time.Minute), IssuedAt: now, ExpiresAt: now.Add(10 * time.Minute), Body: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	oa := e.login("officer-a")
	v := decodeInUse(t, e.do(oa, "DELETE", "/api/v1/media/"+shaA, nil))
	if len(v.Uses) != 1 || v.Uses[0].Kind != "command" || v.Uses[0].Command != "c-play-1" || v.Uses[0].TargetName == "" {
		t.Errorf("uses = %+v, want the command c-play-1 with its target's name", v.Uses)
	}
	e.clock.Add(11 * time.Minute)
	if r := e.do(oa, "DELETE", "/api/v1/media/"+shaA, nil); r.status != http.StatusOK {
		t.Errorf("delete after the command expired: %d %s", r.status, r.body)
	}
}

// An active emergency warning keeps its recording for as long as it is
// active, past its play commands' life: the refusal names the warning once
// (not its command to each node). Once it has ended the recording can go.
func TestMediaDeleteRefusedWhileAWarningIsActive(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := e.clock.Now()
	var targets []registry.WarningTarget
	for i, n := range []string{"n-a1", "n-a2"} {
		id := fmt.Sprintf("c-warn-%d", i)
		if err := e.reg.InsertCommand(ctx, registry.Command{ID: id, Type: "play", Target: "node:" + n, Media: shaA,
			IssuedAt: now, ExpiresAt: now.Add(time.Hour), Body: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, registry.WarningTarget{Node: n, Area: "a", Command: id})
	}
	if err := e.reg.InsertWarning(ctx, registry.Warning{ID: "w-1", Title: "Lũ quét", Source: "manual", Media: shaA, Repeat: 3,
		Status: registry.WarningActive, CreatedBy: "officer-a", CreatedAt: now, ExpiresAt: now.Add(48 * time.Hour), Targets: targets}); err != nil {
		t.Fatal(err)
	}
	oa := e.login("officer-a")
	v := decodeInUse(t, e.do(oa, "DELETE", "/api/v1/media/"+shaA, nil))
	if len(v.Uses) != 1 || v.Uses[0].Kind != "warning" || v.Uses[0].Warning != "w-1" || v.Uses[0].Title != "Lũ quét" {
		t.Errorf("uses = %+v, want the warning w-1 once", v.Uses)
	}
	// Its commands have expired; the warning is still active.
	e.clock.Add(2 * time.Hour)
	if v := decodeInUse(t, e.do(oa, "DELETE", "/api/v1/media/"+shaA, nil)); len(v.Uses) != 1 || v.Uses[0].Kind != "warning" {
		t.Errorf("after its commands expired, uses = %+v, want the active warning", v.Uses)
	}
	if err := e.reg.EndWarning(ctx, "w-1", registry.WarningCancelled, "officer-a", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := e.do(oa, "DELETE", "/api/v1/media/"+shaA, nil); r.status != http.StatusOK {
		t.Errorf("delete after the warning ended: %d %s", r.status, r.body)
	}
}

// Two communes holding the same content: one deleting it takes it out of
// its own library only; the other keeps it, under its own name.
func TestMediaSharedContentDeletedAndRenamedPerCommune(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.reg.LinkMedia(ctx, shaA, "b", "officer-b", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	oa, ob := e.login("officer-a"), e.login("officer-b")
	r := e.do(oa, "PATCH", "/api/v1/media/"+shaA, map[string]string{"name": "  Thông báo họp tổ dân phố  "})
	if r.status != http.StatusOK || !strings.Contains(r.body, `"name": "Thông báo họp tổ dân phố"`) {
		t.Fatalf("rename: %d %s", r.status, r.body)
	}
	if got := names(t, e.do(oa, "GET", "/api/v1/media", nil))[shaA]; got != "Thông báo họp tổ dân phố" {
		t.Errorf("commune A's name after renaming: %q", got)
	}
	if got := names(t, e.do(ob, "GET", "/api/v1/media", nil))[shaA]; got != "ban-tin-a.mp3" {
		t.Errorf("commune B's name after A renamed its copy: %q, want it unchanged", got)
	}
	for _, bad := range []string{"", "   ", strings.Repeat("á", registry.MaxMediaName+1), "tên\x00lạ"} {
		if r := e.do(oa, "PATCH", "/api/v1/media/"+shaA, map[string]string{"name": bad}); r.status != http.StatusBadRequest {
			t.Errorf("rename to %q: %d %s", bad, r.status, r.body)
		}
	}
	if r := e.do(e.login("province-1"), "PATCH", "/api/v1/media/"+shaA, map[string]string{"name": "x"}); r.status != http.StatusForbidden {
		t.Errorf("province user renames: %d", r.status)
	}

	r = e.do(ob, "DELETE", "/api/v1/media/"+shaA, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"removed": false`) {
		t.Fatalf("B deletes its copy: %d %s", r.status, r.body)
	}
	if _, ok := names(t, e.do(ob, "GET", "/api/v1/media", nil))[shaA]; ok {
		t.Error("still in B's library after B deleted it")
	}
	if got := names(t, e.do(oa, "GET", "/api/v1/media", nil))[shaA]; got != "Thông báo họp tổ dân phố" {
		t.Errorf("A's copy after B deleted its own: %q", got)
	}
}

// An empty file and a file that is not audio are told apart; the limits
// the form states are the server's.
func TestMediaUploadRefusalsToldApart(t *testing.T) {
	e := newEnv(t)
	oa := e.login("officer-a")
	for _, tc := range []struct {
		name string
		body []byte
		code string
	}{
		{"empty", []byte{}, "empty"},
		{"text", []byte("Đây không phải là tệp âm thanh.\n"), "not_audio"},
		{"cut.mp3", []byte("ID3\x04\x00\x00\x00\x00\x00\x00"), "corrupt"},
	} {
		r := e.do(oa, "POST", "/api/v1/media?name="+tc.name, tc.body)
		if r.status != http.StatusUnprocessableEntity || r.code() != tc.code {
			t.Errorf("%s upload: %d %s, want 422 %s", tc.name, r.status, r.body, tc.code)
		}
	}
	var lim MediaLimits
	r := e.do(oa, "GET", "/api/v1/media/limits", nil)
	if json.Unmarshal([]byte(r.body), &lim) != nil || lim.MaxUploadBytes != 64<<10 || lim.TargetLUFS != -16 || lim.MaxDurationS != 7200 {
		t.Errorf("limits: %d %s", r.status, r.body)
	}
}

// An administrator uploading for a commune puts the recording in that
// commune's library, under the name it was uploaded with; other communes
// do not see it.
func TestMediaUploadedByAdminForCommune(t *testing.T) {
	e := newEnv(t)
	r := e.do(e.tokenClient(), "POST", "/api/v1/media?area=a&name=Th%C3%B4ng+b%C3%A1o+t%E1%BB%AB+huy%E1%BB%87n.wav", wav(t, "440"))
	if r.status != http.StatusCreated {
		t.Fatalf("admin uploads for commune a: %d %s", r.status, r.body)
	}
	var m registry.Media
	json.Unmarshal([]byte(r.body), &m)
	if got := names(t, e.do(e.login("officer-a"), "GET", "/api/v1/media", nil))[m.SHA256]; got != "Thông báo từ huyện.wav" {
		t.Errorf("commune a's officer sees the admin's upload as %q", got)
	}
	if _, ok := names(t, e.do(e.login("officer-b"), "GET", "/api/v1/media", nil))[m.SHA256]; ok {
		t.Error("commune b sees commune a's recording")
	}
	if r := e.do(e.login("officer-b"), "POST", "/api/v1/media?area=a&name=x.wav", wav(t, "550")); r.status != http.StatusForbidden {
		t.Errorf("officer b uploads into commune a: %d %s", r.status, r.body)
	}
	// Deleted, then uploaded again: it is back.
	if r := e.do(e.tokenClient(), "DELETE", "/api/v1/media/"+m.SHA256, nil); r.status != http.StatusOK {
		t.Fatalf("admin deletes: %d %s", r.status, r.body)
	}
	if r := e.do(e.tokenClient(), "POST", "/api/v1/media?area=a&name=lai.wav", wav(t, "440")); r.status != http.StatusCreated {
		t.Fatalf("upload again: %d %s", r.status, r.body)
	}
	if got := names(t, e.do(e.login("officer-a"), "GET", "/api/v1/media", nil))[m.SHA256]; got != "lai.wav" {
		t.Errorf("uploaded again after deletion: listed as %q", got)
	}
}

// ?progress=1 streams the server's work as JSON lines, then the answer;
// a refusal before the work starts is a plain error answer.
func TestMediaUploadStreamsProgress(t *testing.T) {
	e := newEnv(t)
	oa := e.login("officer-a")
	r := e.do(oa, "POST", "/api/v1/media?progress=1&name=a.wav", wav(t, "440"))
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/x-ndjson") {
		t.Fatalf("streamed upload: %d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var stages []string
	var last struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	}
	sc := bufio.NewScanner(strings.NewReader(r.body))
	for sc.Scan() {
		var l struct {
			Progress *struct {
				Stage string  `json:"stage"`
				Done  float64 `json:"done"`
			} `json:"progress"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if l.Progress == nil {
			json.Unmarshal(sc.Bytes(), &last)
			continue
		}
		if len(stages) == 0 || stages[len(stages)-1] != l.Progress.Stage {
			stages = append(stages, l.Progress.Stage)
		}
	}
	if !slices.Equal(stages, []string{"measure", "transcode"}) {
		t.Errorf("progress stages %v", stages)
	}
	var m registry.Media
	if last.Status != http.StatusCreated || json.Unmarshal(last.Body, &m) != nil || m.Name != "a.wav" || len(m.SHA256) != 64 {
		t.Errorf("last line: %d %s", last.Status, last.Body)
	}
	if r := e.do(oa, "POST", "/api/v1/media?progress=1&name=x", []byte{}); r.status != http.StatusUnprocessableEntity || r.code() != "empty" {
		t.Errorf("empty streamed upload: %d %s", r.status, r.body)
	}
}

// A refusal found while the server works (an mp3 cut in half decodes to
// half its declared length) comes as the stream's last line, with its code.
func TestMediaUploadStreamEndsWithTheRefusal(t *testing.T) {
	e := newEnv(t)
	out := filepath.Join(t.TempDir(), "t.mp3")
	if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=6",
		"-ac", "1", "-c:a", "libmp3lame", "-b:a", "32k", "-y", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, b)
	}
	mp3, _ := os.ReadFile(out)
	r := e.do(e.login("officer-a"), "POST", "/api/v1/media?progress=1&name=cut.mp3", mp3[:len(mp3)/2])
	lines := strings.Split(strings.TrimSpace(r.body), "\n")
	var last struct {
		Status int `json:"status"`
		Body   struct {
			Code string `json:"code"`
		} `json:"body"`
	}
	if r.status != http.StatusOK || len(lines) < 2 || json.Unmarshal([]byte(lines[len(lines)-1]), &last) != nil ||
		last.Status != http.StatusUnprocessableEntity || last.Body.Code != "corrupt" {
		t.Errorf("streamed upload of a cut mp3: %d\n%s\nwant progress lines, then status 422 code corrupt", r.status, r.body)
	}
}
