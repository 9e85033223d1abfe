package node

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// chunks cuts a file into its binary chunk messages.
func chunks(t *testing.T, media string, b []byte) [][]byte {
	t.Helper()
	size := int64(len(b))
	var out [][]byte
	for i := range nodeproto.ChunkCount(size) {
		data := b[i*nodeproto.ChunkSize : i*nodeproto.ChunkSize+nodeproto.ChunkLen(size, i)]
		msg, err := nodeproto.MarshalChunk(nodeproto.Chunk{Media: media, Index: i, Count: nodeproto.ChunkCount(size), Size: size, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, msg)
	}
	return out
}

// A file pushed once on the zone's chunk topic after a zone play is
// assembled, verified and played without the node fetching anything; a
// node that missed a chunk of a push (here: it came damaged) fetches that
// one only, once the push is over; pushed chunks of a file nobody asked
// the node to play are not stored (PROTOCOL.md §6, zone push).
func TestZonePushAssembledWithoutFetching(t *testing.T) {
	f, cfg := newFixture(t)
	defer inZone(t, f, cfg, now())()

	play := func(id, media string, size int) {
		t.Helper()
		c := nodeproto.Command{ID: id, Type: "play", Zone: "z1", Issued: now(), Expires: now() + 60000,
			Play: &nodeproto.Play{Media: media, Size: int64(size), Priority: nodeproto.PriorityEmergency}}
		f.publish("radio/v1/zone/z1/cmd", false, f.sign("k1", f.priv, c))
	}
	push := func(msgs ...[]byte) {
		for _, m := range msgs {
			f.publish("radio/v1/zone/z1/chunk", false, m)
		}
	}

	// Pushed before any command names it: dropped, not stored.
	stray, straySHA := opusTone(t, 1, 550)
	push(chunks(t, straySHA, stray)...)

	// 1. The whole file comes by push.
	audio, media := opusTone(t, 5, 440) // two chunks
	play("c-pushed", media, len(audio))
	push(chunks(t, media, audio)...)
	if r := f.reply("c-pushed"); !r.OK {
		t.Fatalf("zone play refused: %+v", r)
	}
	f.event("started", "c-pushed", 20*time.Second)
	f.event("finished", "c-pushed", 20*time.Second)
	f.mu.Lock()
	if f.fetches != 0 {
		t.Errorf("the node sent %d fetch requests for a file pushed whole: %+v", f.fetches, f.asked)
	}
	f.mu.Unlock()

	// 2. One chunk of the push arrives damaged: the node fetches it alone.
	audio2, media2, msgs := served(t, f)
	bad := bytes.Clone(msgs[1])
	bad[len(bad)-1] ^= 0x40
	play("c-partial", media2, len(audio2))
	push(msgs[0], bad)
	if r := f.reply("c-partial"); !r.OK {
		t.Fatalf("zone play refused: %+v", r)
	}
	f.event("started", "c-partial", 30*time.Second)
	f.mu.Lock()
	var asked []int
	for _, req := range f.asked {
		if req.Media != media2 {
			t.Errorf("fetch for %s: only the damaged chunk of %s was missing", req.Media[:8], media2[:8])
		}
		asked = append(asked, req.Chunks...)
	}
	f.mu.Unlock()
	if len(asked) == 0 || slices.ContainsFunc(asked, func(i int) bool { return i != 1 }) {
		t.Errorf("fetched chunks %v, want only chunk 1 (the damaged one)", asked)
	}

	for _, p := range []string{filepath.Join(cfg.DataDir, "cache", straySHA+".opus"),
		filepath.Join(cfg.DataDir, "cache", "partial", straySHA+".part")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a pushed file nothing asked for was stored: %s", p)
		}
	}
}

// inZone runs the node of cfg in zone z1 and returns once it is online,
// subscribed to the zone's topics; issued is the node's time (ms).
func inZone(t *testing.T, f *fixture, cfg Config, issued int64) (stop func()) {
	t.Helper()
	// First run: the node learns its zone. Its second run subscribes to the
	// zone's topics before it reports itself online, so nothing published
	// after that report can miss it.
	stop = runNode(t, cfg)
	f.publish("radio/v1/node/n1/desired", true, f.sign("k1", f.priv, nodeproto.Desired{Node: "n1", Rev: 1, Issued: issued, Volume: 50, Zones: []string{"z1"}}))
	if r := f.reply("desired:1"); !r.OK {
		t.Fatalf("desired refused: %+v", r)
	}
	stop()
	online := make(chan bool, 100)
	f.ctl.Subscribe("radio/v1/node/n1/state", 1, func(_ mqtt.Client, m mqtt.Message) {
		var s nodeproto.State
		if json.Unmarshal(m.Payload(), &s) == nil {
			online <- s.Online
		}
	}).Wait()
	stop = runNode(t, cfg)
	for deadline := time.After(20 * time.Second); ; {
		select {
		case up := <-online:
			if !up {
				continue
			}
		case <-deadline:
			t.Fatal("the node did not come back online")
		}
		break
	}
	return stop
}

// The fetch state machine times its waits (the push, a chunk's timeout)
// on one clock. Here the node's clock is 10 minutes behind the system's,
// as on a box whose system clock runs fast and was corrected by the
// controller's time: a chunk missing from a push is still fetched once
// the push is over, and the bulletin plays (the loop's tick pumped the
// fetcher with the node's clock while the rest used the system's, so the
// push seemed to last 10 minutes and the play failed for want of content).
func TestZonePushRepairedOnACorrectedClock(t *testing.T) {
	f, cfg := newFixture(t)
	cfg.ClockOffset = -10 * time.Minute
	nodeNow := func() int64 { return time.Now().Add(cfg.ClockOffset).UnixMilli() }
	defer inZone(t, f, cfg, nodeNow())()

	audio, media, msgs := served(t, f)
	c := nodeproto.Command{ID: "c-partial", Type: "play", Zone: "z1", Issued: nodeNow(), Expires: nodeNow() + 60000,
		Play: &nodeproto.Play{Media: media, Size: int64(len(audio)), Priority: nodeproto.PriorityEmergency}}
	f.publish("radio/v1/zone/z1/cmd", false, f.sign("k1", f.priv, c))
	f.publish("radio/v1/zone/z1/chunk", false, msgs[0]) // chunk 1 lost
	if r := f.reply("c-partial"); !r.OK {
		t.Fatalf("zone play refused: %+v", r)
	}
	for timeout := time.After(60 * time.Second); ; {
		select {
		case e := <-f.events:
			if e.ID != "c-partial" {
				continue
			}
			if e.Type != nodeproto.EventStarted {
				t.Fatalf("%s %s (%s), want started once the lost chunk is fetched", e.Type, e.ID, e.Reason)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.asked) == 0 || !slices.Equal(f.asked[0].Chunks, []int{1}) {
				t.Errorf("fetches %+v, want chunk 1 only", f.asked)
			}
			return
		case <-timeout:
			t.Fatal("no event for c-partial")
		}
	}
}

// served makes a file of two chunks that the fixture serves to fetches,
// and its chunk messages.
func served(t *testing.T, f *fixture) ([]byte, string, [][]byte) {
	t.Helper()
	audio, media := opusTone(t, 5, 660)
	f.mu.Lock()
	f.files[media] = audio
	f.mu.Unlock()
	msgs := chunks(t, media, audio)
	if len(msgs) < 2 {
		t.Fatalf("the file has %d chunks; the test needs two", len(msgs))
	}
	return audio, media, msgs
}
