package controller

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	_ "time/tzdata" // schedules run in Asia/Ho_Chi_Minh on any machine

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/controller/internal/api"
	"github.com/communeradio/radio/controller/internal/backup"
	"github.com/communeradio/radio/controller/internal/broker"
	"github.com/communeradio/radio/controller/internal/desired"
	"github.com/communeradio/radio/controller/internal/fleet"
	"github.com/communeradio/radio/controller/internal/live"
	"github.com/communeradio/radio/controller/internal/media"
	"github.com/communeradio/radio/controller/internal/metrics"
	"github.com/communeradio/radio/controller/internal/programme"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/release"
	"github.com/communeradio/radio/controller/internal/retention"
	"github.com/communeradio/radio/controller/internal/scheduler"
	"github.com/communeradio/radio/controller/internal/signer"
	"github.com/communeradio/radio/controller/internal/tts"
	"github.com/communeradio/radio/controller/internal/warning"
	"github.com/communeradio/radio/controller/internal/web"
	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/internal/atomicfile"
)

const controllerUser = "controller"

// Run starts the controller and serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.DataDir == "" {
		cfg.DataDir = "data"
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:8080"
	}
	if cfg.MQTTAddr == "" {
		cfg.MQTTAddr = "127.0.0.1:1883"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	began := cfg.Now()
	if _, err := retention.CheckMonths(cfg.RetainMonths); err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("controller: data dir: %w", err)
	}
	dbPath := filepath.Join(cfg.DataDir, "registry.db")
	reg, err := registry.Open(dbPath, registry.Options{Logger: log, Now: cfg.Now})
	if err != nil {
		return err
	}
	defer reg.Close()
	// Work of the start that the API need not wait for reports its
	// failure here, and Run stops with it as it would have before
	// answering.
	failed := make(chan error, 2)
	// The first administrator's password hash (PBKDF2, slow by design)
	// is made while the rest starts; only the account routes wait for it.
	adminReady, err := firstAdmin(ctx, reg, cfg.DataDir, log, failed)
	if err != nil {
		return err
	}
	defer func() { <-adminReady }() // before the registry closes
	met := metrics.New(cfg.Now)
	store, err := media.New(filepath.Join(cfg.DataDir, "media"), media.Options{MaxUpload: cfg.MaxUpload, Logger: log})
	if err != nil {
		return err
	}
	sig, err := signer.LoadOrCreate(cfg.DataDir)
	if err != nil {
		return err
	}

	// The broker: embedded, or external with generated credentials.
	var (
		brokerURL  = cfg.BrokerURL
		secret     string
		embedded   *broker.Broker
		nodeBroker = cfg.NodeBroker
		onCreds    func(context.Context)
	)
	var tlsConf *tls.Config
	var tlsPin string // given with enrolment codes
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("controller: TLS certificate: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if tlsPin, err = api.CertPin(cert); err != nil {
			return fmt.Errorf("controller: TLS certificate: %w", err)
		}
	}
	// The broker asks for a node's zones on every zone command it delivers
	// (thousands at once for an emergency): answer from memory, reloaded
	// whenever enrolment or zones change.
	zones := &zoneCache{ready: make(chan struct{})}
	go func() {
		// Read while the rest starts; a node's zones are first asked for
		// once it connects, and wait for this read.
		if err := zones.load(ctx, reg); err != nil {
			failed <- err
		}
		close(zones.ready)
	}()
	defer func() { <-zones.ready }()
	if brokerURL == "" {
		onCreds = coalesce(func(ctx context.Context) {
			if err := zones.load(ctx, reg); err != nil {
				log.Error("reloading zone membership", "err", err)
			}
		}).Do
		secret = broker.NewSecret() // in-process broker: a fresh secret each start
		embedded, err = broker.Start(broker.Config{
			Addr: cfg.MQTTAddr, TLSAddr: cfg.MQTTTLSAddr, TLS: tlsConf, Logger: log.With("part", "broker"),
			ControllerUser: controllerUser, ControllerSecret: secret,
			NodeHash: func(node string) (string, bool) {
				h, revoked, err := reg.NodeSecret(context.Background(), node)
				return string(h), err == nil && !revoked
			},
			NodeZones: zones.get,
		})
		if err != nil {
			return err
		}
		defer embedded.Close()
		// The old broker's sessions (and the nodes' last wills) died with it:
		// every node is offline until it reconnects.
		if err := reg.MarkAllOffline(ctx); err != nil {
			return err
		}
		brokerURL = "tcp://" + embedded.Addr()
		if a := embedded.TLSAddr(); a != "" && nodeBroker == "" {
			nodeBroker = "ssl://" + a // nodes come in over TLS; the controller itself stays on loopback
		}
	} else {
		secret, err = loadOrCreateSecret(filepath.Join(cfg.DataDir, "mqtt-controller.secret"))
		if err != nil {
			return err
		}
		if cfg.MosquittoDir != "" {
			onCreds = coalesce(func(ctx context.Context) {
				if err := writeMosquitto(ctx, cfg, reg, secret); err != nil {
					log.Error("writing mosquitto config", "err", err)
				}
			}).Do
			onCreds(ctx)
		}
	}
	if nodeBroker == "" {
		nodeBroker = brokerURL
		if u, err := url.Parse(brokerURL); err == nil && strings.HasPrefix(u.Host, "0.0.0.0:") {
			nodeBroker = u.Scheme + "://" + hostname() + u.Host[len("0.0.0.0"):]
		}
	}

	// Node releases, signed with the update key (apart from the command key).
	releases, err := release.New(ctx, release.Config{Dir: cfg.DataDir, Registry: reg, Logger: log, Now: cfg.Now})
	if err != nil {
		return err
	}
	fcfg := fleet.Config{Broker: brokerURL, User: controllerUser, Password: secret,
		Registry: reg, Media: store, Signer: sig, Logger: log, Now: cfg.Now, Releases: releases, Metrics: met}
	if embedded != nil {
		fcfg.Receive = embedded.Receive // what nodes report, handed over in process
	}
	fl, err := fleet.Start(ctx, fcfg)
	if err != nil {
		return err
	}
	defer fl.Close()
	go releases.Run(ctx, func(ctx context.Context, node string, c nodeproto.Command, by string) (nodeproto.Command, error) {
		return fl.Send(ctx, fleet.Target{Node: node}, c, by)
	})
	met.Watch(metrics.Sources{Nodes: fleetCounts(reg), Refused: func() map[string]uint64 { return fl.Stats().Refused },
		DBFiles: []string{dbPath, dbPath + "-wal"}, KnownRefusals: fleet.RefusalReasons})

	// Live sessions: relays of the programme (and relay now) go out once
	// per zone as signed packets.
	lv := live.New(live.Config{Fleet: fl, Signer: sig, Registry: reg, Logger: log, Now: cfg.Now, Latency: cfg.LiveLatency, VoiceLatency: cfg.VoiceLatency,
		MinBackoff: min(time.Second, cfg.RelayRetryMax), MaxBackoff: cfg.RelayRetryMax,
		Failed: func(ctx context.Context, occurrence, reason string) {
			if err := reg.AddAudit(ctx, registry.Audit{Actor: "controller", Action: registry.ActionRelayFailed, Target: occurrence, Detail: reason}); err != nil {
				log.Error("audit", "err", err)
			}
		},
		Audit: func(ctx context.Context, action, target, detail string) {
			if err := reg.AddAudit(ctx, registry.Audit{Actor: "controller", Action: action, Target: target, Detail: detail}); err != nil {
				log.Error("audit", "err", err)
			}
		}})
	defer lv.Close()

	// Desired state: one publisher, in the background, only where it changed.
	pub := desired.New(desired.Config{Registry: reg, Fleet: fl, Keys: sig.Keys, Logger: log, Now: cfg.Now, Retained: embedded == nil,
		Published: met.DesiredPublished})
	pub.Start(ctx)
	if cfg.desiredDone != nil {
		go func() { pub.Wait(); cfg.desiredDone() }()
	}
	schedDir := cfg.SchedulesDir
	if schedDir == "" {
		schedDir = filepath.Join(cfg.DataDir, "schedules")
	}
	if err := os.MkdirAll(schedDir, 0o750); err != nil {
		return err
	}
	engine, err := ttsEngine(cfg)
	if err != nil {
		return err
	}
	speech := &tts.Service{Engine: engine, Media: store, CacheDir: filepath.Join(cfg.DataDir, "tts-cache"), Logger: log}
	schedules := &programme.Store{Dir: schedDir, Media: store, Registry: reg, TTS: speech, Logger: log, Now: cfg.Now}
	lastRunFile := filepath.Join(cfg.DataDir, "scheduler.lastrun")
	sched := scheduler.New(scheduler.Config{Logger: log, Grace: cfg.ScheduleGrace, Now: cfg.Now, Targets: schedules.Targets,
		Media: schedules.MediaInfo, Hand: pub.Hand, Relays: lv.PlanRelays, Metrics: met,
		Reach: func(node string) time.Time { r, _ := pub.Reach(node); return r.Until },
		LastRun: func() time.Time {
			b, _ := os.ReadFile(lastRunFile)
			t, _ := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
			return t
		},
		SetLastRun: func(t time.Time) { os.WriteFile(lastRunFile, []byte(t.UTC().Format(time.RFC3339Nano)), 0o640) },
	})
	schedules.Scheduler = sched
	schedules.LoadAll(ctx)
	go schedules.Run(ctx) // what is due, recorded ahead: reports read history from there
	sched.ReportDowntime(ctx, cfg.Now())

	// Retention and backups take turns: no recording goes while a backup
	// copies the recordings.
	var dataLock sync.Mutex
	sweeper, err := retention.New(retention.Config{Registry: reg, Media: store, Months: cfg.RetainMonths,
		SchedulesDir: schedDir, Loaded: sched.Schedules, Lock: &dataLock, Now: cfg.Now, Logger: log})
	if err != nil {
		return err
	}
	makeBackup := func(ctx context.Context, w io.Writer) (backup.Manifest, error) {
		dataLock.Lock()
		defer dataLock.Unlock()
		return backup.Write(ctx, w, backup.Source{Registry: reg, DataDir: cfg.DataDir, SchedulesDir: schedDir, Version: cfg.Version, Now: cfg.Now})
	}

	if err := firstToken(ctx, reg, cfg.DataDir, log); err != nil {
		return err
	}
	var disconnect func(string)
	if embedded != nil {
		disconnect = embedded.Disconnect
	}
	// Warnings start sooner than "play now" (2 s unless PlayLead is set):
	// an emergency is worth a less tight start across nodes.
	warnings := warning.New(warning.Config{Registry: reg, Fleet: fl, Media: store, TTS: speech, Logger: log, Now: cfg.Now,
		Lead: cfg.PlayLead})
	go warnings.Run(ctx)
	h := api.New(api.Config{Registry: reg, Media: store, Fleet: fl, Signer: sig, Logger: log,
		Live: lv, NodeBroker: nodeBroker, OnCredentialsChanged: onCreds, Disconnect: disconnect, DefaultLead: cfg.PlayLead,
		PublishDesired: func(ctx context.Context, nodes ...string) error {
			sched.Kick() // zones or nodes may have changed what a schedule covers
			return pub.PublishNodes(ctx, nodes...)
		},
		Reach:     pub.Reach,
		Schedules: schedules, TrustProxy: cfg.TrustProxy, Now: cfg.Now, Backup: makeBackup, Warnings: warnings, Releases: releases,
		TLSPin: tlsPin})
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("controller: http: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", waitForAccounts(adminReady, h))
	mux.Handle("/", web.Handler())
	srv := &http.Server{Handler: met.HTTP(mux), ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConf}
	metricsURL := serveMetrics(ctx, cfg.MetricsAddr, met, log)
	errc := make(chan error, 1)
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}
	// The first plan, like every later one, is made in the background
	// (Run plans at once), and hands the publisher what changed, which
	// publishes it; both start once the API listens, so that their CPU
	// (a national programme's plan, a first start's 100,000 desired
	// states) comes after the API's first answers, not before.
	go sched.Run(ctx)
	go pub.Run(ctx)
	go sweeper.Run(ctx)
	log.Info("controller ready", "http", scheme+"://"+ln.Addr().String(), "web_app", scheme+"://"+ln.Addr().String()+"/", "broker", brokerURL, "metrics", metricsURL, "key", sig.Key().ID,
		"start_took", cfg.Now().Sub(began).Round(time.Millisecond))
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr().String(), strings.TrimPrefix(brokerURL, "tcp://"))
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("controller: http: %w", err)
	case err := <-failed:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}

