package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// fakeController answers enrolment codes as the controller does (a fake:
// the real one runs in e2e TestEnrolOnTheBox) and counts the codes it saw.
func fakeController(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var seen atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req nodeproto.EnrolRequest
		if r.URL.Path != nodeproto.EnrolPath || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "bad request", 400)
			return
		}
		seen.Add(1)
		if req.Code != "KMTX-ACHR-PQNW-EFJY" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error": "unknown enrolment code: check each letter", "code": "enrol_unknown"}`))
			return
		}
		json.NewEncoder(w).Encode(nodeproto.Enrolment{ID: "n1", Station: "st-1", Zones: []string{"z1"}, Secret: "s3cret",
			Broker: "ssl://127.0.0.1:8883", DataDir: "/var/lib/radio-node",
			ControllerKeys: []nodeproto.Key{{ID: "k1", Pub: make([]byte, 32)}}, UpdateKeys: []nodeproto.Key{{ID: "upd-1", Pub: make([]byte, 32)}}})
	}))
	// Its own certificate: httptest's is valid from 1970, which would hide
	// a box's wrong clock.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "controller"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &seen
}

func pinOf(srv *httptest.Server) string {
	h := sha256.Sum256(srv.Certificate().RawSubjectPublicKeyInfo)
	return "sha256//" + base64.StdEncoding.EncodeToString(h[:])
}

func TestEnrolWritesConfigOnce(t *testing.T) {
	srv, seen := fakeController(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "etc", "config.json")
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte(`{"audio_output": "silent", "amp_path": "/sys/class/gpio/gpio17/value"}`), 0o644)
	c := EnrolConfig{Code: "KMTX-ACHR-PQNW-EFJY", Controller: srv.URL, ConfigPath: path, Pin: pinOf(srv), DataDir: filepath.Join(dir, "data")}

	// A wrong code is refused with the controller's reason; nothing written.
	bad := c
	bad.Code = "AAAA-AAAA-AAAA-AAAA"
	if _, err := Enrol(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "unknown enrolment code") {
		t.Errorf("wrong code: %v", err)
	}
	cfg, err := Enrol(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ID != "n1" || cfg.Secret != "s3cret" || cfg.AudioOutput != "silent" || cfg.AmpPath == "" || cfg.DataDir != c.DataDir {
		t.Errorf("config %+v: want the enrolment's credentials and the box's own settings", cfg)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v, want 0600", st.Mode().Perm())
	}
	// The test server's certificate is trusted by the pin only: the broker
	// (same certificate) needs it as the node's CA file.
	ca, err := os.ReadFile(cfg.CAFile)
	if b, _ := pem.Decode(ca); err != nil || b == nil || string(b.Bytes) != string(srv.Certificate().Raw) {
		t.Errorf("ca_file %q does not hold the controller's certificate (%v)", cfg.CAFile, err)
	}
	if loaded, err := LoadConfig(path); err != nil || loaded.ID != "n1" {
		t.Errorf("the written config does not load: %+v %v", loaded, err)
	} else if len(loaded.UpdateKeys) != 1 || loaded.UpdateKeys[0].ID != "upd-1" {
		t.Errorf("update keys %+v, want the enrolment's upd-1 (a box without one refuses every update)", loaded.UpdateKeys)
	}

	// Again over the enrolled config: refused before anything is sent.
	before := seen.Load()
	if _, err := Enrol(context.Background(), c); err == nil || !strings.Contains(err.Error(), "already holds the credentials") {
		t.Errorf("enrolling over an enrolled config: %v", err)
	}
	if seen.Load() != before {
		t.Error("the code was sent although the config could not be replaced")
	}
}

// The code is never sent where the controller cannot be checked: plain
// HTTP, a wrong pin, a clock in 1970 (and then the box is told why).
func TestEnrolSendsNoCodeUnverified(t *testing.T) {
	srv, seen := fakeController(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	base := EnrolConfig{Code: "KMTX-ACHR-PQNW-EFJY", Controller: srv.URL, ConfigPath: filepath.Join(dir, "config.json")}
	for name, tc := range map[string]struct {
		change func(*EnrolConfig)
		want   string
	}{
		"plain http":    {func(c *EnrolConfig) { c.Controller = strings.Replace(srv.URL, "https://", "http://", 1) }, "HTTPS only"},
		"wrong pin":     {func(c *EnrolConfig) { c.Pin = "sha256//" + base64.StdEncoding.EncodeToString(make([]byte, 32)) }, "does not match the pin"},
		"no trust":      {func(*EnrolConfig) {}, "does not trust"},
		"clock in 1970": {func(c *EnrolConfig) { c.CAFile = caFile; c.Now = func() time.Time { return time.Unix(0, 0) } }, "clock says 1970-01-01"},
	} {
		c := base
		c.ConfigPath = filepath.Join(dir, strings.ReplaceAll(name, " ", "-"), "config.json")
		tc.change(&c)
		if _, err := Enrol(context.Background(), c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.want)
		}
	}
	if n := seen.Load(); n != 0 {
		t.Errorf("the controller saw %d codes, want none", n)
	}
	if found, _ := filepath.Glob(filepath.Join(dir, "*", "config.json")); len(found) != 0 {
		t.Errorf("configs were written: %v", found)
	}
	// With the CA file and a right clock it works.
	c := base
	c.CAFile = caFile
	if _, err := Enrol(context.Background(), c); err != nil {
		t.Errorf("with -ca: %v", err)
	}
}
