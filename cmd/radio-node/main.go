// Command radio-node runs the loudspeaker node daemon.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/communeradio/radio/node"
)

var version = "0.1.0-dev"

func main() {
	path := flag.String("config", "/etc/radio-node/config.json", "node config file (printed by 'radioctl node add')")
	check := flag.Bool("check", false, "validate the config file and exit")
	debug := flag.Bool("debug", false, "debug logging")
	offset := flag.Duration("clock-offset", 0, "tests and demonstrations: run as if the system clock were this far off (e.g. -8760h, an unset real-time clock) until the system says it is synchronised (only clock_sync_file is read then)")
	flag.Parse()
	cfg, err := node.LoadConfig(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "radio-node:", err)
		os.Exit(2)
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
	cfg.Version = version
	cfg.ClockOffset = *offset
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := node.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "radio-node:", err)
		os.Exit(1)
	}
}
