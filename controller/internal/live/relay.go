package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// A relay pulls a live upstream (Icecast/HTTP MP3 or AAC, HLS: whatever
// ffmpeg reads) and feeds a session with its Opus frames. Positions follow
// the controller's clock: the session's sample 0 is heard at StartAt, and
// the audio that arrives at instant t is meant to be heard Latency later,
// so the frame arriving at t belongs near position (t - origin) where
// origin = StartAt - Latency. While data flows, frames are stamped back to
// back (no clicks from the upstream's jitter); when the stream falls more
// than lagTolerance behind that position (the upstream dropped or
// stalled), the position jumps to it: nodes play the hole as silence and
// report it, and the relay logs it. Frames more than aheadTolerance ahead
// of it (an upstream's burst on connect) are dropped.
const (
	lagTolerance   = 500 * time.Millisecond
	aheadTolerance = time.Second
	preroll        = 3 * time.Second // a scheduled relay connects this much before its origin
)

// FFmpegArgs are the arguments the relay gives ffmpeg for an upstream URL:
// mono 48 kHz Opus in 20 ms frames, in small Ogg pages on stdout so that
// frames come out as they are encoded. The upstream is live: no -re.
func FFmpegArgs(url string) []string {
	return []string{"-hide_banner", "-loglevel", "error", "-nostdin",
		"-i", url, "-vn", "-ac", "1", "-ar", "48000",
		"-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-application", "audio",
		"-page_duration", "20000", "-flush_packets", "1", "-f", "ogg", "pipe:1"}
}

// ErrUpstream is returned by RelayNow when the upstream gives no audio.
var ErrUpstream = errors.New("the upstream gives no audio")

// RelayNow connects to the upstream and, once its first frame is in,
// opens the session (StartAt = now + Latency) and relays until EndsAt (or
// Stop, or ctx). An upstream that gives nothing within Stall is an error
// wrapping ErrUpstream, with ffmpeg's reason, and no session is opened.
func (m *Manager) RelayNow(ctx context.Context, spec Spec, url string) (*Session, error) {
	rctx, cancel := context.WithCancel(context.Background())
	frames, why := m.pull(rctx, url, m.log.With("relay", url))
	var first []byte
	wait := time.NewTimer(m.cfg.Stall)
	defer wait.Stop()
	select {
	case first = <-frames:
	case <-wait.C:
		cancel()
		reason := fmt.Sprintf("no audio within %s", m.cfg.Stall)
		if err := why(); err != nil {
			reason = err.Error()
		}
		return nil, fmt.Errorf("live: %w: %s: %s", ErrUpstream, url, reason)
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	}
	now := m.cfg.Now()
	spec.StartAt = now.Add(m.cfg.Latency)
	if spec.Window > 0 {
		spec.EndsAt = spec.StartAt.Add(spec.Window)
	}
	s, err := m.Open(ctx, spec)
	if err != nil {
		cancel()
		return nil, err
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer cancel()
		r := relay{s: s, m: m, origin: now, log: s.log.With("upstream", url)}
		r.frame(first)
		r.run(rctx, frames)
	}()
	return s, nil
}

// RelayAt relays a planned window: it connects a little before, opens the
// session at StartAt - Latency (whether or not the upstream answers: a
// silent relay shows as a gap in proof of play) and ends it at EndsAt. It
// returns at once; ctx cancels it.
func (m *Manager) RelayAt(ctx context.Context, spec Spec, url string) {
	origin := spec.StartAt.Add(-m.cfg.Latency)
	log := m.log.With("session", spec.ID, "upstream", url)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if !sleep(ctx, origin.Add(-preroll).Sub(m.cfg.Now())) {
			return
		}
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		frames, why := m.pull(rctx, url, log)
		// Frames before the origin are the upstream warming up: dropped.
		for wait := time.NewTimer(origin.Sub(m.cfg.Now())); ; {
			select {
			case <-frames:
				continue
			case <-wait.C:
			case <-ctx.Done():
				return
			}
			break
		}
		s, err := m.Open(ctx, spec)
		if err != nil {
			log.Error("relay: opening the session", "err", err)
			return
		}
		r := relay{s: s, m: m, origin: origin, log: log}
		if r.run(rctx, frames) == "window end" && r.sent == 0 && m.cfg.Failed != nil {
			// Nothing aired: proof of play must not show it as played.
			reason := "the upstream gave no audio during the whole window"
			if err := why(); err != nil {
				reason += ": " + err.Error()
			}
			log.Error("relay failed: nothing aired", "reason", reason)
			m.cfg.Failed(context.Background(), spec.ID, reason)
		}
	}()
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// relay keeps one session's positions on the controller's clock.
type relay struct {
	s       *Session
	m       *Manager
	origin  time.Time // the instant whose audio is heard at StartAt
	log     *slog.Logger
	dropped int       // frames ahead of time, dropped
	lastAt  time.Time // when the last frame came
	sent    int       // frames written to the session
}

