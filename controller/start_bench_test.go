package controller

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/broker"
	"github.com/communeradio/radio/controller/internal/registry"
)

// seedNodes makes a registry of n nodes (10 a station) in dir, straight
// through SQL in one transaction: enrolling them one by one through the API
// would take longer than the benchmark.
func seedNodes(b *testing.B, dir string, n int) {
	b.Helper()
	// One valid Mosquitto hash for every node (hashing 100,000 secrets
	// would take longer than the benchmark): the external broker's
	// password file refuses anything else.
	hash, err := broker.HashSecret("bench")
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "registry.db")
	reg, err := registry.Open(path, registry.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	reg.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=synchronous(OFF)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	exec := func(q string, args ...any) {
		if _, err := tx.Exec(q, args...); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	now := time.Now().UnixMilli()
	exec("INSERT INTO areas(id, kind, name) VALUES ('tinh', 'province', 'Tỉnh')")
	for s := 0; s < n/10; s++ {
		area, st := fmt.Sprintf("xa-%05d", s), fmt.Sprintf("dai-%05d", s)
		exec("INSERT INTO areas(id, parent_id, kind, name) VALUES (?, 'tinh', 'commune', ?)", area, "Xã "+area)
		exec("INSERT INTO stations(id, area_id, name, kind) VALUES (?, ?, ?, 'ip')", st, area, "Đài "+area)
		exec("INSERT INTO zones(id, station_id, name) VALUES (?, ?, 'Cả xã')", "z-"+st, st)
		for i := 0; i < 10; i++ {
			node := fmt.Sprintf("%s-%02d", st, i)
			exec("INSERT INTO nodes(id, station_id, name, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)", node, st, node, hash, now)
			exec("INSERT INTO zone_nodes(zone_id, node_id) VALUES (?, ?)", "z-"+st, node)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

func freeAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// BenchmarkStart is the time from Run to the first answer of the API, as
// an HTTP client polling from outside sees it, with RADIO_START_NODES
// nodes enrolled (default 100,000): the health check, and a node's page
// with the administrator's token. Then how long publishing every node's
// desired state took in the background, the first start (nothing
// published before) and a restart (nothing changed: none sent again).
// cpu-s-to-health is the process's CPU time until the first answer (the
// polling client's share is small): on a loaded machine it says more than
// the wall time.
// Goal (issue 12): the API answers within 5 s.
func BenchmarkStart(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("RADIO_START_NODES")); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	t0 := time.Now()
	seedNodes(b, dir, n)
	var mosq *mosquitto
	if os.Getenv("RADIO_START_BROKER") == "mosquitto" {
		mosq = startMosquitto(b, filepath.Join(dir, "mosquitto"))
	}
	b.Logf("seeded %d nodes in %v", n, time.Since(t0).Round(time.Millisecond))
	for _, run := range []string{"first", "restart"} {
		if run == "restart" {
			appliedAll(b, dir)
		}
		b.Run(run, func(b *testing.B) {
			for b.Loop() {
				startOnce(b, dir, n, mosq)
			}
		})
	}
}

// appliedAll makes every node report that it applied the desired state
// last published to it, as connected nodes would have before a restart.
func appliedAll(b *testing.B, dir string) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "registry.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT OR REPLACE INTO node_state(node_id, online, state, updated_at)
		SELECT id, 0, json_object('node', id, 'desired_rev', desired_rev), ? FROM nodes`, time.Now().UnixMilli()); err != nil {
		b.Fatal(err)
	}
}

// mosquitto is Debian's broker, running on a configuration the controller
// rewrites at each start (RADIO_START_BROKER=mosquitto).
type mosquitto struct{ dir, addr, pidFile string }

// startMosquitto starts Mosquitto on a first configuration with no node
// yet, as an installer's would be before the controller's first start.
func startMosquitto(b *testing.B, dir string) *mosquitto {
	m := &mosquitto{dir: dir, addr: freeAddr(b), pidFile: filepath.Join(dir, "mosquitto.pid")}
	h, err := broker.HashSecret(broker.NewSecret())
	if err != nil {
		b.Fatal(err)
	}
	conf, err := broker.WriteMosquittoConfig(dir, m.addr, "root", "controller", h, nil)
	if err != nil {
		b.Fatal(err)
	}
	bin := "/usr/sbin/mosquitto"
	if p, err := exec.LookPath("mosquitto"); err == nil {
		bin = p
	}
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		b.Fatalf("mosquitto (make deps installs it): %v", err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if err := os.WriteFile(m.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", m.addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("mosquitto does not listen after 10 s")
		}
	}
	return m
}

func startOnce(b *testing.B, dir string, n int, mosq *mosquitto) {
	httpAddr := freeAddr(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	published := make(chan time.Duration, 1)
	var logTo io.Writer = io.Discard
	if os.Getenv("RADIO_START_LOG") != "" {
		logTo = os.Stderr
	}
	cfg := Config{DataDir: dir, HTTPAddr: httpAddr, MQTTAddr: freeAddr(b),
		Logger: slog.New(slog.NewTextHandler(logTo, nil)), TTSCommand: "true"}
	if mosq != nil {
		cfg.BrokerURL, cfg.MosquittoDir, cfg.MosquittoPIDFile, cfg.MosquittoUser = "tcp://"+mosq.addr, mosq.dir, mosq.pidFile, "root"
	}
	cpuStart := cpuTime()
	start := time.Now()
	cfg.desiredDone = func() { published <- time.Since(start) }
	go func() { done <- Run(ctx, cfg) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	url := "http://" + httpAddr
	wait := func(path, token string) time.Duration {
		for {
			req, _ := http.NewRequest("GET", url+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return time.Since(start)
				}
			}
			if time.Since(start) > 5*time.Minute {
				b.Fatalf("no answer on %s after 5 min (last: %v)", path, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	health := wait("/api/v1/health", "")
	cpuHealth := cpuTime() - cpuStart
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		b.Fatal(err)
	}
	node := wait("/api/v1/nodes/dai-00001-01", strings.TrimSpace(string(tok)))
	cpu0 := cpuTime()
	b.ReportMetric(health.Seconds(), "s-to-health")
	b.ReportMetric(node.Seconds(), "s-to-node-page")
	b.ReportMetric(cpuHealth.Seconds(), "cpu-s-to-health")
	select {
	case d := <-published:
		b.ReportMetric(d.Seconds(), "s-all-desired")
		b.ReportMetric((cpuTime() - cpu0).Seconds(), "cpu-s-publishing")
	case <-time.After(30 * time.Minute):
		b.Fatal("desired state not all published after 30 min")
	}
	b.ReportMetric(float64(n), "nodes")
}

// cpuTime is the process's user and system CPU time so far: on a shared
// machine the wall clock says more about the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
