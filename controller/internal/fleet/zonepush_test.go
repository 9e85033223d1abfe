package fleet

import (
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// zoneChunks records every chunk published on zone chunk topics, as the
// broker sees them (in process): what left the controller, not what nodes
// received.
type zoneChunks struct {
	mu  sync.Mutex
	got map[string][]nodeproto.Chunk // zone -> chunks in order
	ch  chan struct{}
}

func (e *env) watchZoneChunks() *zoneChunks {
	e.t.Helper()
	z := &zoneChunks{got: map[string][]nodeproto.Chunk{}, ch: make(chan struct{}, 1)}
	err := e.brk.Receive(nodeproto.Root+"/zone/+/"+nodeproto.LeafChunk, func(topic string, payload []byte, _ bool) {
		zone, ok := nodeproto.ParseZoneChunkTopic(topic)
		c, err := nodeproto.UnmarshalChunk(payload)
		if !ok || err != nil {
			e.t.Errorf("bad message on %s: %v", topic, err)
			return
		}
		z.mu.Lock()
		z.got[zone] = append(z.got[zone], c)
		z.mu.Unlock()
		select {
		case z.ch <- struct{}{}:
		default:
		}
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return z
}

// waitMedia waits until n chunks of media were published on zone's topic.
func (z *zoneChunks) waitMedia(t *testing.T, zone, media string, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		z.mu.Lock()
		k := 0
		for _, c := range z.got[zone] {
			if c.Media == media {
				k++
			}
		}
		z.mu.Unlock()
		if k >= n {
			return
		}
		select {
		case <-z.ch:
		case <-deadline:
			t.Fatalf("zone %s: %d chunks of %s published, want %d", zone, k, media[:8], n)
		}
	}
}

// A play to a zone publishes each chunk of its file once, on the zone's
// chunk topic, whatever the number of nodes; both nodes of the zone get the
// whole file without fetching, the node of another zone gets nothing, and
// a play to one node pushes nothing.
func TestZonePlayPushesEachChunkOnce(t *testing.T) {
	e := newEnv(t, nil)
	spy := e.watchZoneChunks()
	const size = 3*nodeproto.ChunkSize + 1000
	file := e.addMedia(size)
	single := e.addMedia(size)
	marker := e.addMedia(100)
	a1, a2, b1 := e.connect("a1"), e.connect("a2"), e.connect("b1")
	for _, n := range []*node{a1, a2} {
		if tok := n.c.Subscribe(nodeproto.ZoneChunkTopic("za"), 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("%s subscribes to its zone's chunks: %v", n.id, tok.Error())
		}
	}
	if tok := b1.c.Subscribe(nodeproto.ZoneChunkTopic("za"), 1, nil); tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
		for _, code := range tok.(*paho.SubscribeToken).Result() {
			if code < 0x80 {
				t.Error("b1 may subscribe to zone za's chunks, a zone it is not in")
			}
		}
	}
	send := func(tg Target, media string, size int64) {
		t.Helper()
		if _, err := e.fl.Send(e.ctx, tg, nodeproto.Command{Type: nodeproto.CmdPlay,
			Play: &nodeproto.Play{Media: media, Size: size, Priority: nodeproto.PriorityEmergency}}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	send(Target{Zone: "za"}, file, size)
	send(Target{Node: "a1"}, single, size)
	send(Target{Zone: "za"}, marker, 100) // published after anything the play to a1 could have pushed
	spy.waitMedia(t, "za", marker, 1)

	spy.mu.Lock()
	var idx []int
	for _, c := range spy.got["za"] {
		switch c.Media {
		case file:
			idx = append(idx, c.Index)
		case single:
			t.Errorf("a play to node a1 pushed chunk %d on zone za", c.Index)
		}
	}
	zones := len(spy.got)
	spy.mu.Unlock()
	if want := []int{0, 1, 2, 3}; !slices.Equal(idx, want) {
		t.Errorf("chunks published on zone za = %v, want each once, in order: %v", idx, want)
	}
	if zones != 1 {
		t.Errorf("chunks published on %d zones' topics, want only za", zones)
	}
	for _, n := range []*node{a1, a2} {
		// The default handler files zone messages under leaf "".
		n.waitFor("the pushed file", func(m map[string][][]byte) bool { return chunksOf(m[""], file) == 4 })
	}
	b1.mu.Lock()
	if k := chunksOf(b1.msgs[""], file) + chunksOf(b1.msgs[nodeproto.LeafChunk], file); k != 0 {
		t.Errorf("b1, in another zone, got %d chunks of the push", k)
	}
	b1.mu.Unlock()

	deadline := time.Now().Add(20 * time.Second)
	for e.fl.Stats().ZonePushes < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := e.fl.Stats()
	if st.ZonePushes != 2 || st.ZoneChunksSent != 5 || st.ChunksSent != 0 {
		t.Errorf("stats: %d pushes, %d zone chunks, %d node chunks; want 2, 5 (4 + the marker's 1), 0", st.ZonePushes, st.ZoneChunksSent, st.ChunksSent)
	}
	if want := uint64(size + 100 + 5*(4+32+4+4+8+32)); st.ZoneBytesSent != want {
		t.Errorf("zone bytes sent = %d, want %d (two files and five chunk headers)", st.ZoneBytesSent, want)
	}
}
