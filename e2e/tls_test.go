package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// writeCA makes a CA and a certificate for 127.0.0.1 signed by it.
func writeCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test commune radio CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "controller"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return
}

// With a certificate configured, the API is HTTPS only and nodes reach the
// broker over TLS, verifying it against the CA pinned in their config.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, cert, key := writeCA(t, dir)
	mqttTLS := "127.0.0.1:" + freePort(t)
	ctlDir := filepath.Join(dir, "ctl")
	p := start(t, "controller", nil, bin+"/radio-controller", "-data", ctlDir, "-http", "127.0.0.1:0", "-mqtt", "127.0.0.1:0",
		"-tls-cert", cert, "-tls-key", key, "-mqtt-tls", mqttTLS)
	url := p.wait(t, `controller ready" http=(https://[0-9.:]+)`, 60*time.Second)
	tok, _ := os.ReadFile(filepath.Join(ctlDir, "admin.token"))
	ctl := &controller{proc: p, dir: ctlDir, url: url, token: strings.TrimSpace(string(tok))}

	// Plain HTTP to the HTTPS port is refused; HTTPS with the CA works.
	if resp, err := http.Get(strings.Replace(url, "https://", "http://", 1) + "/api/v1/health"); err == nil && resp.StatusCode < 400 {
		t.Errorf("plain HTTP accepted: %v", resp.Status)
	}
	trustCA(t, caFile)

	ctl.setupCommuneTLS(t, caFile)
	cfgPath := filepath.Join(dir, "t1.json")
	out := ctl.radioctlTLS(t, caFile, "node", "add", "t1", "st-1", "-zone", "z-center", "-out", cfgPath)
	if !strings.Contains(out, "enrolled") {
		t.Fatalf("enrol: %s", out)
	}
	b, _ := os.ReadFile(cfgPath)
	var cfg map[string]any
	json.Unmarshal(b, &cfg)
	if cfg["broker"] != "ssl://"+mqttTLS {
		t.Fatalf("enrolled node's broker = %v, want ssl://%s", cfg["broker"], mqttTLS)
	}
	cfg["data_dir"] = filepath.Join(dir, "t1-data")
	cfg["audio_output"] = "silent"
	cfg["ca_file"] = caFile
	b, _ = json.Marshal(cfg)
	os.WriteFile(cfgPath, b, 0o600)
	startNode(t, "t1", cfgPath, nil)
	ctl.waitOnline(t, "t1")

	// A client that does not trust the CA cannot connect, even with the
	// node's own credentials; nor can a plain-TCP client on the TLS port.
	for name, opts := range map[string]*mqtt.ClientOptions{
		"untrusted": mqtt.NewClientOptions().AddBroker("ssl://" + mqttTLS).SetTLSConfig(&tls.Config{}),
		"plain tcp": mqtt.NewClientOptions().AddBroker("tcp://" + mqttTLS),
	} {
		opts.SetClientID("t1").SetUsername("t1").SetPassword(cfg["secret"].(string)).SetConnectTimeout(3 * time.Second).SetAutoReconnect(false)
		c := mqtt.NewClient(opts)
		if tok := c.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
			c.Disconnect(0)
			t.Errorf("%s client connected to the TLS listener", name)
		}
	}
}

// trustCA makes the test's HTTP clients trust the CA in caFile until the
// test ends.
func trustCA(t *testing.T, caFile string) {
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(pem)
	old := http.DefaultTransport
	http.DefaultTransport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	t.Cleanup(func() { http.DefaultTransport = old })
}

func (c *controller) radioctlTLS(t *testing.T, ca string, args ...string) string {
	t.Helper()
	return c.radioctl(t, append([]string{"-cacert", ca}, args...)...)
}

func (c *controller) setupCommuneTLS(t *testing.T, ca string) {
	c.radioctlTLS(t, ca, "area", "add", "p-79", "Thành phố Hồ Chí Minh", "-kind", "province")
	c.radioctlTLS(t, ca, "area", "add", "x-an-phu", "Xã An Phú", "-kind", "commune", "-parent", "p-79")
	c.radioctlTLS(t, ca, "station", "add", "st-1", "x-an-phu", "Đài truyền thanh xã An Phú")
	c.radioctlTLS(t, ca, "zone", "add", "z-center", "st-1")
}
