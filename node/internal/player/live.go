package player

import "time"

// Live is audio that keeps its own clock, as a live session does (PROTOCOL.md
// §10): its sample n is heard at Item.PlayAt + n/Rate, whenever the item is
// on air. The mixer asks for the session position that matches the output
// sample it fills, so a session joined late, or resumed after a
// higher-priority item, plays its present, not what it missed; and every
// node of a zone plays the same sample at the same instant, as for files.
type Live interface {
	// ReadAt writes the session's samples from position pos into out.
	// out[:lead] is silence before the first sample the node plays (before
	// position 0, or a late joiner waiting for the next frame); out[lead:n]
	// is on air, with silence for audio that did not arrive. n is short of
	// len(out) only at the end of the session (eof).
	ReadAt(pos int64, out []int16) (lead, n int, eof bool)
	// Stats returns the holes played so far: how many, and how long in all.
	Stats() (gaps int, missing time.Duration)
}

// liveResync: a live item's start sample follows the sample clock when the
// two differ by more than this (the sound card's clock drifting against the
// system clock that the controller and the other nodes keep). A smaller
// correction would make the clock's own jitter audible.
const liveResync = 2 * Rate / 1000

// resyncLive keeps live items aligned to the wall clock over a long session.
func (p *Player) resyncLive() {
	resync := func(e *entry) {
		if e == nil || e.it.Live == nil {
			return
		}
		if s := p.clock.sampleAt(e.it.PlayAt); s-e.start > liveResync || e.start-s > liveResync {
			e.start = s
		}
	}
	resync(p.cur)
	for _, e := range p.paused {
		resync(e)
	}
	for _, e := range p.pending {
		resync(e)
	}
}

// fillLive plays seg, which starts at output sample at, from the live item
// on air. It returns how many samples of seg it used: all of them, or fewer
// when the session ended inside seg.
func (p *Player) fillLive(e *entry, seg []int16, at int64) int {
	lead, n, eof := e.it.Live.ReadAt(at-e.start, seg)
	if n > lead && !e.started {
		e.started = true
		e.began = p.clock.timeOf(at + int64(lead))
		p.emit(e, Started, e.began, "")
	}
	if e.started {
		p.applyGain(seg[lead:n], p.gain(e))
		e.played += int64(n - lead)
	}
	if !eof {
		return len(seg)
	}
	p.ended(e, at+int64(n), nil)
	return n
}
