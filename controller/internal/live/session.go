// Package live owns the controller's live sessions (PROTOCOL.md §10): a
// relay of a radio channel, or later an officer's voice, sent to zones and
// nodes as a signed `stream` command and 100 ms signed StreamPackets,
// published once per zone so the broker does the fan-out. A Session knows
// its targets, its start instant, the next packet's sample position and
// how to end; a relay (relay.go) feeds a session from an upstream through
// ffmpeg and keeps its positions on the controller's clock.
package live

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/communeradio/radio/controller/internal/fleet"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Sender is the fleet as sessions use it: signed commands, and packets
// on a target's stream topic.
type Sender interface {
	Send(ctx context.Context, t fleet.Target, c nodeproto.Command, by string) (nodeproto.Command, error)
	PublishStream(t fleet.Target, packet []byte) error
}

// PacketSigner signs stream packets with the controller's current key
// (signer.Signer).
type PacketSigner interface {
	SignStream(p nodeproto.StreamPacket) (packet []byte, kid string, err error)
	Key() nodeproto.Key
}

// Config of the session manager.
type Config struct {
	Fleet  Sender
	Signer PacketSigner
	// Registry resolves programme targets and relay channel names.
	Registry *registry.DB
	Logger   *slog.Logger
	// Now is the controller's clock (nil: time.Now).
	Now func() time.Time
	// Latency is how far ahead of now a session's sample 0 is heard when
	// it opens (default 1.5 s): the time for the command to reach every
	// node and for the first packets to fill their jitter buffers.
	Latency time.Duration
	// VoiceLatency is the same for an officer speaking from the browser
	// (default 600 ms): a voice is answered by people in the room, so it
	// gets a shorter budget than a relay, at the cost of more holes on a
	// link with more jitter than that.
	VoiceLatency time.Duration
	// RepeatEvery is how often a running session's command is sent again
	// for nodes that (re)join it (default 15 s, PROTOCOL.md §10).
	RepeatEvery time.Duration
	// Audit, if set, records what sessions did (opened, ended) in the
	// audit log.
	Audit func(ctx context.Context, action, target, detail string)
	// FFmpeg is the ffmpeg binary relays run (default "ffmpeg").
	FFmpeg string
	// Stall is how long a relay waits for data before it calls the
	// upstream dropped and reconnects (default 5 s).
	Stall time.Duration
	// Backoff bounds the wait between reconnections (default 1 s to 30 s).
	MinBackoff, MaxBackoff time.Duration
	// Failed, if set, records a planned relay (by occurrence id) that aired
	// nothing: its upstream gave no audio for the whole window. Reports
	// then show the occurrence as missed, whatever nodes say of the silence.
	Failed func(ctx context.Context, occurrence, reason string)
}

// Target is a zone or node a session plays on, with the zone's start
// offset (PROTOCOL.md §4: start_at already includes it).
type Target struct {
	fleet.Target
	Offset time.Duration
}

// Spec describes a session to open.
type Spec struct {
	ID       string // session id; empty: a fresh one
	Source   string // "relay:VOV1", for people
	Title    string
	Priority string // normal (default), priority, emergency
	Resume   bool
	Targets  []Target
	StartAt  time.Time     // sample 0 heard; zero: now + Config.Latency
	EndsAt   time.Time     // zero: open-ended
	Window   time.Duration // RelayNow: EndsAt = StartAt + Window (zero: open-ended)
	By       string        // who opened it (audit, commands)
}

// Errors of the manager.
var (
	ErrRunning   = errors.New("a session with this id is already running")
	ErrNoTargets = errors.New("a session needs at least one zone or node")
)

// Manager opens, tracks and ends sessions.
type Manager struct {
	cfg       Config
	log       *slog.Logger
	mu        sync.Mutex
	sessions  map[string]*Session
	armed     map[string]armed  // planned relays, by occurrence id
	claims    map[string]*Claim // live speakers, by station (browser.go)
	wg        sync.WaitGroup
	usedSlots map[string]bool // sessions named after a live slot, taken once (mu)
}

