package registry

import "time"

// What a node's capture made of an item (PROTOCOL.md §7 "heard"), summed up
// over its records: one home for the verdict, used by the live mirror (the
// coverage view) and by the occurrence report.

// Heard verdicts. An item a node measured on several stretches (cut, then
// resumed) is not heard if any stretch was not: someone missed part of it.
// A node with no capture says nothing: "not measured", never "not heard".
const (
	HeardYes         = "heard"
	HeardNo          = "not heard"
	HeardNotMeasured = "not measured"
)

// HeardVerdict is the item's verdict from the outcome's flags: "" when it
// never played.
func (o PlayOutcome) HeardVerdict() string {
	switch {
	case !o.Started && !o.Finished && !o.Interrupted:
		return ""
	case o.NotHeard:
		return HeardNo
	case o.Heard:
		return HeardYes
	}
	return HeardNotMeasured
}

// OutcomeOf sums up an item's records on one node.
func OutcomeOf(evs []PlayEvent) PlayOutcome {
	var o PlayOutcome
	for _, e := range evs {
		o.Add(e)
	}
	return o
}

// noteHeard folds one record's measurement into the outcome.
func (o *PlayOutcome) noteHeard(e PlayEvent) {
	if e.Heard == nil || e.Type == "failed" {
		return
	}
	if *e.Heard {
		o.Heard = true
	} else {
		o.NotHeard = true
	}
}

// HeardOf is the verdict of an item from its records, with the
// correlation and level of the measurement that decided it (the newest
// such record; nil when not measured).
func HeardOf(evs []PlayEvent) (verdict string, corr, db *float64) {
	var decided *PlayEvent
	for i, e := range evs {
		if e.Heard != nil && e.Type != "failed" && (decided == nil || !*e.Heard && *decided.Heard ||
			*e.Heard == *decided.Heard && e.At.After(decided.At)) {
			decided = &evs[i]
		}
	}
	verdict = OutcomeOf(evs).HeardVerdict()
	if decided != nil && verdict != HeardNotMeasured {
		corr, db = decided.HeardCorr, decided.HeardDB
	}
	return verdict, corr, db
}

// LastHeard is the verdict on the newest item the node's capture measured
// since the reader's time, and when that item last reported; "" when it
// measured none (no capture, or nothing played).
func (v NodeView) LastHeard() (verdict string, at time.Time) {
	for _, it := range v.n.items {
		if it.last.Before(v.since) || !it.Heard && !it.NotHeard {
			continue
		}
		if it.last.After(at) {
			verdict, at = it.HeardVerdict(), it.last
		}
	}
	return verdict, at
}
