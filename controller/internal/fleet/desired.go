package fleet

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/communeradio/radio/controller/internal/schedule"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// ErrTooLarge is returned for a message the broker would not carry: the
// controller refuses to publish it rather than have the broker cut its one
// connection, which carries every node's commands.
var ErrTooLarge = errors.New("message too large for the broker")

// checkSize refuses a message over the protocol's limits: a chunk over
// nodeproto.MaxChunkMsg, any other (JSON) message over
// nodeproto.MaxJSONPayload, and any packet over nodeproto.MaxPacket.
func checkSize(topic string, payload []byte) error {
	limit := nodeproto.MaxJSONPayload
	if strings.HasSuffix(topic, "/"+nodeproto.LeafChunk) {
		limit = nodeproto.MaxChunkMsg
	}
	// An MQTT PUBLISH: fixed header (1 + up to 4 length bytes), topic
	// (2 + its bytes), packet id (2), MQTT 5 properties (1 when empty).
	packet := 5 + 2 + len(topic) + 2 + 1 + len(payload)
	if len(payload) > limit || packet > nodeproto.MaxPacket {
		return fmt.Errorf("%w: %d bytes on %s, limit %d (packet limit %d)", ErrTooLarge, len(payload), topic, limit, nodeproto.MaxPacket)
	}
	return nil
}

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

// Reach returns what the last desired state built for node reached.
func (f *Fleet) Reach(node string) (Reach, bool) {
	v, ok := f.reach.Load(node)
	if !ok {
		return Reach{}, false
	}
	return v.(Reach), true
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
	if n, err := signedSize(d, kid); err != nil {
		return d, time.Time{}, err
	} else if n <= limit && len(d.Schedule) <= nodeproto.MaxSchedule {
		return d, time.Time{}, nil
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
		c := cutDesired(d, cuts[i].UnixMilli())
		n, err := signedSize(c, kid)
		return err != nil || n > limit || len(c.Schedule) > nodeproto.MaxSchedule
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
	return cutDesired(d, cuts[best].UnixMilli()), time.UnixMilli(until), nil
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
		return 0, fmt.Errorf("fleet: desired state: %w", err)
	}
	k, _ := json.Marshal(kid)
	const sigLen = 64 // Ed25519
	return len(`{"kid":`) + len(k) + len(`,"msg":""`) + base64.StdEncoding.EncodedLen(len(msg)) +
		len(`,"sig":""}`) + base64.StdEncoding.EncodedLen(sigLen), nil
}
