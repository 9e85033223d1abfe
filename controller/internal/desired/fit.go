package desired

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// ErrScheduleTooLarge is returned when not even the first
// nodeproto.MinHorizonMS of a node's schedule fits in one desired state.
var ErrScheduleTooLarge = errors.New("the schedule of the next 24 hours does not fit in one desired state")

// Reach is how far ahead the last desired state built for a node reaches,
// for the officer: a schedule cut short by the byte budget, or refused.
type Reach struct {
	// Until is the HorizonUntil of the last desired state published.
	Until time.Time `json:"until,omitzero"`
	// Planned is how far the programme was planned, when the budget cut
	// the schedule short of it (zero when all of it was sent).
	Planned time.Time `json:"planned,omitzero"`
	// Slots is how many occurrences were sent.
	Slots int `json:"slots"`
	// Error says why the last desired state was not published; the node
	// keeps the one before.
	Error string `json:"error,omitempty"`
	// At is when it was built.
	At time.Time `json:"at"`
}

// fitDesired cuts d's schedule so that d, signed by key kid, stays within
// limit bytes: the latest slots go first, cut at a local midnight if one
// fits, else at a whole hour, never less than nodeproto.MinHorizonMS after
// now. It sets HorizonUntil to the cut (or keeps the caller's when all
// fits) and drops the content only dropped slots needed. planned is the
// horizon asked for, or zero when nothing was cut. Nothing is signed here.
func fitDesired(d nodeproto.Desired, kid string, now time.Time, limit int) (fit nodeproto.Desired, planned time.Time, err error) {
	until := d.HorizonUntil
	if until > 0 {
		d = cutDesired(d, until) // a zone offset may push a slot past the plan
	}
	fits := func(d nodeproto.Desired) bool {
		n, err := signedSize(d, kid)
		return err == nil && n <= limit && len(d.Schedule) <= nodeproto.MaxSchedule
	}
	if _, err := signedSize(d, kid); err != nil {
		return d, time.Time{}, err
	}
	if fits(d) {
		return d, time.Time{}, nil
	}
	if c := compactSlots(d); fits(c) {
		return c, time.Time{}, nil // all of it, in the compact form
	}
	if until == 0 {
		for _, s := range d.Schedule {
			until = max(until, s.PlayAt+1)
		}
	}
	floor := now.Add(nodeproto.MinHorizonMS * time.Millisecond)
	cuts := cutTimes(floor, time.UnixMilli(until))
	// The largest cut that fits: size grows with the cut time.
	i := sort.Search(len(cuts), func(i int) bool {
		return !fits(compactSlots(cutDesired(d, cuts[i].UnixMilli())))
	}) - 1
	if i < 0 {
		return d, time.UnixMilli(until), fmt.Errorf("%w (%d occurrences planned, limit %d bytes): shorten the programme",
			ErrScheduleTooLarge, len(d.Schedule), limit)
	}
	// Prefer whole days: the last midnight that fits, if any does.
	best := i
	for j := i; j >= 0; j-- {
		if l := cuts[j].In(schedule.Zone); l.Hour() == 0 && l.Minute() == 0 && l.Second() == 0 && l.Nanosecond() == 0 {
			best = j
			break
		}
	}
	return compactSlots(cutDesired(d, cuts[best].UnixMilli())), time.UnixMilli(until), nil
}

// compactSlots names each slot's file by its place in d.Content
// (Slot.Content, from 1) instead of repeating its sha256, size and title:
// about 75 bytes a slot signed instead of 280, so that a day of 1,500
// starts fits one message. It is used only when the full form does not
// fit, so a node's ordinary programme stays readable by older nodes.
func compactSlots(d nodeproto.Desired) nodeproto.Desired {
	content := slices.Clone(d.Content)
	idx := make(map[string]int, len(content))
	for i, c := range content {
		if _, ok := idx[c.Media]; !ok {
			idx[c.Media] = i + 1
		}
	}
	slots := make([]nodeproto.Slot, len(d.Schedule))
	for i, s := range d.Schedule {
		if s.Content == 0 {
			k, ok := idx[s.Media]
			if !ok {
				content = append(content, nodeproto.ContentRef{Media: s.Media, Size: s.Size})
				k = len(content)
				idx[s.Media] = k
			}
			s.Content, s.Media, s.Size, s.Title = k, "", 0, ""
			if s.Priority == nodeproto.PriorityNormal {
				s.Priority = "" // the default
			}
		}
		slots[i] = s
	}
	d.Schedule, d.Content = slots, content
	return d
}

// cutTimes lists the cut times to try, ascending: floor itself, then every
// whole hour after it and before until.
func cutTimes(floor, until time.Time) []time.Time {
	if !floor.Before(until) {
		return nil
	}
	out := []time.Time{floor}
	for t := floor.Truncate(time.Hour).Add(time.Hour); t.Before(until); t = t.Add(time.Hour) {
		out = append(out, t)
	}
	return out
}

// cutDesired keeps the slots before until, and the content they or no
// slot at all need.
func cutDesired(d nodeproto.Desired, until int64) nodeproto.Desired {
	kept := make([]nodeproto.Slot, 0, len(d.Schedule))
	need := map[string]bool{}
	for _, s := range d.Schedule {
		if s.PlayAt < until {
			kept = append(kept, s)
			need[s.Media] = true
		}
	}
	if len(kept) == len(d.Schedule) {
		d.HorizonUntil = until
		return d
	}
	bySlot := map[string]bool{}
	for _, s := range d.Schedule {
		bySlot[s.Media] = true
	}
	content := make([]nodeproto.ContentRef, 0, len(d.Content))
	for _, c := range d.Content {
		if need[c.Media] || !bySlot[c.Media] {
			content = append(content, c)
		}
	}
	d.Schedule, d.Content, d.HorizonUntil = kept, content, until
	return d
}

// signedSize is the size of d's Envelope once signed by key kid
// (nodeproto.Sign), without signing it.
func signedSize(d nodeproto.Desired, kid string) (int, error) {
	msg, err := json.Marshal(d)
	if err != nil {
		return 0, fmt.Errorf("desired: desired state: %w", err)
	}
	k, _ := json.Marshal(kid)
	const sigLen = 64 // Ed25519
	return len(`{"kid":`) + len(k) + len(`,"msg":""`) + base64.StdEncoding.EncodedLen(len(msg)) +
		len(`,"sig":""}`) + base64.StdEncoding.EncodedLen(sigLen), nil
}
