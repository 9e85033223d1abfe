package fleet

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/controller/internal/metrics"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Refusal reasons, the keys of Stats.Refused. Everything a node sends is
// untrusted (a box's secret can be stolen), so what the controller will not
// do is counted by reason and logged, never silently dropped.
const (
	RefusedFetchNotGiven   = "fetch_not_given"   // media neither in the node's desired state nor in a command to it or its zones
	RefusedFetchUnknown    = "fetch_unknown"     // media the controller does not hold
	RefusedChunkDuplicate  = "chunk_duplicate"   // an index named twice in one fetch
	RefusedChunkWindow     = "chunk_window"      // beyond the outstanding-chunk limit of one fetch
	RefusedChunkRate       = "chunk_rate"        // over the node's chunk bytes per second
	RefusedReplyNodeField  = "reply_node"        // reply whose node field is not the topic's node
	RefusedReplyUnknownCmd = "reply_unknown_cmd" // reply to a command id the controller never sent
	RefusedReplyNotTarget  = "reply_not_target"  // reply to a command sent to other nodes
	RefusedEventInvalid    = "event_invalid"     // proof-of-play event failing validation (negative played_ms, ...)
	RefusedEventFuture     = "event_future"      // proof-of-play event dated ahead of the controller's clock
)

// RefusalReasons lists every Refused* reason.
var RefusalReasons = []string{RefusedFetchNotGiven, RefusedFetchUnknown, RefusedChunkDuplicate, RefusedChunkWindow,
	RefusedChunkRate, RefusedReplyNodeField, RefusedReplyUnknownCmd, RefusedReplyNotTarget, RefusedEventInvalid, RefusedEventFuture, RefusedTimeRate}

// Stats are counters since Start.
type Stats struct {
	ChunksSent uint64 // chunks published to nodes
	// Zone pushes (zonepush.go): files pushed whole, and the chunks and
	// bytes published on zone chunk topics (each once per zone).
	ZonePushes, ZoneChunksSent, ZoneBytesSent uint64
	Refused                                   map[string]uint64 // by reason (Refused* constants); a fetch refusal counts chunks for chunk_*, messages otherwise
}

// counters is safe for concurrent use; each reason's log lines are spaced
// by logEvery on the fleet's clock, so a flood costs one line per interval.
type counters struct {
	now        func() time.Time
	log        *slog.Logger
	chunksSent atomic.Uint64
	zonePushes atomic.Uint64
	zoneChunks atomic.Uint64
	zoneBytes  atomic.Uint64

	mu      sync.Mutex
	refused map[string]uint64
	logged  map[string]time.Time // when the reason was last logged
	quiet   map[string]uint64    // refusals since then, not logged
}

const logEvery = 10 * time.Second

func newCounters(now func() time.Time, log *slog.Logger) *counters {
	return &counters{now: now, log: log, refused: map[string]uint64{}, logged: map[string]time.Time{}, quiet: map[string]uint64{}}
}

// refuse counts n refusals of reason by node and logs it unless the reason
// was logged less than logEvery ago.
func (c *counters) refuse(reason, node string, n int, detail string) {
	if n <= 0 {
		return
	}
	now := c.now()
	c.mu.Lock()
	c.refused[reason] += uint64(n)
	last, seen := c.logged[reason]
	if seen && now.Sub(last) < logEvery && now.Sub(last) >= 0 {
		c.quiet[reason] += uint64(n)
		c.mu.Unlock()
		return
	}
	c.logged[reason] = now
	quiet := c.quiet[reason]
	c.quiet[reason] = 0
	c.mu.Unlock()
	c.log.Warn("node message refused", "reason", reason, "node", node, "count", n, "detail", detail, "unlogged_since_last", quiet)
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{ChunksSent: c.chunksSent.Load(), Refused: make(map[string]uint64, len(c.refused)),
		ZonePushes: c.zonePushes.Load(), ZoneChunksSent: c.zoneChunks.Load(), ZoneBytesSent: c.zoneBytes.Load()}
	for k, v := range c.refused {
		s.Refused[k] = v
	}
	return s
}

// Stats returns what was sent and refused since Start.
func (f *Fleet) Stats() Stats { return f.count.snapshot() }

// counted counts what the controller publishes, by kind (metrics.Sent),
// under both of the fleet's clients.
type counted struct {
	mqtt.Client
	m *metrics.Metrics
}

func (c counted) Publish(topic string, qos byte, retained bool, payload interface{}) mqtt.Token {
	c.m.Sent(topicKind(topic))
	return c.Client.Publish(topic, qos, retained, payload)
}

// topicKind is a topic's last level, "zone_" first for a zone's: a fixed
// set of label values, whatever the node and zone ids.
func topicKind(topic string) string {
	if _, leaf, ok := nodeproto.ParseNodeTopic(topic); ok {
		switch leaf {
		case nodeproto.LeafDesired, nodeproto.LeafCmd, nodeproto.LeafChunk, nodeproto.LeafAck, nodeproto.LeafStream:
			return leaf
		}
		return "other"
	}
	if _, ok := nodeproto.ParseZoneChunkTopic(topic); ok {
		return "zone_" + nodeproto.LeafChunk
	}
	if _, leaf, ok := nodeproto.ParseZoneLeaf(topic); ok {
		return "zone_" + leaf
	}
	return "other"
}
