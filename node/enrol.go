package node

// Enrolment on the box: `radio-node enrol CODE -controller https://...`
// redeems a one-time code (made in the web app) over HTTPS for the node's
// config and broker credentials, and writes the config file. The box checks
// the controller's certificate against the system's CAs, a CA file (-ca), or
// a pin of its public key (-pin, given with the code: for a controller with
// a self-signed or private certificate, where the installer has nothing
// else to trust). A code works once, so nothing is sent before the config
// file is known to be writable.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/internal/atomicfile"
)

// EnrolConfig says where and how to enrol.
type EnrolConfig struct {
	Code       string // as the installer typed it
	Controller string // https://host[:port] of the controller
	ConfigPath string // the node config file to write
	CAFile     string // PEM CA(s) that sign the controller's certificate ("" = the system's)
	Pin        string // "sha256//<base64>" of the certificate's public key, given with the code
	DataDir    string // overrides the data_dir of the answer and of an existing file
	Force      bool   // replace a config that already holds credentials
	Version    string
	Logger     *slog.Logger
	Now        func() time.Time // nil: time.Now
}

// CAFileName is the file next to the config where enrolment keeps the CA
// the node verifies an ssl:// broker with, when the system's CAs do not
// vouch for the controller's certificate.
const CAFileName = "controller-ca.pem"

// Enrol redeems the code and writes the node's config (mode 0600,
// atomically). Fields of an existing config that enrolment does not give
// (audio_output, amp_path, cache_max_mb, data_dir...) are kept: an
// installer or a package may lay out the box's hardware settings first.
func Enrol(ctx context.Context, c EnrolConfig) (Config, error) {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	base, err := url.Parse(c.Controller)
	if err != nil || base.Host == "" {
		return Config{}, fmt.Errorf("enrol: -controller %q: want https://host:port of the controller", c.Controller)
	}
	if base.Scheme != "https" {
		return Config{}, fmt.Errorf("enrol: -controller %q: enrolment carries the box's broker password, so it is done over HTTPS only (https://...)", c.Controller)
	}
	if c.ConfigPath == "" {
		return Config{}, fmt.Errorf("enrol: no config file path")
	}
	existing, err := readExisting(c.ConfigPath, c.Force)
	if err != nil {
		return Config{}, err
	}
	dir := filepath.Dir(c.ConfigPath)
	if err := checkWritable(dir); err != nil {
		return Config{}, err
	}
	tlsConf, pinned, err := enrolTLS(c, now)
	if err != nil {
		return Config{}, err
	}

	body, _ := json.Marshal(nodeproto.EnrolRequest{Code: c.Code, Version: c.Version})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base.String(), "/")+nodeproto.EnrolPath, bytes.NewReader(body))
	if err != nil {
		return Config{}, fmt.Errorf("enrol: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tlsConf, Proxy: http.ProxyFromEnvironment},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return Config{}, connectError(c.Controller, err, now())
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Config{}, fmt.Errorf("enrol: reading the controller's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Code string }
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("HTTP %s (is %s the controller?)", resp.Status, c.Controller)
		}
		return Config{}, fmt.Errorf("enrol: refused: %s", e.Error)
	}
	var en nodeproto.Enrolment
	if err := json.Unmarshal(raw, &en); err != nil {
		return Config{}, fmt.Errorf("enrol: the controller's answer is not an enrolment: %w", err)
	}
	if err := en.Validate(); err != nil {
		return Config{}, err
	}

	// The code is used now: from here on, a failure must say what to do.
	set := map[string]any{"id": en.ID, "secret": en.Secret, "broker": en.Broker, "controller_keys": en.ControllerKeys}
	if len(en.UpdateKeys) > 0 {
		set["update_keys"] = en.UpdateKeys // without them the box installs no update
	}
	switch {
	case c.DataDir != "":
		set["data_dir"] = c.DataDir
	case existing["data_dir"] == nil:
		set["data_dir"] = en.DataDir
	}
	if ca, err := brokerCA(c, en, pinned); err != nil {
		return Config{}, fmt.Errorf("enrol: %w (the code is used: ask for a new one after fixing this)", err)
	} else if ca != nil {
		caPath := filepath.Join(dir, CAFileName)
		if err := atomicfile.Write(caPath, ca, 0o644); err != nil {
			return Config{}, fmt.Errorf("enrol: %w (the code is used: ask for a new one after fixing this)", err)
		}
		set["ca_file"] = caPath
	}
	for k, v := range set {
		b, _ := json.Marshal(v)
		existing[k] = b
	}
	out, err := json.MarshalIndent(existing, "", "  ")
	if err != nil {
		return Config{}, fmt.Errorf("enrol: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(out, &cfg); err != nil {
		return Config{}, fmt.Errorf("enrol: %w", err)
	}
	if err := cfg.Check(); err != nil {
		return Config{}, err
	}
	if err := atomicfile.Write(c.ConfigPath, append(out, '\n'), 0o600); err != nil {
		return Config{}, fmt.Errorf("enrol: %w (the code is used: ask for a new one after fixing this)", err)
	}
	if err := os.Chmod(c.ConfigPath, 0o600); err != nil { // a temporary file left by a crash kept its mode
		return Config{}, fmt.Errorf("enrol: %w", err)
	}
	if err := shareWithDaemon(c.ConfigPath); err != nil {
		return Config{}, fmt.Errorf("enrol: %w", err)
	}
	if c.Logger != nil {
		c.Logger.Info("enrolled", "node", en.ID, "station", en.Station, "zones", en.Zones, "broker", en.Broker, "config", c.ConfigPath)
	}
	return cfg, nil
}

// readExisting reads a config file that may already be there. One holding
// credentials is refused unless force: re-enrolling by mistake would take a
// working box off the air.
func readExisting(path string, force bool) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return out, nil
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("enrol: the existing config %s is not JSON (%v): move it away first", path, err)
	}
	var prev struct{ ID, Secret string }
	json.Unmarshal(b, &prev)
	if prev.Secret != "" && !force {
		return nil, fmt.Errorf("enrol: %s already holds the credentials of node %q: add -force to replace them (the old ones stop being used)", path, prev.ID)
	}
	return out, nil
}

