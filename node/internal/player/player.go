// Package player is the node's audio engine: one output stream for the life
// of the process (ALSA, or a silent real-time sink when there is no sound
// device), fed by a mixer that splices each item in at the sample that
// corresponds to its play_at instant, so nodes of a zone start together.
// Priorities follow Circular 39/2020: a higher item cuts in, the interrupted
// one resumes if asked; equal priority replaces; lower waits.
//
// Timing: the mixer counts the samples it hands to the output. A sample
// clock (clock.go) maps that count to the wall time each sample reaches the
// speaker. An item's start sample is recomputed from its PlayAt on every
// mixer pull until it is due, so it uses the freshest clock estimate, and
// the started event reports the clock's time for the first sample.
package player

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Config of the player. The zero value is usable.
type Config struct {
	Logger *slog.Logger
	// Output is "auto" (the default: the sound device through ALSA, or a
	// silent real-time sink with a warning when there is none), "oto" (the
	// device or an error) or "silent".
	Output string
	// BufferMS is the device buffer, default 250. Timing does not depend
	// on it (the device tells its queue); a longer one rides out longer
	// stalls of a busy machine without an underrun, and PulseAudio's latency
	// estimate settled within 0.5 ms here with 250 ms, not with 100 ms.
	BufferMS int
	// Now is the node's wall clock (nil: time.Now). Samples are dated by
	// it, and PlayAt is read on it, so that the player and the node agree
	// on what time it is after a correction or an NTP step.
	Now func() time.Time
	// Tap, when set, is given each block the mixer hands to the output
	// (mono, at Rate, after the gain) with the time its first sample is
	// heard, as proof of play dates it: what a capture is compared with
	// (node/internal/heard). It runs on the audio path: it must be quick
	// and must not keep the slice.
	Tap func(mono []int16, at time.Time)
}

// Item is something to play.
type Item struct {
	ID       string
	Media    string // sha256, echoed in events
	Path     string // Ogg Opus file
	PlayAt   time.Time
	Priority int           // 0 normal, 1 priority, 2 emergency
	Volume   int           // 0..100; -1 = the player's volume
	Repeat   int           // further plays after the first
	Gap      time.Duration // silence between plays
	Resume   bool          // continue where it stopped after a higher-priority item
	// Live, when set, is a live session played instead of a file (Path is
	// unused): its sample n is heard at PlayAt + n/Rate (live.go).
	Live Live
}

// Event is a playback event, the raw material of proof of play.
type Event struct {
	Type     string // started, finished, interrupted, resumed, failed
	ID       string
	Media    string
	Priority int
	// At is when the event happens at the speaker; for started and resumed
	// the estimated wall time of the first sample heard.
	At     time.Time
	PlayAt time.Time
	Played time.Duration // of this item so far, gaps between repeats included
	Reason string        // for interrupted and failed
	// Live items, on finished and interrupted: holes in the audio that
	// arrived, played as silence (how many, and how long in all).
	Gaps int
	Gap  time.Duration
}

// Event types.
const (
	Started     = "started"
	Finished    = "finished"
	Interrupted = "interrupted"
	Resumed     = "resumed"
	Failed      = "failed"
)

// Current is what is on air.
type Current struct {
	ID       string
	Media    string
	Priority int
	Since    time.Time
}

// ErrClosed is returned by Play after Close.
var ErrClosed = errors.New("player: closed")

const (
	prefetch   = 2 * Rate // start decoding an item this many samples before it is due
	rampLen    = Rate / 100
	defaultVol = 70
)

// entry is an item inside the mixer.
type entry struct {
	it      Item
	seq     int64 // order of Play calls
	start   int64 // sample index it is due at
	src     *source
	played  int64 // samples played
	started bool
	began   time.Time
	waiting bool // fell due while something outranked it
}

