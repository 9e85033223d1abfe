package nodeproto

import (
	"fmt"
	"time"
)

// MaxCommandLife bounds Expires-Issued: a command cannot stay valid for long,
// which bounds how long a node must remember ids to refuse replays.
const MaxCommandLife = 24 * time.Hour

func invalid(format string, a ...any) *Error { return Errf(CodeInvalid, fmt.Sprintf(format, a...)) }

func checkVolume(v *int) *Error {
	if v != nil && (*v < 0 || *v > 100) {
		return invalid("volume %d not in 0..100", *v)
	}
	return nil
}

func checkMedia(media string, size int64) *Error {
	if !ValidMedia(media) {
		return invalid("media %q is not a lowercase hex sha256", media)
	}
	if size <= 0 || size > MaxMediaSize {
		return invalid("media size %d not in 1..%d", size, MaxMediaSize)
	}
	return nil
}

// Validate checks a command's fields, independent of who receives it.
func (c *Command) Validate() error {
	if !ValidID(c.ID) {
		return invalid("command id %q", c.ID)
	}
	if (c.Node == "") == (c.Zone == "") {
		return invalid("command %s: exactly one of node and zone must be set", c.ID)
	}
	if c.Expires <= c.Issued || time.Duration(c.Expires-c.Issued)*time.Millisecond > MaxCommandLife {
		return invalid("command %s: expires must be after issued and within %s", c.ID, MaxCommandLife)
	}
	switch c.Type {
	case CmdPlay:
		if c.Play == nil {
			return invalid("play command %s without play", c.ID)
		}
		if err := checkMedia(c.Play.Media, c.Play.Size); err != nil {
			return err
		}
		if PriorityRank(c.Play.Priority) < 0 {
			return invalid("priority %q", c.Play.Priority)
		}
		if c.Play.Repeat < 0 || c.Play.Repeat > 100 || c.Play.GapMS < 0 {
			return invalid("repeat %d / gap %d", c.Play.Repeat, c.Play.GapMS)
		}
		if err := checkVolume(c.Play.Volume); err != nil {
			return err
		}
	case CmdStop:
	case CmdStream:
		if c.Stream == nil {
			return invalid("stream command %s without stream", c.ID)
		}
		if err := c.Stream.validate(); err != nil {
			return err
		}
	case CmdVolume:
		if c.Volume == nil {
			return invalid("volume command %s without volume", c.ID)
		}
		if err := checkVolume(c.Volume); err != nil {
			return err
		}
	case CmdAmp:
		if c.Amp == nil {
			return invalid("amp command %s without amp", c.ID)
		}
	case CmdUpdate:
		if c.Update == nil {
			return invalid("update command %s without update", c.ID)
		}
		if err := c.Update.validate(); err != nil {
			return err
		}
	case CmdTime:
		if c.Time == nil || c.Node == "" {
			return invalid("time command %s: needs time, to one node", c.ID)
		}
	default:
		return Errf(CodeUnsupported, fmt.Sprintf("command type %q", c.Type))
	}
	return nil
}

// Validate checks a desired state document.
func (d *Desired) Validate() error {
	if !ValidID(d.Node) || d.Rev <= 0 {
		return invalid("desired: node %q rev %d", d.Node, d.Rev)
	}
	if d.Volume < 0 || d.Volume > 100 {
		return invalid("desired volume %d not in 0..100", d.Volume)
	}
	switch d.Amp {
	case "", "auto", "on", "off":
	default:
		return invalid("desired amp %q: want auto, on or off", d.Amp)
	}
	for _, z := range d.Zones {
		if !ValidID(z) {
			return invalid("desired zone %q", z)
		}
	}
	for _, c := range d.Content {
		if err := checkMedia(c.Media, c.Size); err != nil {
			return err
		}
	}
	if len(d.Schedule) > MaxSchedule {
		return invalid("desired schedule has %d slots, limit %d", len(d.Schedule), MaxSchedule)
	}
	if d.HorizonUntil < 0 {
		return invalid("desired horizon_until %d", d.HorizonUntil)
	}
	for _, s := range d.Schedule {
		if !ValidID(s.ID) || s.PlayAt <= 0 {
			return invalid("schedule slot %q play_at %d", s.ID, s.PlayAt)
		}
		if d.HorizonUntil > 0 && s.PlayAt >= d.HorizonUntil {
			return invalid("schedule slot %s plays at %d, at or after horizon_until %d", s.ID, s.PlayAt, d.HorizonUntil)
		}
		switch {
		case s.Content != 0 && (s.Media != "" || s.Size != 0 || s.Content < 0 || s.Content > len(d.Content)):
			return invalid("schedule slot %s: content %d names no entry of %d (and excludes media and size)", s.ID, s.Content, len(d.Content))
		case s.Content == 0:
			if err := checkMedia(s.Media, s.Size); err != nil {
				return err
			}
		}
		if PriorityRank(s.Priority) < 0 || s.Repeat < 0 || s.Repeat > 100 || s.GapMS < 0 {
			return invalid("schedule slot %s: priority %q repeat %d gap %d", s.ID, s.Priority, s.Repeat, s.GapMS)
		}
		if err := checkVolume(s.Volume); err != nil {
			return err
		}
	}
	for _, k := range d.Keys {
		if k.ID == "" || len(k.Pub) != 32 {
			return invalid("desired key %q: want a kid and a 32-byte Ed25519 key", k.ID)
		}
	}
	return nil
}

