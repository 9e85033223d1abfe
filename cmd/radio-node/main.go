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
	"syscall"

	"github.com/communeradio/radio/internal/sdnotify"
	"github.com/communeradio/radio/node"
)

var version = "0.1.0-dev"

func main() {
	path := flag.String("config", "/etc/radio-node/config.json", "node config file (printed by 'radioctl node add')")
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
