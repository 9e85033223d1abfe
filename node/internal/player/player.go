// Package player is the node's audio engine: one output stream for the life
// of the process (oto over ALSA, or a silent real-time sink when there is no
// sound device), fed by a mixer that splices each item in at the sample that
// corresponds to its play_at instant, so nodes of a zone start together.
// Priorities follow Circular 39/2020: a higher item cuts in, the interrupted
// one resumes if asked; equal priority replaces; lower waits.
package player

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Config of the player.
type Config struct {
	Logger   *slog.Logger
	Output   string // "auto" (default): oto, falling back to silent; "oto"; "silent"
	BufferMS int    // device buffer, default 100
}

// Item is something to play.
type Item struct {
	ID       string
	Media    string // sha256, echoed in events
	Path     string // Ogg Opus file
	PlayAt   time.Time
	Priority int // 0 normal, 1 priority, 2 emergency
	Volume   int // 0..100; -1 = the player's volume
	Repeat   int
	Gap      time.Duration
	Resume   bool
}

// Event is a playback event.
type Event struct {
	Type     string // started, finished, interrupted, resumed, failed
	ID       string
	Media    string
	Priority int
	At       time.Time // for started/resumed: the first sample at the speaker
	PlayAt   time.Time
	Played   time.Duration
	Reason   string
}

// Current is what is on air.
type Current struct {
	ID       string
	Media    string
	Priority int
	Since    time.Time
}

// entry is an item inside the mixer.
type entry struct {
	it      Item
	start   int64 // sample index it is due at
	src     *source
	played  int64 // samples played
	started bool
	began   time.Time
	paused  bool // preempted, waiting to resume
}

// Player plays items.
type Player struct {
	log     *slog.Logger
	backend string
	out     io.Closer
	clock   *sampleClock

	mu        sync.Mutex
	volume    int
	total     int64    // samples delivered to the device so far
	cur       *entry   // on air
	paused    []*entry // preempted items that resume
	pending   []*entry // scheduled, not started
	underruns int      // fills cut short because the decoder was behind

	evMu   sync.Mutex
	evq    []Event
	evWake chan struct{}
	events chan Event
	closed chan struct{}
}

// New opens the output and starts the mixer.
func New(cfg Config) (*Player, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BufferMS <= 0 {
		cfg.BufferMS = 100
	}
	p := &Player{log: cfg.Logger, volume: 70, clock: newSampleClock(), evWake: make(chan struct{}, 1),
		events: make(chan Event, 256), closed: make(chan struct{})}
	go p.forwardEvents()
	switch cfg.Output {
	case "silent":
		p.out, p.backend = startSilent(p), "silent"
	case "", "auto", "oto":
		out, err := startOto(p, time.Duration(cfg.BufferMS)*time.Millisecond)
		if err != nil {
			if cfg.Output == "oto" {
				return nil, fmt.Errorf("player: sound device: %w", err)
			}
			p.log.Warn("no sound device: playing into a silent real-time sink (nothing will be heard)", "err", err)
			p.out, p.backend = startSilent(p), "silent"
		} else {
			p.out, p.backend = out, "alsa"
		}
	default:
		return nil, fmt.Errorf("player: output %q: want auto, oto or silent", cfg.Output)
	}
	return p, nil
}

// Backend is "alsa" or "silent".
func (p *Player) Backend() string { return p.backend }

// Events delivers playback events, in order.
func (p *Player) Events() <-chan Event { return p.events }

// SetVolume sets the software gain, 0..100.
func (p *Player) SetVolume(v int) {
	p.mu.Lock()
	p.volume = max(0, min(100, v))
	p.mu.Unlock()
}

// Now returns what is on air, or nil.
func (p *Player) Now() *Current {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil || !p.cur.started {
		return nil
	}
	return &Current{ID: p.cur.it.ID, Media: p.cur.it.Media, Priority: p.cur.it.Priority, Since: p.cur.began}
}

// Play checks the file and schedules the item.
func (p *Player) Play(it Item) error {
	if err := probe(it.Path); err != nil {
		return err
	}
	if it.Volume > 100 {
		it.Volume = 100
	}
	src, err := newSource(it)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e := &entry{it: it, src: src, start: p.total}
	if !it.PlayAt.IsZero() {
		e.start = max(p.total, p.clock.sampleAt(it.PlayAt))
	}
	p.pending = append(p.pending, e)
	return nil
}

// Stop ends an item (or everything, for ""), reporting it interrupted.
func (p *Player) Stop(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	keep := p.pending[:0]
	for _, e := range p.pending {
		if id == "" || e.it.ID == id {
			p.emit(e, "interrupted", now, "stopped before it started")
			e.src.close()
			continue
		}
		keep = append(keep, e)
	}
	p.pending = keep
	keepP := p.paused[:0]
	for _, e := range p.paused {
		if id == "" || e.it.ID == id {
			p.emit(e, "interrupted", now, "stopped")
			e.src.close()
			continue
		}
		keepP = append(keepP, e)
	}
	p.paused = keepP
	if p.cur != nil && (id == "" || p.cur.it.ID == id) {
		p.emit(p.cur, "interrupted", now, "stopped")
		p.cur.src.close()
		p.cur = nil
		p.resumeNext()
	}
}

