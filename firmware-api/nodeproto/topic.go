package nodeproto

import (
	"fmt"
	"strings"
)

// Root is the prefix of every topic of this protocol version.
const Root = "radio/v1"

// Leaves of a node's topic tree: radio/v1/node/{id}/{leaf}.
const (
	LeafState   = "state"   // node -> controller, retained: State
	LeafEvents  = "events"  // node -> controller: Events (proof of play)
	LeafFetch   = "fetch"   // node -> controller: Fetch (missing chunks)
	LeafReply   = "reply"   // node -> controller: Reply (command outcome)
	LeafDesired = "desired" // controller -> node, retained: Envelope{Desired}
	LeafCmd     = "cmd"     // controller -> node: Envelope{Command}
	LeafChunk   = "chunk"   // controller -> node: binary Chunk
	LeafAck     = "ack"     // controller -> node: Ack
)

// NodeTopic returns radio/v1/node/{id}/{leaf}.
func NodeTopic(id, leaf string) string { return Root + "/node/" + id + "/" + leaf }

// ZoneCmdTopic returns radio/v1/zone/{zone}/cmd, where one signed command
// reaches every node of a zone with a single publish.
func ZoneCmdTopic(zone string) string { return Root + "/zone/" + zone + "/cmd" }

// ZoneChunkTopic returns radio/v1/zone/{zone}/chunk, where the controller
// pushes the chunks of a file once for every node of a zone, right after a
// play command to that zone names it (PROTOCOL.md §6).
func ZoneChunkTopic(zone string) string { return Root + "/zone/" + zone + "/" + LeafChunk }

// ParseZoneChunkTopic splits radio/v1/zone/{zone}/chunk.
func ParseZoneChunkTopic(topic string) (zone string, ok bool) {
	return parseZoneLeaf(topic, LeafChunk)
}

// ParseNodeTopic splits radio/v1/node/{id}/{leaf}. ok is false for any other shape.
func ParseNodeTopic(topic string) (id, leaf string, ok bool) {
	rest, found := strings.CutPrefix(topic, Root+"/node/")
	if !found {
		return "", "", false
	}
	id, leaf, found = strings.Cut(rest, "/")
	if !found || !ValidID(id) || leaf == "" || strings.Contains(leaf, "/") {
		return "", "", false
	}
	return id, leaf, true
}

// ParseZoneTopic splits radio/v1/zone/{zone}/cmd.
func ParseZoneTopic(topic string) (zone string, ok bool) {
	return parseZoneLeaf(topic, LeafCmd)
}

// parseZoneLeaf splits radio/v1/zone/{zone}/{leaf} for the one leaf given.
func parseZoneLeaf(topic, want string) (string, bool) {
	rest, found := strings.CutPrefix(topic, Root+"/zone/")
	if !found {
		return "", false
	}
	zone, leaf, found := strings.Cut(rest, "/")
	if !found || leaf != want || !ValidID(zone) {
		return "", false
	}
	return zone, true
}

// ParseZoneLeaf splits radio/v1/zone/{zone}/{leaf} for the leaves a zone
// has: cmd (commands) and stream (live sessions, §10). ok is false for any
// other shape.
func ParseZoneLeaf(topic string) (zone, leaf string, ok bool) {
	rest, found := strings.CutPrefix(topic, Root+"/zone/")
	if !found {
		return "", "", false
	}
	zone, leaf, found = strings.Cut(rest, "/")
	if !found || (leaf != LeafCmd && leaf != LeafStream) || !ValidID(zone) {
		return "", "", false
	}
	return zone, leaf, true
}

// ValidID reports whether s may be a node, zone or command id: 1 to 64 of
// a-z, 0-9, '-', '_', '.', starting with a letter or digit. This keeps ids
// usable as one MQTT topic level (no '/', '+', '#') and as a broker username.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '_' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

// CheckID returns a descriptive error when s is not a valid id.
func CheckID(kind, s string) error {
	if !ValidID(s) {
		return fmt.Errorf("%s id %q: want 1-64 characters of a-z 0-9 - _ . starting with a letter or digit", kind, s)
	}
	return nil
}
