package programme

import (
	"fmt"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

// What became of one occurrence on one node: the occurrence report shows
// these words, coverage counts them (Played as aired).
const (
	Played   = "played"
	Partly   = "partly played"
	Unheard  = "unheard" // played into a silent sink: nobody heard it
	Missed   = "missed"
	Playing  = "playing"
	Upcoming = "upcoming"
)

// MissedAfter is how long after its end an occurrence a node said nothing
// of counts as missed, and one it started but never reported ending as
// partly played: by then its proof of play would have arrived.
const MissedAfter = 10 * time.Minute

// A live session's holes (gap_ms, PROTOCOL.md §10) are audio that did not
// reach the node, played as silence. A session with holes in at most
// GapAired of its time on air aired (a few lost packets); one with holes in
// at least GapMissed of it aired nothing (a relay whose source never came
// through still "finishes" on time, all of it silence); between the two it
// aired in part.
const (
	GapAired  = 0.10
	GapMissed = 0.90
)

// NoSoundReason is what the report says of a play into a silent sink.
const NoSoundReason = "no sound device: played into the silent sink; check the sound card and the amplifier"

// Result is one node's outcome of one occurrence.
type Result struct {
	Status   string
	Reason   string
	PlayedMS int64
}

// Aired reports whether people heard it through.
func (r Result) Aired() bool { return r.Status == Played }

// Record is what one node reported of one occurrence, folded (Fold).
type Record struct {
	registry.PlayOutcome
	// Reason is the reason of the last "interrupted" or "failed" record
	// (the live mirror does not keep it: coverage only counts).
	Reason string
}

// Outcome decides what became of occurrence o on one node from what the
// node reported of it (rec) and,
// for a relay, why the controller could not air it (relayFailed, empty if
// it did). The occurrence report and coverage both decide with it.
func Outcome(rec Record, o schedule.Occurrence, relayFailed string, now time.Time) Result {
	end := o.End
	if end.IsZero() {
		end = o.At
	}
	late := now.After(end.Add(MissedAfter))
	gap := gapShare(rec)
	switch {
	case relayFailed != "":
		return Result{Missed, relayFailed, 0} // nodes heard only silence
	case rec.Silent:
		return Result{Unheard, NoSoundReason, rec.PlayedMS}
	case (rec.Finished || rec.Interrupted) && gap >= GapMissed:
		return Result{Missed, fmt.Sprintf("no audio reached the node: %s of %s played as silence", ms(rec.GapMS), ms(rec.PlayedMS)), 0}
	case rec.Finished && gap <= GapAired:
		return Result{Played, "", rec.PlayedMS}
	case rec.Finished:
		return Result{Partly, fmt.Sprintf("audio missing for %s of %s", ms(rec.GapMS), ms(rec.PlayedMS)), rec.PlayedMS}
	case rec.Interrupted:
		return Result{Partly, rec.Reason, rec.PlayedMS}
	case rec.Failed:
		return Result{Missed, rec.Reason, 0}
	case rec.Started && late:
		return Result{Partly, "started, but the node never reported its end", rec.PlayedMS}
	case rec.Started:
		return Result{Playing, "", rec.PlayedMS}
	case late:
		return Result{Missed, "no report from the node", 0}
	}
	return Result{Upcoming, "", 0}
}

// gapShare is the share of the time on air played as silence.
func gapShare(rec Record) float64 {
	if rec.GapMS <= 0 {
		return 0
	}
	if rec.PlayedMS <= 0 {
		return 1
	}
	return float64(rec.GapMS) / float64(rec.PlayedMS)
}

func ms(n int64) string { return (time.Duration(n) * time.Millisecond).Round(time.Second).String() }

// Fold sums up one node's records of one item.
func Fold(evs []registry.PlayEvent) Record {
	var r Record
	for _, e := range evs {
		r.Add(e)
		if e.Type == "interrupted" || e.Type == "failed" {
			r.Reason = e.Reason
		}
	}
	return r
}
