package live

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// An officer speaking live from a browser: the page's MediaRecorder sends
// WebM (or Ogg) Opus chunks; ffmpeg turns them into the delivery frames
// (48 kHz mono, 20 ms) that are placed on the controller's clock exactly as
// a relay's upstream is (relay.go), so a hiccup of the officer's phone link
// is a counted hole, not drift. The same Ogg Opus ffmpeg writes is kept as
// the recording that goes into the commune's media library.
//
// A station has at most one live speaker at a time: Claim takes the
// station for a person before any audio flows, and a second person is
// told who holds it (BusyError).

// Claim is a station taken by one live speaker.
type Claim struct {
	Station  string    `json:"station"`
	Session  string    `json:"session"`
	User     string    `json:"user"` // actor (user name)
	Name     string    `json:"name"` // the person's name, for the "who is live" message
	Area     string    `json:"area"`
	Priority string    `json:"priority"`
	Title    string    `json:"title"`
	Target   string    `json:"target"` // as people read it: "zone z-center"
	Since    time.Time `json:"since"`
	Live     bool      `json:"live"`              // the browser is connected
	StartAt  time.Time `json:"start_at,omitzero"` // sample 0 heard, once audio flows
	ticket   string
	targets  []Target
	expire   *time.Timer
}

// BusyError says that a station already has someone live.
type BusyError struct{ Claim Claim }

func (e *BusyError) Error() string {
	who := e.Claim.Name
	if who == "" {
		who = e.Claim.User
	}
	return fmt.Sprintf("station %s is already live: %s (since %s)", e.Claim.Station, who, e.Claim.Since.Format(time.RFC3339))
}

// ErrTicket is returned for a browser connection whose ticket is unknown,
// used, expired or someone else's.
var ErrTicket = errors.New("live: no such live ticket (it is used, expired or someone else's): press start again")

// ClaimTTL is how long a claim waits for its browser to connect.
const ClaimTTL = 30 * time.Second

// Claim takes the station for c.User, with the targets the session will
// play on, and returns the ticket the browser's connection must show (it
// is single-use and expires after ClaimTTL). c.Session is assigned.
func (m *Manager) Claim(c Claim, targets []Target) (Claim, string, error) {
	if len(targets) == 0 {
		return Claim{}, "", ErrNoTargets
	}
	b := make([]byte, 16)
	rand.Read(b)
	c.ticket = hex.EncodeToString(b)
	c.targets = targets
	c.Since = m.cfg.Now()
	if c.Priority == "" {
		c.Priority = nodeproto.PriorityHigh
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.claims == nil {
		m.claims = map[string]*Claim{}
		m.usedSlots = map[string]bool{}
	}
	if old := m.claims[c.Station]; old != nil {
		return Claim{}, "", fmt.Errorf("live: %w", &BusyError{Claim: *old})
	}
	// A programme's live slot names the session after its occurrence, so
	// that proof of play counts it; only once: nodes do not play an ended
	// session again, so a second take of the slot is a session of its own.
	if c.Session == "" || m.usedSlots[c.Session] {
		c.Session = "live-" + strings.TrimPrefix(newSessionID(c.Since), "s-")
	}
	m.usedSlots[c.Session] = true
	cp := c
	cp.expire = time.AfterFunc(ClaimTTL, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if cur := m.claims[cp.Station]; cur != nil && cur.Session == cp.Session && !cur.Live {
			delete(m.claims, cp.Station)
			m.log.Info("live: the browser never connected; station free again", "station", cp.Station, "user", cp.User)
		}
	})
	m.claims[c.Station] = &cp
	return c, c.ticket, nil
}

// Take turns a ticket into the connected claim; user must be the one who
// claimed it.
func (m *Manager) Take(session, ticket, user string) (Claim, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.claims {
		if c.Session == session && !c.Live && c.User == user && c.ticket != "" && c.ticket == ticket {
			c.Live, c.ticket = true, ""
			c.expire.Stop()
			return *c, nil
		}
	}
	return Claim{}, ErrTicket
}

// Release frees a station held by session.
func (m *Manager) Release(station, session string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.claims[station]; c != nil && c.Session == session {
		c.expire.Stop()
		delete(m.claims, station)
	}
}

// Claims lists the stations held now.
func (m *Manager) Claims() []Claim {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Claim, 0, len(m.claims))
	for _, c := range m.claims {
		out = append(out, *c)
	}
	return out
}

func (m *Manager) setStart(station, session string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.claims[station]; c != nil && c.Session == session {
		c.StartAt = at
	}
}

// BrowserArgs are ffmpeg's arguments for a browser's chunks on stdin: it
// probes little (the container's header names the codec) and writes every
// 20 ms frame as soon as it is encoded.
func BrowserArgs() []string {
	return []string{"-hide_banner", "-loglevel", "error", "-nostdin",
		"-fflags", "nobuffer", "-probesize", "32768", "-analyzeduration", "0",
		"-i", "pipe:0", "-vn", "-ac", "1", "-ar", "48000",
		"-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-application", "voip",
		"-page_duration", "20000", "-flush_packets", "1", "-f", "ogg", "pipe:1"}
}