// New makes a manager.
func New(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Latency <= 0 {
		cfg.Latency = 1500 * time.Millisecond
	}
	if cfg.VoiceLatency <= 0 {
		cfg.VoiceLatency = 600 * time.Millisecond
	}
	if cfg.RepeatEvery <= 0 {
		cfg.RepeatEvery = 15 * time.Second
	}
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if cfg.Stall <= 0 {
		cfg.Stall = 5 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = 30 * time.Second
	}
	return &Manager{cfg: cfg, log: cfg.Logger.With("part", "live"), sessions: map[string]*Session{}}
}

// Close ends every running session (their last packets go out) and
// waits for their goroutines. Relays still waiting for their window are
// cancelled through the context they were given.
func (m *Manager) Close() {
	m.mu.Lock()
	armed := m.armed
	m.armed = nil
	m.mu.Unlock()
	for _, a := range armed {
		a.cancel()
	}
	m.mu.Lock()
	all := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		all = append(all, s)
	}
	m.mu.Unlock()
	for _, s := range all {
		s.End("controller stopping")
	}
	m.wg.Wait()
}

// Running lists the ids of the sessions running now.
func (m *Manager) Running() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.sessions))
	for id := range m.sessions {
		out = append(out, id)
	}
	return out
}

// Stop ends a running session at once (its last packet goes out now).
// It reports whether the session was running.
func (m *Manager) Stop(id, reason string) bool {
	m.mu.Lock()
	s := m.sessions[id]
	m.mu.Unlock()
	if s == nil {
		return false
	}
	s.End(reason)
	return true
}

// Targets returns a running session's targets (false: not running), so
// that whoever stops it can be checked against them.
func (m *Manager) Targets(id string) ([]Target, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sessions[id]
	if s == nil {
		return nil, false
	}
	return append([]Target(nil), s.spec.Targets...), true
}

// Session is one running live session.
type Session struct {
	m     *Manager
	spec  Spec
	log   *slog.Logger
	stop  chan struct{} // closed by End
	ended chan struct{} // closed once the last packet is out

	mu      sync.Mutex
	done    bool
	kid     string   // key that signed the commands sent
	pending [][]byte // frames of the next packet
	pos     uint64   // sample position of pending[0]
	seq     uint32
	next    uint64 // sample position after the last frame written
	gaps    int
	gapDur  time.Duration
	packets int
	early   [][]byte // signed packets sent before the replay, kept for it
	replay  bool     // the early packets went out again: keep no more
}

// A node that subscribes to a stream topic only when the session's command
// reaches it misses the packets published meanwhile, and a session's
// first packets leave within milliseconds of its command (a browser's
// first chunk carries a few hundred ms of audio). So the packets sent in
// the first replayAfter go out once more then, at most replayMax of them;
// a node that has them drops the copies as duplicates (PROTOCOL.md §10).
const (
	replayAfter = 300 * time.Millisecond
	replayMax   = 20
)

// samplesPerPacket: the controller sends 100 ms packets (5 frames of 20 ms).
const framesPerPacket = 5