// Restore puts the backup in dir (made by radioctl backup) into
// cfg.DataDir, which must be empty or not exist, and checks it; then Run on
// the same Config starts the controller on it.
func Restore(ctx context.Context, dir string, cfg Config) error {
	if cfg.DataDir == "" {
		return fmt.Errorf("controller: restore: name the new data folder")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	_, err := backup.Restore(ctx, dir, cfg.DataDir, cfg.Now, cfg.Logger)
	return err
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "127.0.0.1"
	}
	return h
}

// firstToken creates the administrator's API token at first start, prints it
// and saves it (owner-only) in the data directory for radioctl.
func firstToken(ctx context.Context, reg *registry.DB, dir string, log *slog.Logger) error {
	n, err := reg.CountTokens(ctx)
	if err != nil || n > 0 {
		return err
	}
	secret, err := api.NewToken(ctx, reg, "admin", "admin")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "admin.token")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return err
	}
	log.Info("first start: created the administrator API token; keep it secret", "token", secret, "saved_in", path)
	return nil
}

// firstAdmin creates the web UI's administrator account "admin" at first
// start, prints its password and saves it (owner-only) in the data
// directory. The password is chosen and saved at once; its hash and the
// account are made in the background (the hash takes 600,000 rounds of
// PBKDF2 by design), and the returned channel closes once the account
// exists (at once when there was one already). A failure is sent on failed.
func firstAdmin(ctx context.Context, reg *registry.DB, dir string, log *slog.Logger, failed chan<- error) (<-chan struct{}, error) {
	ready := make(chan struct{})
	pw, create, err := api.FirstAdmin(ctx, reg)
	if err != nil || pw == "" {
		close(ready)
		return ready, err
	}
	path := filepath.Join(dir, "admin.password")
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return nil, err
	}
	go func() {
		defer close(ready)
		// A stop right after the first start still makes the account
		// whose password was saved (Run waits for it).
		if err := create(context.WithoutCancel(ctx)); err != nil {
			failed <- fmt.Errorf("controller: first administrator: %w", err)
			return
		}
		log.Info("first start: created the web administrator account; log in as admin and change the password", "user", "admin", "password", pw, "saved_in", path)
	}()
	return ready, nil
}

