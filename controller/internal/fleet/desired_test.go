package fleet

import (
	"errors"
	"testing"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

func TestCheckSize(t *testing.T) {
	for _, tc := range []struct {
		topic string
		size  int
		ok    bool
	}{
		{nodeproto.NodeTopic("n1", nodeproto.LeafDesired), nodeproto.MaxJSONPayload, true},
		{nodeproto.NodeTopic("n1", nodeproto.LeafDesired), nodeproto.MaxJSONPayload + 1, false},
		{nodeproto.ZoneCmdTopic("z1"), nodeproto.MaxJSONPayload + 1, false},
		{nodeproto.NodeTopic("n1", nodeproto.LeafChunk), nodeproto.MaxChunkMsg, true},
		{nodeproto.NodeTopic("n1", nodeproto.LeafChunk), nodeproto.MaxChunkMsg + 1, false},
	} {
		err := checkSize(tc.topic, make([]byte, tc.size))
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrTooLarge)) {
			t.Errorf("checkSize(%s, %d bytes) = %v, want ok %v", tc.topic, tc.size, err, tc.ok)
		}
	}
}
