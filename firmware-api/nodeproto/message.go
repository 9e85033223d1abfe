package nodeproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// Size limits. A receiver MUST drop a larger payload without parsing it.
const (
	MaxJSONPayload = 256 << 10 // any JSON message
	ChunkSize      = 16 << 10  // content bytes per chunk (the last may be shorter)
	MaxMediaSize   = 64 << 20  // one media file in the delivery format
	MaxFetchChunks = 64        // chunk indices in one Fetch
	MaxEvents      = 256       // events in one Events message
	MaxAckSeqs     = 1024      // seqs in one Ack
	MaxSchedule    = 5000      // slots in one Desired
	MaxChunkMsg    = chunkHeader + ChunkSize
	// MaxPacket is the largest MQTT packet a broker of this protocol
	// carries: the largest payload (a JSON document at MaxJSONPayload, which
	// is bigger than a chunk) plus the fixed header, the topic and MQTT 5
	// properties. A broker disconnects a client that sends a bigger one, so
	// a sender MUST check a message against it before publishing: one
	// oversized message must not cut a shared connection.
	MaxPacket = max(MaxJSONPayload, MaxChunkMsg) + 4096
	// MinHorizonMS is the shortest schedule horizon a controller sends: when
	// a desired state over MaxJSONPayload must be cut, it keeps at least
	// this much of the schedule, or refuses to publish it.
	MinHorizonMS = 24 * 3600 * 1000
)

// Priorities of Circular 39/2020/TT-BTTTT, lowest first.
const (
	PriorityNormal    = "normal"    // thông thường
	PriorityHigh      = "priority"  // ưu tiên
	PriorityEmergency = "emergency" // khẩn cấp
)

// PriorityRank orders priorities: normal 0, priority 1, emergency 2, unknown -1.
func PriorityRank(p string) int {
	switch p {
	case PriorityNormal, "":
		return 0
	case PriorityHigh:
		return 1
	case PriorityEmergency:
		return 2
	}
	return -1
}

// Command types.
const (
	CmdPlay   = "play"
	CmdStop   = "stop"
	CmdVolume = "volume"
	CmdAmp    = "amp"
)

// Event types of proof of play.
const (
	EventStarted     = "started"
	EventFinished    = "finished"
	EventInterrupted = "interrupted"
	EventResumed     = "resumed"
	EventFailed      = "failed"
)

// State is what a node reports about itself, retained on radio/v1/node/{id}/state.
// The node's last will is a State with Online false.
type State struct {
	Node       string      `json:"node"`
	Online     bool        `json:"online"`
	TS         int64       `json:"ts,omitempty"` // unix ms of this report
	Version    string      `json:"version,omitempty"`
	Arch       string      `json:"arch,omitempty"` // GOARCH of the node software: the release an update must carry
	UptimeS    int64       `json:"uptime_s,omitempty"`
	Volume     *int        `json:"volume,omitempty"` // 0-100; a pointer so that 0 (muted) is reported
	Amp        bool        `json:"amp,omitempty"`
	Audio      string      `json:"audio,omitempty"` // "alsa" or "silent" (no sound device)
	Playing    *NowPlaying `json:"playing,omitempty"`
	DiskFree   int64       `json:"disk_free,omitempty"` // bytes free where the cache lives
	CacheBytes int64       `json:"cache_bytes,omitempty"`
	DesiredRev int64       `json:"desired_rev,omitempty"` // last desired revision applied
	// ScheduleUntil is the applied desired state's HorizonUntil: how far
	// ahead the node holds its schedule (unix ms; 0: not said).
	ScheduleUntil int64  `json:"schedule_until,omitempty"`
	Outbox        int    `json:"outbox,omitempty"` // proof-of-play events not yet acknowledged
	Error         string `json:"error,omitempty"`
	// Health (clock.go): whether the clock is synchronised and by what,
	// the error bound of a clock set from the controller's time, a
	// request for that time, the CPU's temperature, the box's uptime,
	// the mobile link.
	Clock        string   `json:"clock,omitempty"`
	ClockSource  string   `json:"clock_source,omitempty"`
	ClockErrorMS int64    `json:"clock_error_ms,omitempty"`
	ClockReq     int64    `json:"clock_req,omitempty"`
	CPUTempC     *float64 `json:"cpu_temp_c,omitempty"`
	SysUptimeS   int64    `json:"sys_uptime_s,omitempty"`
	Modem        *Modem   `json:"modem,omitempty"`
}

// NowPlaying describes the item on air.
type NowPlaying struct {
	ID       string `json:"id"` // command or schedule slot id
	Media    string `json:"media"`
	Priority string `json:"priority"`
	Since    int64  `json:"since"` // unix ms of the first sample
}