// checkWritable makes sure the config can be written before the code is
// spent.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	f, err := os.CreateTemp(dir, ".enrol-check-*")
	if err != nil {
		return fmt.Errorf("enrol: cannot write the config in %s (run as root?): %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// enrolTLS is how the controller's certificate is checked. With a pin and
// no CA file, the pin alone: the certificate may be self-signed.
func enrolTLS(c EnrolConfig, now func() time.Time) (*tls.Config, *[]*x509.Certificate, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, Time: now}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("enrol: -ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("enrol: -ca %s holds no PEM certificate", c.CAFile)
		}
		conf.RootCAs = pool
	}
	if c.Pin == "" {
		return conf, nil, nil
	}
	want, err := parsePin(c.Pin)
	if err != nil {
		return nil, nil, err
	}
	var peer []*x509.Certificate
	conf.InsecureSkipVerify = c.CAFile == "" // the pin is the check; with -ca, both
	conf.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("the controller sent no certificate")
		}
		got := sha256.Sum256(cs.PeerCertificates[0].RawSubjectPublicKeyInfo)
		if !bytes.Equal(got[:], want) {
			return fmt.Errorf("the controller's certificate does not match the pin given with the code (sha256//%s): check the address, or ask for the code again", base64.StdEncoding.EncodeToString(got[:]))
		}
		peer = cs.PeerCertificates
		return nil
	}
	return conf, &peer, nil
}

func parsePin(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "sha256//"))
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("enrol: -pin %q: want sha256// and the base64 sha256 of the certificate's public key, as shown with the code", s)
	}
	return b, nil
}

// brokerCA is the CA file content the node needs for an ssl:// broker
// (nil: the system's CAs do): the -ca file, or with a pin whose
// certificate the system does not vouch for, the certificates the
// controller presented (the broker serves the same certificate).
func brokerCA(c EnrolConfig, en nodeproto.Enrolment, pinned *[]*x509.Certificate) ([]byte, error) {
	if !strings.HasPrefix(en.Broker, "ssl://") {
		return nil, nil
	}
	if c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("-ca: %w", err)
		}
		return b, nil
	}
	if pinned == nil || len(*pinned) == 0 {
		return nil, nil
	}
	chain := *pinned
	u, _ := url.Parse(en.Broker)
	inter := x509.NewCertPool()
	for _, ct := range chain[1:] {
		inter.AddCert(ct)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{DNSName: u.Hostname(), Intermediates: inter}); err == nil {
		return nil, nil
	}
	var b bytes.Buffer
	for _, ct := range chain {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: ct.Raw})
	}
	return b.Bytes(), nil
}

// connectError explains a failed connection: a clock far off (a box without
// a real-time clock boots in 1970) makes every certificate look invalid.
func connectError(controller string, err error, now time.Time) error {
	var cv *tls.CertificateVerificationError
	var ue x509.UnknownAuthorityError
	switch {
	case errors.As(err, &cv) && now.Year() < 2025:
		return fmt.Errorf("enrol: the controller's certificate cannot be checked while this box's clock says %s: wait until the clock is set (NTP), then run this again: %w", now.Format("2006-01-02 15:04"), err)
	case errors.As(err, &ue):
		return fmt.Errorf("enrol: %s has a certificate this box does not trust: give -ca with the CA file, or -pin as shown with the code: %w", controller, err)
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("enrol: cannot reach %s (network, address or port?): %w", controller, err)
	}
	return fmt.Errorf("enrol: %s: %w", controller, err)
}

// shareWithDaemon lets the packaged daemon read the config it runs from:
// the Debian package runs the node as its own user, radio-node, and the
// config holds the box's secret, so it becomes root:radio-node 0640 (as
// the package's postinst leaves it). Without that group (a node run by
// hand) the file stays 0600 to whoever enrolled.
func shareWithDaemon(path string) error {
	g, err := user.LookupGroup("radio-node")
	if err != nil || os.Geteuid() != 0 {
		return nil
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return nil
	}
	if err := os.Chown(path, 0, gid); err != nil {
		return err
	}
	return os.Chmod(path, 0o640)
}
