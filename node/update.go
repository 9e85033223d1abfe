package node

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/node/internal/update"
)

// Restart is returned by Run when the node must hand its process over to
// another binary: a new version for its trial run, or the installed one
// when a trial failed (node/internal/update). The caller execs Binary with
// the same arguments (cmd/radio-node uses syscall.Exec, so the service
// manager sees the same process).
type Restart struct {
	Binary string
}

func (r *Restart) Error() string { return "node: restart into " + r.Binary }

// newUpdater wires the update package to the agent.
func (a *agent) newUpdater() {
	bin := a.cfg.Binary
	if bin == "" {
		bin, _ = os.Executable()
	}
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		bin = real // the trial compares it with the running executable's path
	}
	keys := nodeproto.Keyring{}
	for _, k := range a.cfg.UpdateKeys {
		keys[k.ID] = k.Pub
	}
	a.upd = update.New(update.Config{Node: a.cfg.ID, Version: a.cfg.Version, Arch: runtime.GOARCH, Binary: bin,
		DataDir: a.cfg.DataDir, Keys: keys, Publish: a.link.Publish, Logger: a.log, HealthWait: a.cfg.UpdateHealthWait,
		Now: a.now}, // replies dated on the node's clock, like its events
		a.play.Backend())
}

// onUpdateCommand starts an update; only a refusal is replied at once.
func (a *agent) onUpdateCommand(c *nodeproto.Command) {
	if err := a.upd.Begin(c); err != nil {
		a.reply(c.ID, err)
	}
}

// onUpdateResult acts on a finished download or trial; a non-nil Restart
// means Run must end and hand the process over.
func (a *agent) onUpdateResult(r update.Result) *Restart {
	if bin := a.upd.Finish(r, a.play.Backend()); bin != "" {
		return &Restart{Binary: bin}
	}
	return nil
}

func checkUpdateKeys(keys []nodeproto.Key) error {
	for _, k := range keys {
		if k.ID == "" || len(k.Pub) != 32 {
			return fmt.Errorf("node: config: update key %q is not a 32-byte Ed25519 key", k.ID)
		}
	}
	return nil
}

// InstalledBinary is where a packaged box's updates install (the unit's
// RADIO_NODE_INSTALLED, packaging/debian/radio-node.service): /usr/bin is
// read-only to the daemon.
func InstalledBinary(dataDir string) string { return filepath.Join(dataDir, "bin", "radio-node") }

// RollbackBinary puts the binary an update replaced (binary.previous) back
// in place of the installed one, for an operator on the box when a version
// that passed its trial misbehaves later. The service must be restarted.
func RollbackBinary(cfg Config) error {
	bin := cfg.Binary
	if inst := InstalledBinary(cfg.DataDir); bin == "" && cfg.DataDir != "" {
		if _, err := os.Stat(inst + update.PreviousSuffix); err == nil {
			bin = inst // a packaged box: its updates are in the data folder
		}
	}
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("node: rollback: %w", err)
		}
		bin = exe
	}
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		bin = real
	}
	return update.Rollback(bin)
}
