package node

import (
	"errors"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/node/internal/clock"
)

// The node's clock as the agent uses it (node/internal/clock): until it is
// synchronised the node plays nothing timed (schedule slots) and refuses
// every command with `clock` (1014), since it cannot judge a command's
// expiry; it asks the controller's time in its State meanwhile.

// now is the node's wall time: every date the node makes or compares.
func (a *agent) now() time.Time { return a.clock.Now() }

// handleTime takes the controller's signed answer to a request for its
// time. It is not an operator's command: no reply, nothing remembered.
func (a *agent) handleTime(c *nodeproto.Command) {
	st, err := a.clock.Answer(c.Time.Req, c.Issued)
	switch {
	case errors.Is(err, clock.ErrNotAsked):
		a.log.Debug("time answer dropped", "err", err)
	case err != nil:
		a.log.Warn("time answer dropped", "err", err)
	default:
		a.log.Debug("controller time", "error_ms", st.ErrorMS, "offset", st.Offset)
	}
	a.clockTick()
}

// clockTick notices the clock becoming synchronised (says so, reports it)
// and a request for the controller's time falling due; changed is true
// when the clock was just synchronised (the time may have jumped).
func (a *agent) clockTick() (changed bool) {
	st := a.clock.Status()
	if st.Synced != a.clockSynced {
		a.clockSynced, changed = st.Synced, true
		a.clockSyncedAt = a.now()
		a.stateDirty = true
		a.log.Info("clock synchronised: timed plays and commands go ahead", "source", st.Source, "error_ms", st.ErrorMS, "corrected_by", st.Offset)
		a.recoverNowPlaying() // an item cut by a power loss is reported now, dated right
		if st.Synced {
			a.releaseHeld()
		}
	}
	if !st.Synced && !a.clockWarned {
		a.clockWarned = true
		a.log.Warn("clock not synchronised: playing nothing timed and refusing commands until it is (NTP, or the controller's time)", "now", a.now())
	}
	if a.clock.Due() {
		a.stateDirty = true
	}
	return changed
}

// missedReason says why a slot is reported missed: the node was down at
// its time, or its clock was not yet synchronised then.
func (a *agent) missedReason(at time.Time) string {
	began := a.now().Add(-time.Since(a.start)) // the process's start, on the corrected clock
	if at.After(began) && at.Before(a.clockSyncedAt) {
		return "missed: the node's clock was not synchronised at play time"
	}
	return "missed: the node was not running at play time"
}

// clockState fills the State's clock fields, with a request for the
// controller's time when one is due.
func (a *agent) clockState(s *nodeproto.State) {
	st := a.clock.Status()
	s.Clock, s.ClockSource, s.ClockErrorMS = nodeproto.ClockUnsynced, "", 0
	if st.Synced {
		s.Clock, s.ClockSource, s.ClockErrorMS = nodeproto.ClockSynced, st.Source, st.ErrorMS
	}
	if a.link.Connected() { // a request is timed from here: not one that cannot go out
		s.ClockReq = a.clock.Ask()
	}
}

// Commands that arrive before the clock is synchronised are held a while
// (PROTOCOL.md §1): after a restart the controller's time answer comes one
// round trip after connecting, and commands queued for the node arrive in
// those milliseconds.
const (
	holdMax  = 32
	holdWait = 10 * time.Second
)

type heldCommand struct {
	payload    []byte
	node, zone string
	since      time.Time // monotonic: the clock is not to be trusted yet
}

// hold keeps a signed command until the clock is synchronised; false when
// there is no room (the caller refuses it).
func (a *agent) hold(payload []byte, node, zone string) bool {
	if len(a.held) >= holdMax {
		return false
	}
	a.held = append(a.held, heldCommand{payload: payload, node: node, zone: zone, since: time.Now()})
	a.log.Info("command held until the clock is synchronised", "cmd", nodeproto.PeekID(payload))
	return true
}

// releaseHeld acts on the held commands, in the order they came.
func (a *agent) releaseHeld() {
	held := a.held
	a.held = nil
	for _, h := range held {
		a.handleCommand(h.payload, h.node, h.zone)
	}
}

// expireHeld refuses commands held longer than holdWait.
func (a *agent) expireHeld() {
	keep := a.held[:0]
	for _, h := range a.held {
		if time.Since(h.since) < holdWait {
			keep = append(keep, h)
			continue
		}
		a.reply(nodeproto.PeekID(h.payload), nodeproto.Errf(nodeproto.CodeClock, "the node's clock is not synchronised yet: it cannot judge expiry"))
	}
	a.held = keep
}