// Feed is a browser's audio on its way to a session.
type Feed struct {
	m      *Manager
	claim  Claim
	stdin  io.WriteCloser
	kill   context.CancelFunc
	opened chan *Session // the session, once its first frame is in
	done   chan struct{}

	mu      sync.Mutex
	closing bool   // Close was called: the browser stopped
	reason  string // why it ended
	err     error  // no session ever opened, and why
}

var errStopped = errors.New("stopped")

// Speak starts ffmpeg for a taken claim. Its Ogg output is copied to rec
// (the recording); the session opens with the first frame (sample 0 heard
// Latency later) and ends when the browser stops (Close), when ffmpeg
// ends, or on Stop.
func (m *Manager) Speak(c Claim, by string, rec io.Writer) (*Feed, error) {
	ctx, kill := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, m.cfg.FFmpeg, BrowserArgs()...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		kill()
		return nil, fmt.Errorf("live: ffmpeg stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		kill()
		return nil, fmt.Errorf("live: ffmpeg stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		kill()
		return nil, fmt.Errorf("live: starting %s: %w", m.cfg.FFmpeg, err)
	}
	f := &Feed{m: m, claim: c, stdin: stdin, kill: kill, opened: make(chan *Session, 1), done: make(chan struct{})}
	log := m.log.With("session", c.Session, "station", c.Station, "by", by)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(f.done)
		defer kill()
		s, err := f.pump(newOggReader(io.TeeReader(stdout, rec)), by)
		stdin.Close()
		io.Copy(io.Discard, stdout)
		werr := cmd.Wait()
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case f.closing && errors.Is(err, io.EOF):
			f.reason = "browser stopped"
		case errors.Is(err, errStopped):
			f.reason = "stopped"
		default:
			f.reason = fmt.Sprintf("audio ended (%v)", err)
			if msg := strings.TrimSpace(stderr.String()); msg != "" {
				f.reason = "ffmpeg: " + lastLine(msg)
			} else if werr != nil && !f.closing {
				f.reason = "ffmpeg: " + werr.Error()
			}
		}
		if s != nil {
			s.End(f.reason)
		} else if !f.closing || !errors.Is(err, io.EOF) {
			f.err = fmt.Errorf("live: no audio from the browser: %s", f.reason)
		}
		log.Info("live: browser feed ended", "reason", f.reason)
	}()
	return f, nil
}

// pump places ffmpeg's frames; the first opens the session. It returns
// the session (nil if none opened) and why it stopped.
func (f *Feed) pump(o *oggReader, by string) (*Session, error) {
	m, c := f.m, f.claim
	var r *relay
	for {
		p, err := o.next()
		if err != nil {
			return sessionOf(r), err
		}
		if len(p) > nodeproto.MaxStreamFrame {
			continue // never from libopus at 32 kbit/s; not sendable
		}
		if r == nil {
			now := m.cfg.Now()
			s, err := m.Open(context.Background(), Spec{ID: c.Session, Source: "live:" + c.User, Title: c.Title,
				Priority: c.Priority, Resume: true, Targets: c.targets, StartAt: now.Add(m.cfg.VoiceLatency), By: by})
			if err != nil {
				return nil, err
			}
			m.setStart(c.Station, c.Session, s.StartAt())
			f.opened <- s
			r = &relay{s: s, m: m, origin: now, log: m.log.With("session", c.Session)}
		}
		select {
		case <-r.s.Stopped(): // Stop, or the manager closing
			return r.s, errStopped
		default:
		}
		r.frame(append([]byte(nil), p...))
	}
}

func sessionOf(r *relay) *Session {
	if r == nil {
		return nil
	}
	return r.s
}

// Write hands one chunk from the browser to ffmpeg.
func (f *Feed) Write(chunk []byte) error {
	if _, err := f.stdin.Write(chunk); err != nil {
		return fmt.Errorf("live: to ffmpeg: %w", err)
	}
	return nil
}

// Close says the browser stopped: ffmpeg encodes what it holds, those
// frames go out, then the session's last packet. It waits for that; an
// ffmpeg that has not finished within 3 s is killed.
func (f *Feed) Close() {
	f.mu.Lock()
	f.closing = true
	f.mu.Unlock()
	f.stdin.Close()
	t := time.NewTimer(3 * time.Second)
	defer t.Stop()
	select {
	case <-f.done:
	case <-t.C:
		f.kill()
		<-f.done
	}
}

// Opened delivers the session once the first audio is in.
func (f *Feed) Opened() <-chan *Session { return f.opened }

// Done is closed when the feed has ended (the session's last packet is out).
func (f *Feed) Done() <-chan struct{} { return f.done }

// Result is why the feed ended and, if no session ever opened, the error.
func (f *Feed) Result() (reason string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reason, f.err
}