// Command is the signed body of radio/v1/node/{id}/cmd and radio/v1/zone/{zone}/cmd.
// Exactly one of Node and Zone is set and MUST match the topic it came on.
type Command struct {
	ID      string      `json:"id"`
	Type    string      `json:"type"`
	Node    string      `json:"node,omitempty"`
	Zone    string      `json:"zone,omitempty"`
	Issued  int64       `json:"issued"`  // unix ms
	Expires int64       `json:"expires"` // unix ms; a node MUST NOT act after this instant
	Play    *Play       `json:"play,omitempty"`
	Stop    *Stop       `json:"stop,omitempty"`
	Volume  *int        `json:"volume,omitempty"` // 0..100, for type volume
	Amp     *bool       `json:"amp,omitempty"`    // for type amp
	Stream  *Stream     `json:"stream,omitempty"` // for type stream: opens a live session
	Time    *TimeAnswer `json:"time,omitempty"`   // for type time: the controller's clock, answering State.ClockReq
	Update  *Update     `json:"update,omitempty"` // for type update: install a signed release (release.go)
}

// Play asks the node to play a media file at PlayAt.
type Play struct {
	Media    string `json:"media"`             // lowercase hex sha256 of the file in the delivery format
	Size     int64  `json:"size"`              // bytes of that file
	PlayAt   int64  `json:"play_at,omitempty"` // unix ms of the first sample; 0 = as soon as the file is ready
	Priority string `json:"priority,omitempty"`
	Title    string `json:"title,omitempty"`
	Repeat   int    `json:"repeat,omitempty"` // extra plays after the first
	GapMS    int64  `json:"gap_ms,omitempty"` // silence between repeats
	Volume   *int   `json:"volume,omitempty"` // overrides the node volume for this item
	Resume   bool   `json:"resume,omitempty"` // continue after a higher-priority item interrupts
}

// Stop ends what is playing. An empty ID stops everything.
type Stop struct {
	ID string `json:"id,omitempty"`
}

// Desired is the signed, retained desired state on radio/v1/node/{id}/desired.
// A node applies a Desired only when Rev is greater than the last it applied.
type Desired struct {
	Node     string       `json:"node"`
	Rev      int64        `json:"rev"`
	Issued   int64        `json:"issued"`        // unix ms
	Volume   int          `json:"volume"`        // 0..100
	Amp      string       `json:"amp,omitempty"` // "auto" (on while playing), "on", "off"
	Zones    []string     `json:"zones,omitempty"`
	Content  []ContentRef `json:"content,omitempty"`  // files to keep cached
	Schedule []Slot       `json:"schedule,omitempty"` // upcoming occurrences, played from the node's own clock
	Keys     []Key        `json:"keys,omitempty"`     // controller keys to trust from now on
	// HorizonUntil (unix ms; 0: not said) is how far ahead Schedule
	// reaches: every occurrence before it is in Schedule, none at or after
	// it. It is earlier than the controller's planning horizon when the
	// whole plan would not fit in MaxJSONPayload (PROTOCOL.md §4).
	HorizonUntil int64 `json:"horizon_until,omitempty"`
}

// ContentRef names a media file a node should hold in its cache.
type ContentRef struct {
	Media string `json:"media"`
	Size  int64  `json:"size"`
}

// Slot is one scheduled occurrence the node plays on its own at PlayAt even
// when its link is down.
type Slot struct {
	ID    string `json:"id"`              // unique occurrence id, echoed in proof-of-play events
	Media string `json:"media,omitempty"` // required unless Content is set
	Size  int64  `json:"size,omitempty"`
	// Content, in the compact form, names the file as its place in
	// Desired.Content, from 1, instead of Media and Size (which are then
	// absent); the controller uses it when the full form would not fit
	// one message. ExpandSlots turns it back into Media and Size.
	Content  int    `json:"content,omitempty"`
	PlayAt   int64  `json:"play_at"` // unix ms
	Priority string `json:"priority,omitempty"`
	Title    string `json:"title,omitempty"`
	Repeat   int    `json:"repeat,omitempty"`
	GapMS    int64  `json:"gap_ms,omitempty"`
	Volume   *int   `json:"volume,omitempty"`
	Resume   bool   `json:"resume,omitempty"`
}

// Key is a controller public key (Ed25519, 32 bytes, base64 in JSON).
type Key struct {
	ID  string `json:"kid"`
	Pub []byte `json:"pub"`
}

// Reply is a node's answer to a command or desired state.
type Reply struct {
	Node   string `json:"node"`
	Cmd    string `json:"cmd,omitempty"` // command id, or "desired:<rev>"
	OK     bool   `json:"ok"`
	Code   Code   `json:"code"`
	Reason string `json:"reason,omitempty"`
	TS     int64  `json:"ts"`
}

// Fetch asks the controller for chunks of a media file the node is missing.
type Fetch struct {
	Media  string `json:"media"`
	Chunks []int  `json:"chunks"`
}

