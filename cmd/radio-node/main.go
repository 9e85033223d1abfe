// Command radio-node runs the loudspeaker node daemon.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/communeradio/radio/internal/sdnotify"
	"github.com/communeradio/radio/node"
)

var version = "0.1.0-dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "enrol" {
		os.Exit(enrol(os.Args[2:]))
	}
	path := flag.String("config", "/etc/radio/node.json", "node config file (printed by 'radioctl node add')")
	check := flag.Bool("check", false, "validate the config file and exit")
	debug := flag.Bool("debug", false, "debug logging")
	rollback := flag.Bool("rollback", false, "put back the binary the last update replaced (radio-node.previous) and exit; then restart the service")
	offset := flag.Duration("clock-offset", 0, "tests and demonstrations: run as if the system clock were this far off (e.g. -8760h, an unset real-time clock) until the system says it is synchronised (only clock_sync_file is read then)")
	flag.Parse()
	cfg, err := node.LoadConfig(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "radio-node:", err)
		os.Exit(2)
	}
	if *rollback {
		if err := node.RollbackBinary(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "radio-node:", err)
			os.Exit(1)
		}
		fmt.Println("rolled back to the previous binary; restart the service (systemctl restart radio-node)")
		return
	}
	if *check {
		fmt.Println("config OK:", *path)
		return
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// Packaged boxes: /usr/bin is read-only to the daemon (ProtectSystem=
	// strict), so an over-the-air update installs into the data folder,
	// which the unit names in RADIO_NODE_INSTALLED. The packaged binary
	// hands over to it when one is there (once: the variable is not passed
	// on), and it is where updates go.
	if inst := os.Getenv("RADIO_NODE_INSTALLED"); inst != "" {
		os.Unsetenv("RADIO_NODE_INSTALLED")
		if cfg.Binary == "" {
			cfg.Binary = inst
		}
		if handOver(inst) {
			err := syscall.Exec(inst, append([]string{inst}, os.Args[1:]...), os.Environ())
			cfg.Logger.Error("cannot start the updated binary; running the packaged one", "binary", inst, "err", err)
		}
	}
	cfg.Version = version
	cfg.ClockOffset = *offset
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Under systemd (Type=notify, WatchdogSec=): ready once the main loop
	// turns, and the watchdog fed only while it keeps turning.
	notify, err := sdnotify.FromEnv()
	if err != nil {
		cfg.Logger.Warn("systemd watchdog off", "err", err)
	}
	beat := sdnotify.NewHeartbeat(notify)
	cfg.Alive = beat.Beat
	go notify.Feed(ctx, beat.Check)
	err = node.Run(ctx, cfg)
	var re *node.Restart
	if errors.As(err, &re) {
		// An update (or its failed trial) hands the process over: same
		// PID, same arguments, so systemd keeps supervising it (the new
		// binary says READY=1 itself once its loop turns).
		stop()
		err = syscall.Exec(re.Binary, append([]string{re.Binary}, os.Args[1:]...), append(os.Environ(), notify.ExecEnv()...))
		fmt.Fprintln(os.Stderr, "radio-node: exec", re.Binary+":", err)
		os.Exit(1)
	}
	notify.Stopping()
	if err != nil {
		fmt.Fprintln(os.Stderr, "radio-node:", err)
		os.Exit(1)
	}
}

// handOver reports whether inst is an executable file other than the
// running program.
func handOver(inst string) bool {
	st, err := os.Stat(inst)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return false
	}
	self, err := os.Executable()
	if err != nil {
		return true
	}
	if me, err := os.Stat(self); err == nil && os.SameFile(me, st) {
		return false
	}
	return true
}

// enrol runs `radio-node enrol CODE [flags]`: the code may be typed with
// blanks (several words) before or after the flags.
func enrol(args []string) int {
	fs := flag.NewFlagSet("radio-node enrol", flag.ContinueOnError)
	var c node.EnrolConfig
	fs.StringVar(&c.Controller, "controller", "", "https://host:port of the controller (shown with the code)")
	fs.StringVar(&c.ConfigPath, "config", "/etc/radio/node.json", "node config file to write (its hardware settings, if any, are kept)")
	fs.StringVar(&c.CAFile, "ca", "", "PEM file of the CA that signed the controller's certificate (default: the system's CAs)")
	fs.StringVar(&c.Pin, "pin", "", "sha256//... pin of the controller's certificate, shown with the code (for a self-signed certificate)")
	fs.StringVar(&c.DataDir, "data", "", "data folder of the node (default: the config's, else /var/lib/radio-node)")
	fs.BoolVar(&c.Force, "force", false, "replace a config that already holds a node's credentials")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: radio-node enrol CODE -controller https://host:port [-pin sha256//...] [-ca ca.pem] [-config FILE]\n\n"+
			"Redeems a one-time enrolment code made in the web app (Quản lý > Mã đăng ký) and writes the node's config.\n\n")
		fs.PrintDefaults()
	}
	var words []string
	for len(args) > 0 {
		for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			words, args = append(words, args[0]), args[1:]
		}
		if err := fs.Parse(args); err != nil {
			return 2
		}
		args = fs.Args()
	}
	c.Code = strings.Join(words, "")
	if c.Code == "" || c.Controller == "" {
		fs.Usage()
		return 2
	}
	c.Version = version
	c.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	c.Now = time.Now
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := node.Enrol(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "radio-node:", err)
		return 1
	}
	fmt.Printf("enrolled as %s; config written to %s\nstart the node: systemctl restart radio-node (or radio-node -config %s)\n", cfg.ID, c.ConfigPath, c.ConfigPath)
	return 0
}