func newSessionID(now time.Time) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "s-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// Open sends the session's stream command to every target and returns the
// session, ready for frames. The command is sent again every RepeatEvery
// until the session ends.
func (m *Manager) Open(ctx context.Context, spec Spec) (*Session, error) {
	now := m.cfg.Now()
	if len(spec.Targets) == 0 {
		return nil, ErrNoTargets
	}
	if spec.ID == "" {
		spec.ID = newSessionID(now)
	}
	if !nodeproto.ValidID(spec.ID) {
		return nil, fmt.Errorf("live: session id %q: want 1-64 of a-z, 0-9, - _ and dot", spec.ID)
	}
	if spec.StartAt.IsZero() {
		spec.StartAt = now.Add(m.cfg.Latency)
	}
	if spec.Priority == "" {
		spec.Priority = nodeproto.PriorityNormal
	}
	s := &Session{m: m, spec: spec, log: m.log.With("session", spec.ID), stop: make(chan struct{}), ended: make(chan struct{})}
	m.mu.Lock()
	if m.sessions[spec.ID] != nil {
		m.mu.Unlock()
		return nil, fmt.Errorf("live: %s: %w", spec.ID, ErrRunning)
	}
	m.sessions[spec.ID] = s
	m.mu.Unlock()
	if err := s.sendCommands(ctx); err != nil {
		m.mu.Lock()
		delete(m.sessions, spec.ID)
		m.mu.Unlock()
		return nil, err
	}
	s.log.Info("live session opened", "source", spec.Source, "targets", len(spec.Targets), "start_at", spec.StartAt, "ends_at", spec.EndsAt, "priority", spec.Priority)
	m.audit(ctx, "live.open", s.targetList(), spec.ID+" "+spec.Source)
	m.wg.Add(1)
	go s.repeat()
	return s, nil
}

func (m *Manager) audit(ctx context.Context, action, target, detail string) {
	if m.cfg.Audit != nil {
		m.cfg.Audit(ctx, action, target, detail)
	}
}

// ID is the session id (the proof-of-play id of what nodes play).
func (s *Session) ID() string { return s.spec.ID }

// StartAt is the instant sample 0 is heard.
func (s *Session) StartAt() time.Time { return s.spec.StartAt }

// EndsAt is the planned end (zero: open).
func (s *Session) EndsAt() time.Time { return s.spec.EndsAt }

// Stopped is closed when End is called (by Stop, or by whoever feeds the
// session).
func (s *Session) Stopped() <-chan struct{} { return s.stop }

// Ended is closed once the session's last packet is out.
func (s *Session) Ended() <-chan struct{} { return s.ended }

func (s *Session) targetList() string {
	out := ""
	for i, t := range s.spec.Targets {
		if i > 0 {
			out += ","
		}
		out += t.String()
	}
	return out
}

func (s *Session) command(t Target) nodeproto.Command {
	st := &nodeproto.Stream{Session: s.spec.ID, Source: s.spec.Source, Title: s.spec.Title, Priority: s.spec.Priority,
		StartAt: s.spec.StartAt.Add(t.Offset).UnixMilli(), Codec: nodeproto.StreamCodec, Rate: nodeproto.StreamRate,
		Channels: 1, FrameMS: nodeproto.StreamFrameMS, Resume: s.spec.Resume}
	if !s.spec.EndsAt.IsZero() {
		st.EndsAt = s.spec.EndsAt.Add(t.Offset).UnixMilli()
	}
	return nodeproto.Command{Type: nodeproto.CmdStream, Stream: st}
}

// sendCommands sends the stream command to every target, each with a new
// command id; the session id stays.
func (s *Session) sendCommands(ctx context.Context) error {
	kid := s.m.cfg.Signer.Key().ID
	var errs []error
	for _, t := range s.spec.Targets {
		if _, err := s.m.cfg.Fleet.Send(ctx, t.Target, s.command(t), s.spec.By); err != nil {
			errs = append(errs, fmt.Errorf("live: stream command to %s: %w", t, err))
		}
	}
	s.mu.Lock()
	s.kid = kid
	s.mu.Unlock()
	return errors.Join(errs...)
}

func (s *Session) repeat() {
	defer s.m.wg.Done()
	t := time.NewTicker(s.m.cfg.RepeatEvery)
	defer t.Stop()
	r := time.NewTimer(replayAfter)
	defer r.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-r.C:
			s.replayEarly()
		case <-t.C:
			if err := s.sendCommands(context.Background()); err != nil {
				s.log.Warn("repeating the stream command", "err", err)
			}
		}
	}
}