// Close stops the output.
func (p *Player) Close() error {
	select {
	case <-p.closed:
		return nil
	default:
	}
	close(p.closed)
	if p.out != nil {
		return p.out.Close()
	}
	return nil
}

func (p *Player) emit(e *entry, typ string, at time.Time, reason string) {
	ev := Event{Type: typ, ID: e.it.ID, Media: e.it.Media, Priority: e.it.Priority, At: at, PlayAt: e.it.PlayAt,
		Played: time.Duration(e.played) * time.Second / Rate, Reason: reason}
	p.evMu.Lock()
	p.evq = append(p.evq, ev)
	p.evMu.Unlock()
	select {
	case p.evWake <- struct{}{}:
	default:
	}
}

// forwardEvents moves events to the channel outside the audio path, so a
// slow consumer never stalls the sound and no event is dropped.
func (p *Player) forwardEvents() {
	for {
		select {
		case <-p.evWake:
		case <-p.closed:
			return
		}
		for {
			p.evMu.Lock()
			if len(p.evq) == 0 {
				p.evMu.Unlock()
				break
			}
			ev := p.evq[0]
			p.evq = p.evq[1:]
			p.evMu.Unlock()
			select {
			case p.events <- ev:
			case <-p.closed:
				return
			}
		}
	}
}

// resumeNext puts the highest-priority paused item back on air.
func (p *Player) resumeNext() {
	if len(p.paused) == 0 {
		return
	}
	best := 0
	for i, e := range p.paused {
		if e.it.Priority > p.paused[best].it.Priority {
			best = i
		}
	}
	e := p.paused[best]
	p.paused = append(p.paused[:best], p.paused[best+1:]...)
	e.paused = false
	e.start = p.total
	p.cur = e
}

// fill is the mixer: it writes n samples of output for the device, starting
// at sample index p.total, splicing items in at their exact start sample.
func (p *Player) fill(out []int16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range out {
		out[i] = 0
	}
	// Place future items by the latest clock: it sharpens as the device runs.
	for _, e := range p.pending {
		if !e.it.PlayAt.IsZero() && e.start > p.total {
			e.start = max(p.total, p.clock.sampleAt(e.it.PlayAt))
		}
	}
	pos := 0
	for pos < len(out) {
		at := p.total + int64(pos)
		// Does a pending item take the air at or before this sample?
		next := int64(-1)
		for _, e := range p.pending {
			if e.start <= at && p.wins(e, e.start < at) {
				p.takeAir(e, at)
				next = -1
				break
			}
			if e.start > at && (next < 0 || e.start < next) && p.wins(e, false) {
				next = e.start
			}
		}
		end := len(out)
		if next >= 0 && next-p.total < int64(end) {
			end = int(next - p.total)
		}
		if p.cur == nil {
			pos = end
			continue
		}
		e := p.cur
		if !e.started {
			e.started = true
			e.began = p.clock.timeOf(at)
			p.emit(e, "started", e.began, "")
		}
		n, eof := e.src.read(out[pos:end], p.gain(e))
		e.played += int64(n)
		pos += n
		if eof {
			if err := e.src.err; err != nil {
				p.emit(e, "failed", p.clock.timeOf(p.total+int64(pos)), "decode: "+err.Error())
			} else {
				p.emit(e, "finished", p.clock.timeOf(p.total+int64(pos)), "")
			}
			e.src.close()
			p.cur = nil
			p.resumeNext()
			if p.cur != nil {
				p.emit(p.cur, "resumed", p.clock.timeOf(p.total+int64(pos)), "")
			}
		} else if n == 0 {
			p.underruns++
			pos = end // decoder behind: a moment of silence rather than a stall
		}
	}
	p.total += int64(len(out))
}

// wins reports whether a due pending item may take the air now. An item
// falling due replaces one of equal priority; an item that has been waiting
// (it fell due while something higher played) queues behind it instead.
func (p *Player) wins(e *entry, waiting bool) bool {
	if p.cur == nil {
		for _, q := range p.paused {
			if q.it.Priority > e.it.Priority || (waiting && q.it.Priority == e.it.Priority) {
				return false
			}
		}
		return true
	}
	if waiting {
		return e.it.Priority > p.cur.it.Priority
	}
	return e.it.Priority >= p.cur.it.Priority
}

func (p *Player) takeAir(e *entry, at int64) {
	for i, q := range p.pending {
		if q == e {
			p.pending = append(p.pending[:i], p.pending[i+1:]...)
			break
		}
	}
	if c := p.cur; c != nil {
		when := p.clock.timeOf(at)
		if e.it.Priority > c.it.Priority && c.it.Resume {
			p.emit(c, "interrupted", when, "preempted by "+e.it.ID)
			c.paused = true
			p.paused = append(p.paused, c)
		} else {
			reason := "replaced by " + e.it.ID
			if e.it.Priority > c.it.Priority {
				reason = "preempted by " + e.it.ID
			}
			p.emit(c, "interrupted", when, reason)
			c.src.close()
		}
	}
	p.cur = e
}

func (p *Player) gain(e *entry) float64 {
	v := p.volume
	if e.it.Volume >= 0 {
		v = e.it.Volume
	}
	return float64(v) / 100
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("player: closed")
