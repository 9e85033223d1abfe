// Package update installs signed releases of the node's own software
// (PROTOCOL.md §5, "update"): it checks the release manifest against the
// update key pinned at enrolment, fetches the binary over the node's MQTT
// link in chunks, checks it against the manifest, puts it beside the
// installed binary and hands the process over to it for a trial run.
//
// The trial is what makes a bad release harmless on a box nobody visits:
// the installed binary stays in place until the new version has shown that
// it connects to the broker and opens its audio output. Only then does it
// rename itself over the installed one (keeping that as .previous) and
// report success. If it crashes at start, the service manager (systemd's
// Restart=, or any supervisor) starts the installed binary again, which
// finds the trial marker unconfirmed and reports update_failed; if it runs
// but is unhealthy past its deadline, it hands the process back to the
// installed binary itself. Either way the node ends on the version it ran
// before, by itself.
package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/internal/atomicfile"
)

// Defaults.
const (
	DefaultHealthWait = 2 * time.Minute // a new version must be healthy this soon after it starts
	markerFile        = "update.json"
)

// Config of an Updater.
type Config struct {
	Node    string
	Version string            // the running version
	Arch    string            // the release arch this binary runs (runtime.GOARCH)
	Binary  string            // the installed binary: what the service manager starts
	DataDir string            // holds the trial marker
	Keys    nodeproto.Keyring // update keys; empty: updates are refused
	// Publish sends on the node's link (fetches and replies).
	Publish func(topic string, retained bool, payload []byte) error
	Logger  *slog.Logger
	// HealthWait bounds the trial (DefaultHealthWait).
	HealthWait time.Duration
	// ChunkRate is the chunks asked per second while fetching a release
	// (default 24: below the controller's default per-node budget of 32,
	// so no request goes unanswered).
	ChunkRate int
	// Now is the node's clock (time.Now): it dates replies. It may jump
	// when the clock is corrected, so nothing is timed with it.
	Now func() time.Time
	// Mono times the trial and the download (time.Now: its monotonic
	// reading does not jump when the wall clock is set).
	Mono func() time.Time
	// Executable is the running program's path (default os.Executable):
	// a trial runs from the staged path.
	Executable string
}

// marker is the trial record, written before the process is handed over
// to a new version and removed once the outcome is reported.
type marker struct {
	Cmd     string `json:"cmd"`
	Rollout string `json:"rollout,omitempty"`
	Version string `json:"version"` // the version on trial
	From    string `json:"from"`    // the version that installed it
	Binary  string `json:"binary"`  // the installed binary
	Staged  string `json:"staged"`  // the version on trial
	Audio   string `json:"audio"`   // the audio output the previous version had
	Starts  int    `json:"starts"`  // how often the trial version started
	// Outcome, once known: "ok", or the reason it failed.
	Outcome string `json:"outcome,omitempty"`
}

// Result is what the node's loop must do after a download ends or a trial
// is decided: reply to a command, and/or restart into another binary.
type Result struct {
	Cmd     string
	Err     error
	Restart string // binary to hand the process to ("": none)
}

// Updater runs updates. Its methods run on the node's loop; the download
// runs on its own goroutine and reports on Done.
type Updater struct {
	cfg  Config
	log  *slog.Logger
	done chan Result

	mu    sync.Mutex
	fetch *download // the download in progress, if any

	trial      *marker // this process is a version on trial
	pending    *marker // an outcome to report once the link is up
	started    time.Time
	linkUp     bool
	audioOK    bool
	restarting bool
}