// replayEarly publishes the packets sent so far once more (see replayAfter).
func (s *Session) replayEarly() {
	s.mu.Lock()
	defer s.mu.Unlock()
	early := s.early
	s.early, s.replay = nil, true
	if s.done {
		return
	}
	for _, b := range early {
		for _, t := range s.spec.Targets {
			if err := s.m.cfg.Fleet.PublishStream(t.Target, b); err != nil {
				s.log.Warn("sending the first packets again", "err", err)
			}
		}
	}
}

// Next is the sample position the next frame written continues from.
func (s *Session) Next() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

// Write adds Opus frames (20 ms each) starting at sample position pos.
// Frames that continue the previous ones fill 100 ms packets; a frame at
// another position (after a hole) first sends what is pending.
func (s *Session) Write(pos uint64, frames ...[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return fmt.Errorf("live: session %s has ended", s.spec.ID)
	}
	if len(s.pending) > 0 && pos != s.next {
		if err := s.flush(false); err != nil {
			return err
		}
	}
	for _, f := range frames {
		if len(s.pending) == 0 {
			s.pos = pos
		}
		s.pending = append(s.pending, f)
		pos += nodeproto.StreamSamplesPerFrame
		if len(s.pending) == framesPerPacket {
			if err := s.flush(false); err != nil {
				return err
			}
		}
	}
	s.next = pos
	return nil
}

// Gap records a hole of d in the audio (the upstream dropped), for the log.
func (s *Session) Gap(d time.Duration) {
	s.mu.Lock()
	s.gaps++
	s.gapDur += d
	s.mu.Unlock()
}

// flush signs and publishes the pending frames as one packet on every
// target's topic. Called with s.mu held.
func (s *Session) flush(last bool) error {
	p := nodeproto.StreamPacket{Session: s.spec.ID, Seq: s.seq, Pos: s.pos, Last: last, Frames: s.pending}
	if len(s.pending) == 0 {
		p.Pos = s.next
	}
	s.pending = s.pending[:0]
	b, kid, err := s.m.cfg.Signer.SignStream(p)
	if err != nil {
		return fmt.Errorf("live: session %s packet %d: %w", s.spec.ID, p.Seq, err)
	}
	if kid != s.kid {
		// The key rotated: nodes verify packets against the session's
		// command's key, so they need the command signed with this one.
		s.log.Info("signing key changed; sending the stream command again", "kid", kid)
		s.mu.Unlock()
		err := s.sendCommands(context.Background())
		s.mu.Lock()
		if err != nil {
			s.log.Warn("resending the stream command after a key change", "err", err)
		}
	}
	s.seq++
	s.packets++
	if !s.replay && len(s.early) < replayMax {
		s.early = append(s.early, b)
	}
	var errs []error
	for _, t := range s.spec.Targets {
		if err := s.m.cfg.Fleet.PublishStream(t.Target, b); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// End sends what is pending as the session's last packet, stops repeating
// its command and forgets it. Calling it again does nothing.
func (s *Session) End(reason string) {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return
	}
	s.done = true
	close(s.stop)
	err := s.flush(true)
	packets, gaps, gapDur, end := s.packets, s.gaps, s.gapDur, s.next
	s.mu.Unlock()
	close(s.ended)
	if err != nil {
		s.log.Warn("last packet", "err", err)
	}
	s.m.mu.Lock()
	delete(s.m.sessions, s.spec.ID)
	s.m.mu.Unlock()
	played := time.Duration(end) * time.Second / nodeproto.StreamRate
	s.log.Info("live session ended", "reason", reason, "packets", packets, "audio", played, "gaps", gaps, "gap", gapDur)
	s.m.audit(context.Background(), "live.end", s.targetList(),
		fmt.Sprintf("%s %s: %s sent, %d gaps (%s)", s.spec.ID, reason, played.Round(time.Millisecond), gaps, gapDur.Round(time.Millisecond)))
}