func samples(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	n := uint64(d) * nodeproto.StreamRate / uint64(time.Second)
	return n - n%nodeproto.StreamSamplesPerFrame
}

func (r *relay) total() (uint64, bool) {
	if r.s.EndsAt().IsZero() {
		return 0, false
	}
	return samples(r.s.EndsAt().Sub(r.s.StartAt())), true
}

// run relays until the session ends and says why it ended.
func (r *relay) run(ctx context.Context, frames <-chan []byte) string {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			r.s.End("cancelled")
			return "cancelled"
		case <-r.s.Stopped():
			return "stopped"
		case f, ok := <-frames:
			if !ok {
				r.s.End("cancelled")
				return "cancelled"
			}
			if r.frame(f) {
				r.s.End("window end")
				return "window end"
			}
		case <-tick.C:
			// The upstream may be down at the window's end: the clock ends it.
			total, ok := r.total()
			if ok && r.m.cfg.Now().Sub(r.origin) >= time.Duration(total)*time.Second/nodeproto.StreamRate+lagTolerance {
				r.s.End("window end")
				return "window end"
			}
		}
	}
}

// frame places one Opus frame; it reports whether the window is full.
func (r *relay) frame(f []byte) bool {
	now := r.m.cfg.Now()
	exp := samples(now.Sub(r.origin))
	pos := r.s.Next()
	total, bounded := r.total()
	if bounded && pos >= total {
		return true
	}
	switch {
	case pos+samples(lagTolerance) < exp:
		hole := time.Duration(exp-pos) * time.Second / nodeproto.StreamRate
		r.s.Gap(hole)
		r.log.Warn("relay: hole in the upstream filled with silence; nodes report it as a gap",
			"gap", hole, "at", time.Duration(pos)*time.Second/nodeproto.StreamRate, "since_last_frame", now.Sub(r.lastAt))
		pos = exp
	case pos > exp+samples(aheadTolerance):
		r.dropped++
		if r.dropped == 1 || r.dropped%250 == 0 {
			r.log.Info("relay: upstream ahead of the clock (a burst on connect); frames dropped", "dropped", r.dropped)
		}
		return false
	}
	r.lastAt = now
	if bounded && pos >= total {
		return true
	}
	if err := r.s.Write(pos, f); err != nil {
		r.log.Warn("relay: sending packet", "err", err)
	}
	r.sent++
	return bounded && pos+nodeproto.StreamSamplesPerFrame >= total
}

// pull runs ffmpeg on the upstream until ctx ends, reconnecting with
// backoff when it exits or gives nothing for Stall, and sends the Opus
// frames it produces. The channel is closed when ctx ends. why returns
// the reason the last connection ended (nil before one did).
func (m *Manager) pull(ctx context.Context, url string, log *slog.Logger) (frames <-chan []byte, why func() error) {
	out := make(chan []byte, 256)
	var mu sync.Mutex
	var last error
	why = func() error { mu.Lock(); defer mu.Unlock(); return last }
	go func() {
		defer close(out)
		backoff := m.cfg.MinBackoff
		for attempt := 1; ctx.Err() == nil; attempt++ {
			n, err := m.pullOnce(ctx, url, out)
			if ctx.Err() != nil {
				return
			}
			if n > 0 {
				backoff = m.cfg.MinBackoff // it worked for a while: start over
			}
			mu.Lock()
			last = err
			mu.Unlock()
			log.Warn("relay: upstream dropped; reconnecting", "frames", n, "err", err, "attempt", attempt, "retry_in", backoff)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, m.cfg.MaxBackoff)
		}
	}()
	return out, why
}

// pullOnce runs ffmpeg once; it returns how many frames it gave.
func (m *Manager) pullOnce(ctx context.Context, url string, out chan<- []byte) (int, error) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(cctx, m.cfg.FFmpeg, FFmpegArgs(url)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", m.cfg.FFmpeg, err)
	}
	got := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		o := newOggReader(stdout)
		for {
			p, err := o.next()
			if err != nil {
				readErr <- err
				return
			}
			select {
			case got <- append([]byte(nil), p...):
			case <-cctx.Done():
				readErr <- cctx.Err()
				return
			}
		}
	}()
	n := 0
	stall := time.NewTimer(m.cfg.Stall)
	defer stall.Stop()
	var why error
loop:
	for {
		select {
		case p := <-got:
			if len(p) > nodeproto.MaxStreamFrame {
				continue // never from libopus at 32 kbit/s; not sendable
			}
			n++
			select {
			case out <- p:
			case <-ctx.Done():
				why = ctx.Err()
				break loop
			}
			stall.Reset(m.cfg.Stall)
		case err := <-readErr:
			why = err
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				why = errors.New("upstream ended")
			}
			break loop
		case <-stall.C:
			why = fmt.Errorf("no audio for %s", m.cfg.Stall)
			break loop
		}
	}
	cancel()
	cmd.Wait()
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		why = fmt.Errorf("%w (ffmpeg: %s)", why, lastLine(msg))
	}
	return n, why
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