// New makes an Updater and reads the trial marker a previous process left.
// audio is the output the player opened ("alsa"/"silent").
func New(cfg Config, audio string) *Updater {
	if cfg.HealthWait <= 0 {
		cfg.HealthWait = DefaultHealthWait
	}
	if cfg.ChunkRate <= 0 {
		cfg.ChunkRate = 24
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Mono == nil {
		cfg.Mono = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	u := &Updater{cfg: cfg, log: cfg.Logger.With("part", "update"), done: make(chan Result, 4), started: cfg.Mono()}
	u.resume(audio)
	return u
}

func (u *Updater) markerPath() string { return filepath.Join(u.cfg.DataDir, markerFile) }

func (u *Updater) saveMarker(m *marker) error {
	b, _ := json.Marshal(m)
	if err := atomicfile.Write(u.markerPath(), b, 0o644); err != nil {
		return fmt.Errorf("update: trial marker: %w", err)
	}
	return nil
}

// resume decides what a marker left by the previous process means.
func (u *Updater) resume(audio string) {
	b, err := os.ReadFile(u.markerPath())
	if errors.Is(err, os.ErrNotExist) {
		if u.cfg.Binary != "" {
			// Left by a download or a staging cut short: no trial names them.
			os.Remove(u.cfg.Binary + PartSuffix)
			os.Remove(u.cfg.Binary + StagedSuffix)
		}
		return
	}
	var m marker
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		u.log.Error("unreadable update marker removed", "err", err)
		os.Remove(u.markerPath())
		return
	}
	exe := u.cfg.Executable
	if exe == "" {
		exe, _ = os.Executable()
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	switch {
	case m.Outcome != "":
		u.pending = &m // decided: report it
	case m.Version == u.cfg.Version && exe == m.Staged:
		// This process is the version on trial.
		m.Starts++
		u.saveMarker(&m)
		u.cfg.Binary = m.Binary // not the staged path this process runs from
		u.trial = &m
		// Healthy audio: an output as good as the previous version's (a
		// sound device, unless that one had none either).
		u.audioOK = audio != nodeproto.AudioSilent || m.Audio == nodeproto.AudioSilent
		u.log.Info("trial run of a new version", "version", m.Version, "from", m.From, "health_wait", u.cfg.HealthWait)
	case m.Version == u.cfg.Version:
		// Started from the installed path with the new version: the commit
		// was done and the process stopped before it was reported.
		m.Outcome = "ok"
		u.pending = &m
		u.cfg.Binary = m.Binary
	default:
		// The installed (previous) version runs while a trial was under
		// way: the new one stopped before it was healthy (a crash at
		// start, or a restart by the service manager).
		m.Outcome = fmt.Sprintf("version %s stopped before it was healthy (crashed at start?); back on %s", m.Version, u.cfg.Version)
		os.Remove(m.Staged)
		u.pending = &m
		u.saveMarker(&m)
		u.log.Error("update failed: rolled back", "version", m.Version, "running", u.cfg.Version, "reason", m.Outcome)
	}
}

// Done delivers results the node's loop acts on.
func (u *Updater) Done() <-chan Result { return u.done }

// Trial reports whether this process is a version on trial.
func (u *Updater) Trial() bool { return u.trial != nil }

// LinkUp is called whenever the node's link (re)connects.
func (u *Updater) LinkUp() {
	u.linkUp = true
	u.check()
}

// Tick is called about once a second. The trial's deadline is elapsed
// time: a version on trial starts with its clock unsynchronised, and the
// correction that follows must neither end the trial at once nor stretch it.
func (u *Updater) Tick() {
	if u.pending != nil {
		u.report()
	}
	if u.trial == nil || u.restarting || u.cfg.Mono().Sub(u.started) < u.cfg.HealthWait {
		return
	}
	var why []string
	if !u.linkUp {
		why = append(why, "not connected to the broker")
	}
	if !u.audioOK {
		why = append(why, "audio output did not open")
	}
	m := u.trial
	m.Outcome = fmt.Sprintf("version %s not healthy within %s (%v); back on %s", m.Version, u.cfg.HealthWait, why, m.From)
	u.log.Error("update failed: handing back to the installed version", "reason", m.Outcome)
	if err := u.saveMarker(m); err != nil {
		u.log.Error("saving the trial outcome", "err", err)
	}
	os.Remove(m.Staged)
	u.restarting = true
	u.done <- Result{Restart: m.Binary}
}

// check commits a healthy trial and reports outcomes.
func (u *Updater) check() {
	if m := u.trial; m != nil && !u.restarting && u.linkUp && u.audioOK {
		if err := Commit(m.Binary, m.Staged); err != nil {
			u.log.Error("update: commit failed", "err", err)
			m.Outcome = "commit failed: " + err.Error()
		} else {
			m.Outcome = "ok"
			u.log.Info("new version healthy and installed", "version", m.Version, "previous", m.Binary+PreviousSuffix)
		}
		u.saveMarker(m)
		u.trial, u.pending = nil, m
	}
	if u.pending != nil {
		u.report()
	}
}

// report sends a decided outcome; the marker goes once it is sent.
func (u *Updater) report() {
	m := u.pending
	if m.Cmd == "" {
		u.clearPending()
		return
	}
	var err error
	if m.Outcome != "ok" {
		err = nodeproto.Errf(nodeproto.CodeUpdateFailed, m.Outcome)
	}
	if u.reply(m.Cmd, err) == nil {
		u.clearPending()
	}
}

func (u *Updater) clearPending() {
	u.pending = nil
	if err := os.Remove(u.markerPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		u.log.Error("removing the trial marker", "err", err)
	}
}

func (u *Updater) reply(cmd string, err error) error {
	r := nodeproto.Reply{Node: u.cfg.Node, Cmd: cmd, OK: err == nil, TS: u.cfg.Now().UnixMilli()}
	var pe *nodeproto.Error
	if errors.As(err, &pe) {
		r.Code, r.Reason = pe.Code, pe.Reason
	} else if err != nil {
		r.Code, r.Reason = nodeproto.CodeUpdateFailed, err.Error()
	}
	if len(r.Reason) > 512 {
		r.Reason = r.Reason[:512]
	}
	b, _ := json.Marshal(r)
	return u.cfg.Publish(nodeproto.NodeTopic(u.cfg.Node, nodeproto.LeafReply), false, b)
}

// Begin starts an update command (already verified as a command: signed
// by the controller key, for this node, fresh, not replayed). It returns
// an error to reply at once; nil means the outcome comes later, on Done or
// after the restart.
func (u *Updater) Begin(c *nodeproto.Command) error {
	if len(u.cfg.Keys) == 0 {
		return nodeproto.Errf(nodeproto.CodeUpdateFailed, "this node has no update key: it installs no release (enrol it again)")
	}
	rel, err := u.cfg.Keys.OpenRelease(c.Update.Release)
	if err != nil {
		u.log.Error("release refused", "cmd", c.ID, "err", err)
		return err
	}
	switch {
	case rel.Arch != u.cfg.Arch:
		return nodeproto.Errf(nodeproto.CodeUpdateFailed, fmt.Sprintf("release %s is for %s, this node runs %s", rel.Version, rel.Arch, u.cfg.Arch))
	case rel.Version == u.cfg.Version:
		return u.reply(c.ID, nil) // already there
	case CompareVersions(rel.Version, u.cfg.Version) < 0:
		return nodeproto.Errf(nodeproto.CodeUpdateFailed, fmt.Sprintf("release %s is older than the running %s: no downgrade", rel.Version, u.cfg.Version))
	case u.trial != nil || u.restarting:
		return nodeproto.Errf(nodeproto.CodeUpdateFailed, "a new version is on trial")
	}
	u.mu.Lock()
	busy := u.fetch != nil
	u.mu.Unlock()
	if busy {
		return nodeproto.Errf(nodeproto.CodeUpdateFailed, "another update is being fetched")
	}
	if u.cfg.Binary == "" {
		return nodeproto.Errf(nodeproto.CodeUpdateFailed, "the installed binary's path is unknown")
	}
	d := newDownload(u, c, rel)
	u.mu.Lock()
	u.fetch = d
	u.mu.Unlock()
	u.log.Info("fetching release", "cmd", c.ID, "version", rel.Version, "bytes", rel.Size, "sha256", rel.SHA256)
	go d.run()
	return nil
}

// Chunk takes a chunk (or refusal) message if it belongs to the release
// being fetched; false leaves it to the content cache.
func (u *Updater) Chunk(payload []byte) bool {
	u.mu.Lock()
	d := u.fetch
	u.mu.Unlock()
	if d == nil {
		return false
	}
	media, _, ok := nodeproto.PeekChunk(payload)
	if !ok {
		r, isRefusal := nodeproto.UnmarshalChunkRefusal(payload)
		if !isRefusal {
			return false
		}
		media = r.Media
	}
	if media != d.rel.SHA256 {
		return false
	}
	select {
	case d.in <- payload:
	default: // the downloader is behind; the chunk is asked for again
	}
	return true
}

// Finish acts on a Result: a failed download is replied to; a staged
// release is put on trial (the marker is written, then the caller hands
// the process over to Result.Restart). It returns the binary to restart
// into, or "".
func (u *Updater) Finish(r Result, audio string) string {
	u.mu.Lock()
	d := u.fetch
	if r.Cmd != "" {
		u.fetch = nil
	}
	u.mu.Unlock()
	if r.Err != nil {
		u.log.Error("update failed", "cmd", r.Cmd, "err", r.Err)
		if err := u.reply(r.Cmd, r.Err); err != nil {
			// Kept for the next link up.
			u.pending = &marker{Cmd: r.Cmd, Outcome: r.Err.Error()}
		}
		return ""
	}
	if r.Restart == "" || d == nil {
		return r.Restart
	}
	m := &marker{Cmd: r.Cmd, Rollout: d.rollout, Version: d.rel.Version, From: u.cfg.Version, Binary: u.cfg.Binary,
		Staged: r.Restart, Audio: audio}
	if err := u.saveMarker(m); err != nil {
		os.Remove(r.Restart)
		u.reply(r.Cmd, nodeproto.Errf(nodeproto.CodeUpdateFailed, err.Error()))
		return ""
	}
	u.restarting = true
	u.log.Info("starting the new version on trial", "version", d.rel.Version, "binary", r.Restart)
	return r.Restart
}

// Close stops a download in progress.
func (u *Updater) Close() {
	u.mu.Lock()
	d := u.fetch
	u.fetch = nil
	u.mu.Unlock()
	if d != nil {
		d.stop()
	}
}
