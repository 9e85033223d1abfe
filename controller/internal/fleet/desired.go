package fleet

import (
	"errors"
	"fmt"
	"strings"

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

// Held records that node already holds d, published before the
// controller restarted and not sent again: the node may fetch the content
// d names, as if it had just been published.
func (f *Fleet) Held(node string, d nodeproto.Desired) {
	d.Node = node
	f.access.setDesired(d)
}