// Validate checks a fetch request.
func (f *Fetch) Validate() error {
	if !ValidMedia(f.Media) {
		return invalid("fetch media %q", f.Media)
	}
	if len(f.Chunks) == 0 || len(f.Chunks) > MaxFetchChunks {
		return invalid("fetch of %d chunks, want 1..%d", len(f.Chunks), MaxFetchChunks)
	}
	for _, i := range f.Chunks {
		if i < 0 || i >= MaxMediaSize/ChunkSize {
			return invalid("fetch chunk index %d", i)
		}
	}
	return nil
}

// Validate checks a batch of proof-of-play events.
func (e *Events) Validate() error {
	if !ValidID(e.Node) {
		return invalid("events node %q", e.Node)
	}
	if len(e.Events) == 0 || len(e.Events) > MaxEvents {
		return invalid("%d events, want 1..%d", len(e.Events), MaxEvents)
	}
	for _, ev := range e.Events {
		if err := ev.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Limits of an event's free-text fields.
const (
	MaxEventID     = 128
	MaxEventReason = 512
)

// Validate checks one proof-of-play event.
func (ev *Event) Validate() error {
	switch ev.Type {
	case EventStarted, EventFinished, EventInterrupted, EventResumed, EventFailed:
	default:
		return invalid("event %d type %q", ev.Seq, ev.Type)
	}
	if ev.Gaps < 0 || ev.GapMS < 0 {
		return invalid("event %d: gaps %d gap_ms %d", ev.Seq, ev.Gaps, ev.GapMS)
	}
	if ev.Seq == 0 || ev.At <= 0 || len(ev.ID) > MaxEventID || len(ev.Reason) > MaxEventReason {
		return invalid("event seq %d at %d", ev.Seq, ev.At)
	}
	if !ValidEpoch(ev.Epoch) {
		return invalid("event %d epoch %q: want up to %d of a-z 0-9 - _ .", ev.Seq, ev.Epoch, MaxEpoch)
	}
	if ev.Media != "" && !ValidMedia(ev.Media) {
		return invalid("event %d media %q", ev.Seq, ev.Media)
	}
	if ev.PlayedMS < 0 || ev.PlayAt < 0 {
		return invalid("event %d played_ms %d play_at %d: must not be negative", ev.Seq, ev.PlayedMS, ev.PlayAt)
	}
	return ev.validateHeard()
}

// Bounds of the heard measurement (PROTOCOL.md §7): a correlation
// coefficient, and RMS levels in dBFS, whose floor is digital silence.
const (
	HeardFloorDB = -120.0
	HeardMaxDB   = 0.0
)

// validateHeard checks the heard fields: in range when present, and the
// measurements only beside a verdict (a level without "heard" would read as
// a measurement nobody judged).
func (ev *Event) validateHeard() error {
	if ev.Heard == nil {
		if ev.HeardCorr != nil || ev.HeardDB != nil || ev.HeardBgDB != nil {
			return invalid("event %d: heard_corr/heard_db/heard_bg_db without heard", ev.Seq)
		}
		return nil
	}
	if c := ev.HeardCorr; c != nil && !(*c >= -1 && *c <= 1) {
		return invalid("event %d heard_corr %v: want -1..1", ev.Seq, *c)
	}
	for _, db := range []*float64{ev.HeardDB, ev.HeardBgDB} {
		if db != nil && !(*db >= HeardFloorDB && *db <= HeardMaxDB) {
			return invalid("event %d heard level %v dBFS: want %v..%v", ev.Seq, *db, HeardFloorDB, HeardMaxDB)
		}
	}
	return nil
}

// CheckTime refuses an event dated more than skew after now (the
// receiver's clock): a node's clock may be a little ahead, but an event
// "in 2036" would top every report of what played last.
func (ev *Event) CheckTime(now time.Time, skew time.Duration) error {
	if limit := now.Add(skew).UnixMilli(); ev.At > limit {
		return invalid("event %d at %d is more than %s ahead of the receiver's clock (%d)", ev.Seq, ev.At, skew, now.UnixMilli())
	}
	return nil
}

// Validate checks a state report.
func (s *State) Validate() error {
	if !ValidID(s.Node) {
		return invalid("state node %q", s.Node)
	}
	if err := checkVolume(s.Volume); err != nil {
		return err
	}
	return s.validateHealth()
}

// Validate checks a reply.
func (r *Reply) Validate() error {
	if !ValidID(r.Node) || len(r.Cmd) > 128 || len(r.Reason) > 512 {
		return invalid("reply node %q cmd %q", r.Node, r.Cmd)
	}
	return nil
}

// Validate checks an acknowledgement.
func (a *Ack) Validate() error {
	if len(a.Seqs) == 0 || len(a.Seqs) > MaxAckSeqs {
		return invalid("ack of %d seqs, want 1..%d", len(a.Seqs), MaxAckSeqs)
	}
	if a.Epoch != nil && !ValidEpoch(*a.Epoch) {
		return invalid("ack epoch %q", *a.Epoch)
	}
	return nil
}