// waitForAccounts holds requests that read or change user accounts (log
// in, users, me) until the first administrator exists: the rest of the
// API answers meanwhile.
func waitForAccounts(ready <-chan struct{}, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == "/api/v1/login", p == "/api/v1/me", strings.HasPrefix(p, "/api/v1/me/"),
			p == "/api/v1/users", strings.HasPrefix(p, "/api/v1/users/"):
			select {
			case <-ready:
			case <-r.Context().Done():
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func loadOrCreateSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	s := broker.NewSecret()
	return s, os.WriteFile(path, []byte(s+"\n"), 0o600)
}

// writeMosquitto regenerates the external broker's password and ACL files
// from the registry and asks it to reload.
func writeMosquitto(ctx context.Context, cfg Config, reg *registry.DB, secret string) error {
	u, err := url.Parse(cfg.BrokerURL)
	if err != nil {
		return err
	}
	chash, err := broker.HashSecret(secret)
	if err != nil {
		return err
	}
	creds, err := reg.NodeCredentials(ctx)
	if err != nil {
		return err
	}
	mn := make([]broker.MosquittoNode, 0, len(creds)+1)
	for _, c := range creds {
		mn = append(mn, broker.MosquittoNode{ID: c.ID, Hash: c.Hash, Zones: c.Zones})
	}
	// Mosquitto takes about a minute to re-read 100,000 accounts (BENCHMARKS.md),
	// so files that already say this, and that Mosquitto took, are left
	// alone: a restart or a change that changes no account reloads nothing.
	stamp := filepath.Join(cfg.MosquittoDir, "written.sha256")
	want := mosquittoStamp(cfg.MosquittoDir, u.Host, cfg.MosquittoUser, secret, mn)
	if b, err := os.ReadFile(stamp); err == nil && want != "" && string(b) == want {
		return nil
	}
	// A fresh password for the reload probe in each version of the file:
	// once it logs in, Mosquitto has read this version (waitReloaded).
	probe := broker.NewSecret()
	probeHash, err := broker.HashSecret(probe)
	if err != nil {
		return err
	}
	mn = append(mn, broker.MosquittoNode{ID: reloadUser, Hash: probeHash})
	if _, err := broker.WriteMosquittoConfig(cfg.MosquittoDir, u.Host, cfg.MosquittoUser, controllerUser, chash, mn); err != nil {
		return err
	}
	if cfg.MosquittoPIDFile != "" {
		b, err := os.ReadFile(cfg.MosquittoPIDFile)
		if err != nil {
			return err
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return fmt.Errorf("mosquitto pid file %s: %w", cfg.MosquittoPIDFile, err)
		}
		hup := func() error { return syscall.Kill(pid, syscall.SIGHUP) }
		if err := hup(); err != nil {
			return err
		}
		t0 := time.Now() // an interval: how long Mosquitto took
		if err := waitReloaded(ctx, cfg.BrokerURL, probe, hup, reloadWait(len(mn))); err != nil {
			return err
		}
		cfg.Logger.Info("mosquitto took the new accounts", "accounts", len(mn), "took", time.Since(t0).Round(time.Millisecond))
	}
	// Stamped once Mosquitto took them (or, with no pid file, once written:
	// whoever starts Mosquitto reads them then).
	return atomicfile.Write(stamp, []byte(mosquittoStamp(cfg.MosquittoDir, u.Host, cfg.MosquittoUser, secret, mn[:len(mn)-1])), 0o600)
}

// mosquittoStamp fingerprints what the Mosquitto files must say (listener,
// user, the controller's secret, every node's account and zones) and what
// they hold now, so that a file edited or replaced by hand is written
// again. "" when a file cannot be read.
func mosquittoStamp(dir, listen, runAs, secret string, nodes []broker.MosquittoNode) string {
	h := sha256.New()
	fmt.Fprintf(h, "radio mosquitto v1\n%s\n%s\n%s\n", listen, runAs, secret)
	for _, n := range nodes {
		fmt.Fprintf(h, "%s %s %s\n", n.ID, n.Hash, strings.Join(n.Zones, ","))
	}
	for _, f := range []string{"passwd", "acl", "mosquitto.conf"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return ""
		}
		fmt.Fprintf(h, "%s %x\n", f, sha256.Sum256(b))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// reloadUser is the account whose login tells that Mosquitto has re-read
// its files. It has no topics of its own; no node may take the name.
const reloadUser = "controller-reload"

// reloadWait is how long Mosquitto may take to re-read n accounts: it
// reads its per-user ACL in time that grows faster than the accounts
// (measured: 3 s for 20,000, about 65 s for 100,000; BENCHMARKS.md).
func reloadWait(n int) time.Duration {
	return 30*time.Second + time.Duration(n/1000)*2*time.Second
}

// waitReloaded returns once the reload probe can log in with this
// version's password, so that an enrolment, a zone change or a revocation
// is in force when the API answers. Mosquitto handles SIGHUP between two
// rounds of its loop and forgets one that comes in while it is reloading
// (a reload of 10,000 accounts takes a while), so the signal is sent again
// every 2 s until then.
func waitReloaded(ctx context.Context, brokerURL, probe string, hup func() error, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	lastHup := time.Now()
	for {
		o := mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID(reloadUser).
			SetUsername(reloadUser).SetPassword(probe).SetCleanSession(true).
			SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(2 * time.Second)
		c := mqtt.NewClient(o)
		tok := c.Connect()
		if tok.WaitTimeout(3*time.Second) && tok.Error() == nil {
			c.Disconnect(0)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mosquitto did not take the new password file within %s (is it running, pid file right?)", wait)
		}
		if time.Since(lastHup) > 2*time.Second {
			hup()
			lastHup = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// zoneCache maps each node to its zones.
type zoneCache struct {
	ready   chan struct{} // closed after the first load
	loading sync.Mutex    // one load at a time, so an older read never lands last
	mu      sync.RWMutex
	m       map[string][]string
}

func (z *zoneCache) load(ctx context.Context, reg *registry.DB) error {
	z.loading.Lock()
	defer z.loading.Unlock()
	all, err := reg.ListZones(ctx)
	if err != nil {
		return fmt.Errorf("controller: zones: %w", err)
	}
	m := map[string][]string{}
	for _, zone := range all {
		for _, n := range zone.Nodes {
			m[n] = append(m[n], zone.ID)
		}
	}
	z.mu.Lock()
	z.m = m
	z.mu.Unlock()
	return nil
}

func (z *zoneCache) get(node string) []string {
	<-z.ready
	z.mu.RLock()
	defer z.mu.RUnlock()
	return z.m[node]
}

// ttsEngine chooses the text-to-speech engine: a speech service, a
// command, or Debian's espeak-ng (offline) by default.
func ttsEngine(cfg Config) (tts.Engine, error) {
	switch {
	case cfg.TTSURL != "" && cfg.TTSCommand != "":
		return nil, fmt.Errorf("controller: choose one text-to-speech engine: a command or a URL")
	case cfg.TTSURL != "":
		h := http.Header{}
		for _, l := range cfg.TTSHeader {
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				return nil, fmt.Errorf("controller: tts header %q: want \"Name: value\"", l)
			}
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		return tts.HTTP{URL: cfg.TTSURL, Header: h, Timeout: cfg.TTSTimeout}, nil
	case cfg.TTSCommand != "":
		return tts.Command{Args: strings.Fields(cfg.TTSCommand), Timeout: cfg.TTSTimeout}, nil
	}
	return tts.Espeak{Timeout: cfg.TTSTimeout}, nil
}

// serveMetrics serves /metrics on its own listener until ctx ends and
// returns its URL. A listener that cannot open is logged, not fatal: the
// radio matters more than its metrics.
func serveMetrics(ctx context.Context, addr string, met *metrics.Metrics, log *slog.Logger) string {
	if addr == "" {
		return ""
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("metrics: cannot listen; serving none (set -metrics-listen to a free address, or empty)", "addr", addr, "err", err)
		return ""
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", met.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	return "http://" + ln.Addr().String() + "/metrics"
}

// fleetCounts reads the registry's view of the fleet for a scrape.
func fleetCounts(reg *registry.DB) func(context.Context) (metrics.NodeCounts, error) {
	return func(ctx context.Context) (metrics.NodeCounts, error) {
		c, err := reg.CountFleet(ctx)
		return metrics.NodeCounts{Known: c.Known, Revoked: c.Revoked, Online: c.Online, ClockUnsynced: c.ClockUnsynced,
			Silent: c.Silent, MaxCPUTempC: c.MaxCPUTempC, MinDiskFree: c.MinDiskFree}, err
	}
}