// Player plays items.
type Player struct {
	log   *slog.Logger
	clock *sampleClock
	now   func() time.Time // the node's wall clock
	tap   func([]int16, time.Time)

	outMu   sync.Mutex
	backend string
	out     io.Closer

	mu        sync.Mutex
	closed    bool
	volume    int
	level     float64 // gain applied to the last sample, ramps to the target
	total     int64   // samples delivered to the output so far
	seq       int64
	cur       *entry   // on air
	paused    []*entry // preempted items that resume
	pending   []*entry // scheduled, not started
	underruns int      // samples of silence because a decoder was behind

	evMu   sync.Mutex
	evq    []Event
	evWake chan struct{}
	events chan Event
	done   chan struct{}
}

// New opens the output and starts the mixer.
func New(cfg Config) (*Player, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BufferMS <= 0 {
		cfg.BufferMS = 250
	}
	p := newPlayer(cfg.Logger)
	if cfg.Now != nil {
		p.now = cfg.Now
		p.clock.now = cfg.Now
	}
	p.tap = cfg.Tap
	switch cfg.Output {
	case "silent":
		p.out, p.backend = startSilent(p), "silent"
	case "", "auto", "oto":
		out, err := startALSA(p, time.Duration(cfg.BufferMS)*time.Millisecond)
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
	go p.forwardEvents()
	return p, nil
}

// newPlayer is a player with no output: something must call fill.
func newPlayer(log *slog.Logger) *Player {
	return &Player{log: log, now: time.Now, volume: defaultVol, level: defaultVol / 100.0, clock: newSampleClock(),
		evWake: make(chan struct{}, 1), events: make(chan Event, 256), done: make(chan struct{})}
}

// Backend is "alsa" or "silent". It turns to "silent" if the sound device
// fails while playing.
func (p *Player) Backend() string {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	return p.backend
}

// deviceFailed moves playback to a silent sink after an unrecoverable
// device error, so schedules, events and Now keep going; the node reports
// the backend in its state.
func (p *Player) deviceFailed(err error) {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	if p.backend != "alsa" {
		return
	}
	p.log.Error("sound device failed: playing into a silent real-time sink (nothing will be heard)", "err", err)
	p.clock.reset(0)
	p.out, p.backend = startSilent(p), "silent"
}

// Events delivers playback events, in order. It is never closed.
func (p *Player) Events() <-chan Event { return p.events }

// SetVolume sets the software gain, 0..100, for items with Volume -1. It
// ramps over 10 ms from the next sample handed to the device.
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

// Play checks the file (it must open and decode) and schedules the item.
// An item whose PlayAt has passed starts at once.
func (p *Player) Play(it Item) error {
	if it.Live == nil {
		if err := probe(it.Path); err != nil {
			return fmt.Errorf("player: %s: %w", it.ID, err)
		}
	}
	it.Volume = min(it.Volume, 100)
	it.Priority = max(0, it.Priority)
	it.Repeat = max(0, it.Repeat)
	it.Gap = max(0, it.Gap)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.seq++
	e := &entry{it: it, seq: p.seq}
	p.bindStart(e)
	// An item handed over after its time (a reboot, content that came late)
	// queues behind items of equal priority rather than cutting them off.
	e.waiting = !it.PlayAt.IsZero() && p.now().Sub(it.PlayAt) > lateAfter
	var primed <-chan struct{}
	if it.Live == nil && e.start-p.total < prefetch {
		e.src = newSource(it)
		primed = e.src.primed
	}
	p.pending = append(p.pending, e)
	p.mu.Unlock()
	if primed != nil {
		// Let the decoder get ahead so an immediate item starts with sound.
		select {
		case <-primed:
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// lateAfter: an item whose PlayAt passed longer ago than this when it is
// handed over is late.
const lateAfter = 100 * time.Millisecond

// bindStart maps the item's PlayAt to a sample index with the current clock.
func (p *Player) bindStart(e *entry) {
	e.start = p.total
	switch {
	case e.it.Live != nil:
		// A live session's clock runs whether or not it is heard: joining
		// late means starting inside it, not shifting it.
		e.start = p.clock.sampleAt(e.it.PlayAt)
	case !e.it.PlayAt.IsZero():
		e.start = max(p.total, p.clock.sampleAt(e.it.PlayAt))
	}
}

// Stop ends an item, or everything for "", reporting it interrupted with
// reason "stopped".
func (p *Player) Stop(id string) { p.End(id, "stopped") }

// End ends an item, or everything for "", wherever it is (on air, paused,
// waiting), reporting it interrupted with reason.
func (p *Player) End(id, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.timeOf(p.total)
	drop := func(list []*entry) []*entry {
		return slices.DeleteFunc(list, func(e *entry) bool {
			if id != "" && e.it.ID != id {
				return false
			}
			p.emit(e, Interrupted, now, reason)
			e.closeSource()
			return true
		})
	}
	p.pending = drop(p.pending)
	p.paused = drop(p.paused)
	if p.cur != nil && (id == "" || p.cur.it.ID == id) {
		p.emit(p.cur, Interrupted, now, reason)
		p.cur.closeSource()
		p.cur = nil
		p.resumeNext(now)
	}
}

// Close stops the output and drops what is scheduled, without events.
func (p *Player) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for _, e := range append(append(p.pending, p.paused...), p.cur) {
		if e != nil {
			e.closeSource()
		}
	}
	p.pending, p.paused, p.cur = nil, nil, nil
	p.mu.Unlock()
	close(p.done)
	p.outMu.Lock()
	defer p.outMu.Unlock()
	if p.out == nil {
		return nil
	}
	return p.out.Close()
}

func (e *entry) closeSource() {
	if e.src != nil {
		e.src.close()
	}
}

func (p *Player) emit(e *entry, typ string, at time.Time, reason string) {
	ev := Event{Type: typ, ID: e.it.ID, Media: e.it.Media, Priority: e.it.Priority, At: at, PlayAt: e.it.PlayAt,
		Played: time.Duration(e.played) * time.Second / Rate, Reason: reason}
	if e.it.Live != nil && (typ == Finished || typ == Interrupted) {
		ev.Gaps, ev.Gap = e.it.Live.Stats()
	}
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
		case <-p.done:
			return
		}
		for {
			p.evMu.Lock()
			if len(p.evq) == 0 {
				p.evq = nil // let a burst's backing array go
				p.evMu.Unlock()
				break
			}
			ev := p.evq[0]
			p.evq = p.evq[1:]
			p.evMu.Unlock()
			select {
			case p.events <- ev:
			case <-p.done:
				return
			}
		}
	}
}

// resumeNext puts the highest-priority paused item back on air.
func (p *Player) resumeNext(at time.Time) {
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
	p.paused = slices.Delete(p.paused, best, best+1)
	p.cur = e
	p.emit(e, Resumed, at, "")
}

// fill is the mixer: it writes the output's next len(out) samples, starting
// at sample index p.total, splicing items in at their exact start sample.
// now is when the first sample of out will be heard (for the sample clock),
// or zero when the output cannot tell (a device not running yet). It never blocks
// on decoding: a decoder that is behind costs a moment of silence.
func (p *Player) fill(out []int16, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !now.IsZero() {
		p.clock.observe(now, p.total)
	}
	clear(out)
	if p.closed {
		p.total += int64(len(out))
		return
	}
	p.resyncLive()
	for _, e := range p.pending {
		if !e.waiting && e.start > p.total {
			p.bindStart(e) // the freshest clock estimate wins
		}
		if e.it.Live == nil && e.src == nil && e.start-p.total < prefetch+int64(len(out)) {
			e.src = newSource(e.it)
		}
	}
	pos := 0
	for pos < len(out) {
		at := p.total + int64(pos)
		p.takeDue(at)
		end := int64(len(out))
		for _, e := range p.pending {
			if e.start > at && e.start-p.total < end && p.wins(e) {
				end = e.start - p.total
			}
		}
		e := p.cur
		if e == nil {
			pos = int(end)
			continue
		}
		seg := out[pos:end]
		if e.it.Live != nil {
			pos += p.fillLive(e, seg, at)
			continue
		}
		n, eof := e.src.read(seg)
		if n > 0 {
			if !e.started {
				e.started = true
				e.began = p.clock.timeOf(at)
				p.emit(e, Started, e.began, "")
			}
			p.applyGain(seg[:n], p.gain(e))
		}
		e.played += int64(n)
		pos += n
		if eof {
			p.ended(e, p.total+int64(pos), e.src.err)
		} else if n < len(seg) {
			p.underruns += len(seg) - n
			pos = int(end) // decoder behind: a moment of silence rather than a stall
		}
	}
	if p.tap != nil {
		p.tap(out, p.clock.timeOf(p.total))
	}
	p.total += int64(len(out))
}

// ended takes the item on air off it at sample at: it finished, or failed
// with err. What it interrupted resumes.
func (p *Player) ended(e *entry, at int64, err error) {
	when := p.clock.timeOf(at)
	if !e.started {
		p.emit(e, Started, when, "")
	}
	if err != nil {
		p.emit(e, Failed, when, err.Error())
	} else {
		p.emit(e, Finished, when, "")
	}
	e.closeSource()
	p.cur = nil
	p.resumeNext(when)
}

// takeDue puts on air whatever due item outranks the current one. Items
// due at once are weighed in order of priority, then start, then Play
// order, so of two equal items due together the later one stays on air.
func (p *Player) takeDue(at int64) {
	var due []*entry
	for _, e := range p.pending {
		if e.start <= at {
			due = append(due, e)
		}
	}
	if len(due) == 0 {
		return
	}
	slices.SortFunc(due, func(a, b *entry) int {
		return cmp.Or(cmp.Compare(b.it.Priority, a.it.Priority), cmp.Compare(a.start, b.start), cmp.Compare(a.seq, b.seq))
	})
	for _, e := range due {
		if p.wins(e) {
			p.takeAir(e, at)
		} else {
			e.waiting = true
		}
	}
}

// wins reports whether a pending item may take the air from what is on it.
// An item falling due replaces one of equal priority; an item that has
// been waiting (it fell due while something outranked it) queues behind
// equals instead.
func (p *Player) wins(e *entry) bool {
	if p.cur == nil {
		return true
	}
	if e.waiting {
		return e.it.Priority > p.cur.it.Priority
	}
	return e.it.Priority >= p.cur.it.Priority
}

func (p *Player) takeAir(e *entry, at int64) {
	p.pending = slices.DeleteFunc(p.pending, func(q *entry) bool { return q == e })
	if c := p.cur; c != nil && c.waiting && !c.started && c.it.Priority <= e.it.Priority {
		// A late item outranked before a sample of it was heard goes back
		// to wait its turn instead of being reported as cut.
		c.waiting = true
		p.pending = append(p.pending, c)
		p.cur = nil
	}
	if c := p.cur; c != nil {
		when := p.clock.timeOf(at)
		switch {
		case e.it.Priority > c.it.Priority && c.it.Resume:
			p.emit(c, Interrupted, when, "preempted by "+e.it.ID)
			p.paused = append(p.paused, c)
		case e.it.Priority > c.it.Priority:
			p.emit(c, Interrupted, when, "preempted by "+e.it.ID)
			c.closeSource()
		default:
			p.emit(c, Interrupted, when, "replaced by "+e.it.ID)
			c.closeSource()
		}
	}
	if e.src == nil && e.it.Live == nil {
		e.src = newSource(e.it)
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

// applyGain scales s by target, ramping from the previous gain so that a
// volume change does not click.
func (p *Player) applyGain(s []int16, target float64) {
	const step = 1.0 / rampLen
	for i, v := range s {
		switch {
		case p.level < target:
			p.level = min(target, p.level+step)
		case p.level > target:
			p.level = max(target, p.level-step)
		}
		s[i] = int16(float64(v) * p.level)
	}
}
