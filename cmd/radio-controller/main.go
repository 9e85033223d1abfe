// Command radio-controller runs the commune radio controller.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/communeradio/radio/controller"
	"github.com/communeradio/radio/internal/sdnotify"
)

var version = "0.1.0-dev"

func main() {
	var cfg controller.Config
	flag.StringVar(&cfg.DataDir, "data", "data", "data directory: registry, media, keys")
	flag.StringVar(&cfg.HTTPAddr, "http", "127.0.0.1:8080", "HTTP API listen address")
	flag.StringVar(&cfg.MetricsAddr, "metrics-listen", "127.0.0.1:9464", "Prometheus /metrics listen address, apart from the API and with no login: loopback or a private interface only Prometheus reaches (empty: none)")
	flag.StringVar(&cfg.MQTTAddr, "mqtt", "127.0.0.1:1883", "embedded MQTT broker listen address (0.0.0.0:1883 for real nodes)")
	flag.StringVar(&cfg.BrokerURL, "broker", "", "external MQTT broker URL (e.g. tcp://127.0.0.1:1883) instead of the embedded one")
	flag.StringVar(&cfg.MosquittoDir, "mosquitto-dir", "", "with -broker: write mosquitto.conf, passwd and acl here")
	flag.StringVar(&cfg.MosquittoPIDFile, "mosquitto-pid", "", "with -mosquitto-dir: pid file of mosquitto, sent SIGHUP after changes")
	flag.StringVar(&cfg.MosquittoUser, "mosquitto-user", "", "with -mosquitto-dir: the account mosquitto runs as (default: mosquitto's own)")
	flag.StringVar(&cfg.NodeBroker, "node-broker", "", "broker URL written into enrolled nodes' configs")
	flag.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate: serve the API over HTTPS (and MQTT over TLS with -mqtt-tls)")
	flag.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key of -tls-cert")
	flag.StringVar(&cfg.MQTTTLSAddr, "mqtt-tls", "", "with -tls-cert: TLS listener of the embedded broker for nodes, e.g. 0.0.0.0:8883")
	flag.DurationVar(&cfg.ScheduleGrace, "schedule-grace", 10*time.Minute, "occurrences due at most this long before a (re)start are still sent to nodes")
	flag.DurationVar(&cfg.RelayRetryMax, "relay-retry-max", 30*time.Second, "longest wait between a relay's reconnections to a dropped upstream (each second is silence on the air)")
	flag.DurationVar(&cfg.LiveLatency, "live-latency", 1500*time.Millisecond, "how far ahead a relay's first sample is heard: time for the command and the first packets to reach every node")
	flag.DurationVar(&cfg.VoiceLatency, "voice-latency", 600*time.Millisecond, "the same for an officer speaking live from the browser (mouth to speaker); raise it on links with much jitter")
	flag.BoolVar(&cfg.TrustProxy, "trust-proxy", false, "behind a reverse proxy on this machine: take the client address and https from X-Forwarded-For/-Proto")
	flag.IntVar(&cfg.RetainMonths, "retain-months", 13, "months of proof of play, audit log, commands and replies kept (at least 13: a yearly report needs them); unused recordings older than that go too")
	restore := flag.String("restore", "", "restore the backup in this folder (made by radioctl backup) into the empty -data folder, check it, and exit")
	flag.StringVar(&cfg.TTSCommand, "tts-command", "", "text to speech by a command instead of espeak-ng, split at blanks and run without a shell, e.g. 'piper --model vi.onnx --output_file {out} < {text}'")
	flag.StringVar(&cfg.TTSURL, "tts-url", "", "text to speech by a service that takes the text in a POST and answers with audio")
	flag.Func("tts-header", "with -tts-url: a header sent with each request, 'Name: value' (repeatable)", func(v string) error {
		cfg.TTSHeader = append(cfg.TTSHeader, v)
		return nil
	})
	flag.DurationVar(&cfg.TTSTimeout, "tts-timeout", time.Minute, "longest one text-to-speech rendering may take")
	debug := flag.Bool("debug", false, "debug logging")
	check := flag.Bool("check", false, "check the schedule files (or folders) given as arguments and exit: errors as file:line")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: radio-controller [flags]\n       radio-controller -check FILE.radio...\n       radio-controller -restore BACKUPDIR -data NEWDATADIR\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *check {
		if flag.NArg() == 0 {
			fmt.Fprintln(os.Stderr, "radio-controller: -check needs schedule files or folders")
			os.Exit(2)
		}
		n, err := controller.CheckSchedules(flag.Args()...)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%d schedule file(s) OK\n", n)
		return
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Version = version
	if *restore != "" {
		if err := controller.Restore(context.Background(), *restore, cfg); err != nil {
			fmt.Fprintln(os.Stderr, "radio-controller:", err)
			os.Exit(1)
		}
		fmt.Printf("restored %s into %s; start the controller with -data %s\n", *restore, cfg.DataDir, cfg.DataDir)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Under systemd (Type=notify, WatchdogSec=): ready once the API
	// serves, and the watchdog fed only while it answers.
	notify, err := sdnotify.FromEnv()
	if err != nil {
		cfg.Logger.Warn("systemd watchdog off", "err", err)
	}
	cfg.Ready = func(httpAddr, _ string) {
		notify.Ready()
		go notify.Feed(ctx, healthCheck(httpAddr, cfg.TLSCert != ""))
	}
	err = controller.Run(ctx, cfg)
	notify.Stopping()
	if err != nil {
		fmt.Fprintln(os.Stderr, "radio-controller:", err)
		os.Exit(1)
	}
}

// healthCheck asks the controller's own API for /api/v1/health over
// loopback. The certificate is not checked: it names the public host, and
// the probe only asks whether this process still answers.
func healthCheck(listen string, https bool) func(context.Context) error {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || net.ParseIP(host) == nil || net.ParseIP(host).IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	if https {
		scheme = "https"
	}
	url := scheme + "://" + net.JoinHostPort(host, port) + "/api/v1/health"
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback liveness probe of this process
		DisableKeepAlives: true,
	}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("health: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: %s", resp.Status)
		}
		return nil
	}
}