// Events carries proof-of-play records from the node's durable outbox.
type Events struct {
	Node   string  `json:"node"`
	Events []Event `json:"events"`
}

// Event is one proof-of-play record. (node, Epoch, Seq) names it: Seq
// increases within an epoch, and a node starts a new random Epoch whenever
// it cannot be sure which numbers it already used (a new outbox, a lost or
// unreadable counter), so two different records never share a name. The
// controller stores a name once however often it arrives, and keeps (and
// flags) a record that arrives under a stored name with other content.
type Event struct {
	Epoch    string `json:"epoch,omitempty"` // the outbox's epoch; "" from nodes older than 2026-12-07
	Seq      uint64 `json:"seq"`
	Type     string `json:"type"`
	ID       string `json:"id"` // command id or schedule slot id
	Media    string `json:"media"`
	At       int64  `json:"at"`                  // unix ms of the event; for started, of the first sample
	PlayAt   int64  `json:"play_at,omitempty"`   // unix ms asked for
	OffsetUS int64  `json:"offset_us,omitempty"` // first sample minus play_at, microseconds (started)
	PlayedMS int64  `json:"played_ms,omitempty"` // audio played so far (finished, interrupted)
	Priority string `json:"priority,omitempty"`
	Reason   string `json:"reason,omitempty"` // failed, interrupted
	// Live sessions only (finished, interrupted): audio that did not arrive
	// in time and was played as silence: how many holes, and how long in all.
	Gaps  int   `json:"gaps,omitempty"`
	GapMS int64 `json:"gap_ms,omitempty"`
	// Audio is AudioSilent when the item went into the silent sink (no sound
	// device, or it failed): the node played it but nobody heard it. Absent
	// (older nodes, or a sound device) means it came out of the speakers.
	Audio string `json:"audio,omitempty"`
	// Heard: whether the node's capture (a microphone, or a line-in tapped
	// after the amplifier) heard the item, on finished and interrupted
	// events of a node that has one (PROTOCOL.md §7 "heard"). Absent = not
	// measured (no capture, or too little audio to judge), never "not
	// heard". HeardCorr is the normalised correlation of the capture with
	// what was played at the best lag; HeardDB and HeardBgDB are the
	// capture's RMS level in dBFS during the item and in the second before.
	Heard     *bool    `json:"heard,omitempty"`
	HeardCorr *float64 `json:"heard_corr,omitempty"`
	HeardDB   *float64 `json:"heard_db,omitempty"`
	HeardBgDB *float64 `json:"heard_bg_db,omitempty"`
}

// AudioSilent is State.Audio and Event.Audio of a node that plays into its
// silent real-time sink: nothing comes out of the speakers.
const AudioSilent = "silent"

// Ack acknowledges stored events of one epoch; the node may then drop them
// from its outbox. Epoch is always present from a current controller ("" for
// events sent without one); a nil Epoch (the field absent) comes from a
// controller older than 2026-12-07 and names those seqs in every epoch.
type Ack struct {
	Epoch *string  `json:"epoch,omitempty"`
	Seqs  []uint64 `json:"seqs"`
}

// Matches reports whether the ack covers events of epoch.
func (a *Ack) Matches(epoch string) bool { return a.Epoch == nil || *a.Epoch == epoch }

// MaxEpoch bounds an epoch's length; its characters are those of an id.
const MaxEpoch = 32

// ValidEpoch reports whether s may be an outbox epoch ("" is the epoch of
// nodes that predate epochs).
func ValidEpoch(s string) bool { return s == "" || (len(s) <= MaxEpoch && ValidID(s)) }

var hexSHA = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ValidMedia reports whether s is a lowercase hex sha256.
func ValidMedia(s string) bool { return hexSHA.MatchString(s) }

// ErrTooLarge is returned for a payload over its limit.
var ErrTooLarge = errors.New("payload too large")

// Decode parses a JSON payload: size-limited, one value only. Unknown fields
// are ignored so that optional fields can be added without a version bump.
// Every JSON receiver of the protocol uses it.
func Decode(payload []byte, v any) error {
	if len(payload) > MaxJSONPayload {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(payload), MaxJSONPayload)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if dec.More() {
		return errors.New("malformed JSON: trailing data")
	}
	return nil
}

// ExpandSlots fills Media and Size of compact slots (Slot.Content) from
// d.Content, so that the rest of a node sees one form. Call it after
// Validate, which checks the indices.
func (d *Desired) ExpandSlots() {
	for i := range d.Schedule {
		s := &d.Schedule[i]
		if s.Content > 0 && s.Content <= len(d.Content) && s.Media == "" {
			c := d.Content[s.Content-1]
			s.Media, s.Size, s.Content = c.Media, c.Size, 0
		}
	}
}
