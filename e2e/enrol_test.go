package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

type enrolCode struct {
	ID      string `json:"id"`
	Code    string `json:"code"`
	Command string `json:"command"`
	Pin     string `json:"pin"`
	Status  string `json:"status"`
}

// runEnrol runs the command shown with a code on "the box" (the built
// radio-node), with extra arguments.
func runEnrol(t *testing.T, command string, extra ...string) (string, error) {
	t.Helper()
	args := strings.Fields(command)
	if args[0] != "radio-node" || args[1] != "enrol" {
		t.Fatalf("the command shown with the code is %q, want radio-node enrol ...", command)
	}
	out, err := exec.Command(bin+"/radio-node", append(args[1:], extra...)...).CombinedOutput()
	return string(out), err
}

// A commune officer makes codes; on the box, `radio-node enrol CODE` fetches
// the config over HTTPS once (by the pin shown with the code, or by a CA
// file), keeps the box's own settings, and the node comes online in its
// zone over the TLS broker. A used code, a wrong pin and a box already
// enrolled are refused, and the last two do not spend the code.
func TestEnrolOnTheBox(t *testing.T) {
	dir := t.TempDir()
	caFile, cert, key := writeCA(t, dir)
	port := freePort(t)
	ctlDir := filepath.Join(dir, "ctl")
	// The broker listens on every address: the enrolment answer names the
	// host the box reached the controller by.
	p := start(t, "controller", nil, bin+"/radio-controller", "-data", ctlDir, "-http", "127.0.0.1:0", "-mqtt", "127.0.0.1:0",
		"-tls-cert", cert, "-tls-key", key, "-mqtt-tls", "0.0.0.0:"+port)
	url := p.wait(t, `controller ready" http=(https://[0-9.:]+)`, 60*time.Second)
	tok, _ := os.ReadFile(filepath.Join(ctlDir, "admin.token"))
	ctl := &controller{proc: p, dir: ctlDir, url: url, token: strings.TrimSpace(string(tok))}
	trustCA(t, caFile)
	ctl.setupCommuneTLS(t, caFile)
	ctl.mustCall(t, "POST", "/api/v1/zones", map[string]any{"id": "z-cho", "station_id": "st-1", "name": "Chợ"}, nil)
	pw := ctl.createUser(t, "can.bo", "Nguyễn Văn An", "officer", "x-an-phu")
	officer := webClient(t, url, "can.bo", pw)
	newCode := func(id string, zones ...string) enrolCode {
		t.Helper()
		status, body := officer.call("POST", "/api/v1/enrol-codes", map[string]any{"id": id, "name": "Cụm loa " + id, "station_id": "st-1", "zones": zones})
		var c enrolCode
		if status != http.StatusCreated || json.Unmarshal([]byte(body), &c) != nil || c.Code == "" {
			t.Fatalf("officer's code for %s: HTTP %d %s", id, status, body)
		}
		if c.Pin == "" || !strings.Contains(c.Command, " -pin "+c.Pin) || !strings.Contains(c.Command, "-controller "+url) {
			t.Fatalf("the command shown with the code should carry the controller's address and certificate pin: %q", c.Command)
		}
		return c
	}

	// Box 1: by the pin, over a config the installer laid out first.
	c1 := newCode("box-1", "z-center", "z-cho")
	cfg1 := filepath.Join(dir, "box-1", "config.json")
	os.MkdirAll(filepath.Dir(cfg1), 0o755)
	os.WriteFile(cfg1, []byte(`{"audio_output": "silent", "data_dir": "`+filepath.Join(dir, "box-1-data")+`"}`), 0o644)
	out, err := runEnrol(t, c1.Command, "-config", cfg1)
	if err != nil {
		t.Fatalf("radio-node enrol: %v\n%s", err, out)
	}
	var cfg map[string]any
	b, _ := os.ReadFile(cfg1)
	json.Unmarshal(b, &cfg)
	if cfg["id"] != "box-1" || cfg["secret"] == "" || cfg["audio_output"] != "silent" || cfg["broker"] != "ssl://127.0.0.1:"+port ||
		cfg["ca_file"] != filepath.Join(dir, "box-1", "controller-ca.pem") {
		t.Errorf("config written: %s", b)
	}
	// The box pins the controller's update key: it takes signed updates.
	var rel struct {
		Key struct {
			KID string `json:"kid"`
			Pub string `json:"pub"`
		} `json:"update_key"`
	}
	ctl.mustCall(t, "GET", "/api/v1/releases", nil, &rel)
	var keys struct {
		Update []struct {
			KID string `json:"kid"`
			Pub string `json:"pub"`
		} `json:"update_keys"`
	}
	json.Unmarshal(b, &keys)
	if rel.Key.Pub == "" || len(keys.Update) != 1 || keys.Update[0].KID != rel.Key.KID || keys.Update[0].Pub != rel.Key.Pub {
		t.Errorf("update keys written %+v, want the controller's update key %+v (without it the box refuses every release)", keys.Update, rel.Key)
	}
	if st, _ := os.Stat(cfg1); st.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v, want 0600 (it holds the broker password)", st.Mode().Perm())
	}
	startNode(t, "box-1", cfg1, nil)
	ctl.waitOnline(t, "box-1")
	var n struct {
		Zones []string `json:"zones"`
	}
	ctl.mustCall(t, "GET", "/api/v1/nodes/box-1", nil, &n)
	if !slices.Equal(n.Zones, []string{"z-center", "z-cho"}) {
		t.Errorf("box-1 is in zones %v, want z-center, z-cho", n.Zones)
	}

	// The same code again (another box, or the same one forced): refused.
	out, err = runEnrol(t, c1.Command, "-config", filepath.Join(dir, "again.json"))
	if err == nil || !strings.Contains(out, "already used") {
		t.Errorf("a used code: err %v, output %s", err, out)
	}

	// Box 2: a wrong pin, then a box that is already enrolled, are refused
	// without spending the code; then -ca works.
	c2 := newCode("box-2", "z-cho")
	wrongPin := strings.Fields(strings.Replace(c2.Command, c2.Pin, "sha256//"+strings.Repeat("A", 43)+"=", 1))
	out, err = runEnrol(t, strings.Join(wrongPin, " "), "-config", filepath.Join(dir, "box-2", "config.json"))
	if err == nil || !strings.Contains(out, "does not match the pin") {
		t.Errorf("wrong pin: err %v, output %s", err, out)
	}
	withCA := strings.Replace(c2.Command, " -pin "+c2.Pin, "", 1)
	out, err = runEnrol(t, withCA, "-ca", caFile, "-config", cfg1)
	if err == nil || !strings.Contains(out, "already holds the credentials") {
		t.Errorf("enrolling over box-1's config: err %v, output %s", err, out)
	}
	cfg2 := filepath.Join(dir, "box-2", "config.json")
	out, err = runEnrol(t, withCA, "-ca", caFile, "-config", cfg2, "-data", filepath.Join(dir, "box-2-data"))
	if err != nil {
		t.Fatalf("enrol with -ca after the refusals: %v\n%s", err, out)
	}
	b, _ = os.ReadFile(cfg2)
	json.Unmarshal(b, &cfg)
	cfg["audio_output"] = "silent"
	b, _ = json.Marshal(cfg)
	os.WriteFile(cfg2, b, 0o600)
	startNode(t, "box-2", cfg2, nil)
	ctl.waitOnline(t, "box-2")

	// The officer sees both codes used.
	_, body := officer.call("GET", "/api/v1/enrol-codes", nil)
	var list []enrolCode
	json.Unmarshal([]byte(body), &list)
	if len(list) != 2 || list[0].Status != "used" || list[1].Status != "used" {
		t.Errorf("codes listed: %s", body)
	}
}
