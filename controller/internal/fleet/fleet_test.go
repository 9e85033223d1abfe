package fleet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/controller/internal/broker"
	"github.com/communeradio/radio/controller/internal/media"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/signer"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// clock is the fleet's clock in these tests: it starts at a fixed date and
// moves only when a test says so (or by a millisecond a reading, when tick
// is set, as a real clock would between two messages).
type clock struct {
	mu   sync.Mutex
	t    time.Time
	tick bool
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tick {
		c.t = c.t.Add(time.Millisecond)
	}
	return c.t
}

// env is a controller's fleet side as it runs: a registry file, a media
// store, the embedded broker with the registry's node credentials, and the
// fleet receiving through the broker in process.
type env struct {
	t       *testing.T
	ctx     context.Context
	clock   *clock
	reg     *registry.DB
	store   *media.Store
	dir     string
	brk     *broker.Broker
	fl      *Fleet
	cfg     Config
	secrets map[string]string
}

// Two communes: x-1 with nodes a1, a2 (zone za), x-2 with node b1 (zone zb).
func newEnv(t *testing.T, tune func(*Config)) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), clock: &clock{t: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)},
		dir: t.TempDir(), secrets: map[string]string{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	var err error
	e.reg, err = registry.Open(filepath.Join(e.dir, "registry.db"), registry.Options{Logger: log, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.reg.Close() })
	e.store, err = media.New(filepath.Join(e.dir, "media"), media.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.reg.CreateArea(e.ctx, registry.Area{ID: "p-79", Kind: "province", Name: "P"}))
	for _, c := range []string{"1", "2"} {
		must(e.reg.CreateArea(e.ctx, registry.Area{ID: "x-" + c, ParentID: "p-79", Kind: "commune", Name: "Xã " + c}))
		must(e.reg.CreateStation(e.ctx, registry.Station{ID: "st-" + c, AreaID: "x-" + c, Name: "Đài " + c, Kind: "ip"}))
	}
	for _, n := range []struct{ id, station string }{{"a1", "st-1"}, {"a2", "st-1"}, {"b1", "st-2"}} {
		e.secrets[n.id] = broker.NewSecret()
		h, err := broker.HashSecret(e.secrets[n.id])
		must(err)
		must(e.reg.CreateNode(e.ctx, registry.Node{ID: n.id, StationID: n.station, Name: n.id}, []byte(h)))
	}
	must(e.reg.CreateZone(e.ctx, registry.Zone{ID: "za", StationID: "st-1", Name: "A"}))
	must(e.reg.SetZoneNodes(e.ctx, "za", []string{"a1", "a2"}))
	must(e.reg.CreateZone(e.ctx, registry.Zone{ID: "zb", StationID: "st-2", Name: "B"}))
	must(e.reg.SetZoneNodes(e.ctx, "zb", []string{"b1"}))

	ctlSecret := broker.NewSecret()
	e.brk, err = broker.Start(broker.Config{Addr: "127.0.0.1:0", Logger: log, ControllerUser: "controller", ControllerSecret: ctlSecret,
		NodeHash: func(node string) (string, bool) {
			h, revoked, err := e.reg.NodeSecret(context.Background(), node)
			return string(h), err == nil && !revoked
		},
		NodeZones: func(node string) []string {
			zs, _ := e.reg.NodeZones(context.Background(), node)
			return zs
		}})
	must(err)
	t.Cleanup(func() { e.brk.Close() })
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	cfg := Config{Broker: "tcp://" + e.brk.Addr(), User: "controller", Password: ctlSecret, Registry: e.reg, Media: e.store,
		Signer: signer.New(priv), Logger: log, Receive: e.brk.Receive, Now: e.clock.Now}
	if tune != nil {
		tune(&cfg)
	}
	e.cfg = cfg
	e.start()
	return e
}

// start starts a fleet on the env's registry and broker, as the controller
// does at each start.
func (e *env) start() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	fl, err := Start(ctx, e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.fl = fl
	e.t.Cleanup(fl.Close)
}

// addMedia stores a recording of n bytes as the media store keeps them
// (dir/<sha[:2]>/<sha>.opus) and returns its sha256.
func (e *env) addMedia(n int) string {
	e.t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	sum := sha256.Sum256(b)
	sha := hex.EncodeToString(sum[:])
	p := filepath.Join(e.dir, "media", sha[:2], sha+".opus")
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o640); err != nil {
		e.t.Fatal(err)
	}
	if !e.store.Has(sha) {
		e.t.Fatalf("the media store does not see %s", sha)
	}
	return sha
}

// node is a node's own MQTT client with its real credentials, as an
// attacker holding the box's secret would use it.
type node struct {
	t    *testing.T
	id   string
	c    paho.Client
	mu   sync.Mutex
	msgs map[string][][]byte // leaf -> payloads, in arrival order
	got  chan struct{}
}

func (e *env) connect(id string) *node {
	e.t.Helper()
	n := &node{t: e.t, id: id, msgs: map[string][][]byte{}, got: make(chan struct{}, 1)}
	o := paho.NewClientOptions().AddBroker("tcp://" + e.brk.Addr()).SetClientID(id).SetUsername(id).SetPassword(e.secrets[id]).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			_, leaf, _ := nodeproto.ParseNodeTopic(m.Topic())
			n.mu.Lock()
			n.msgs[leaf] = append(n.msgs[leaf], slices.Clone(m.Payload()))
			n.mu.Unlock()
			select {
			case n.got <- struct{}{}:
			default:
			}
		})
	n.c = paho.NewClient(o)
	if tok := n.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		e.t.Fatalf("%s connects: %v", id, tok.Error())
	}
	e.t.Cleanup(func() { n.c.Disconnect(0) })
	subs := map[string]byte{}
	for _, leaf := range []string{nodeproto.LeafChunk, nodeproto.LeafAck, nodeproto.LeafCmd} {
		subs[nodeproto.NodeTopic(id, leaf)] = 1
	}
	if tok := n.c.SubscribeMultiple(subs, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		e.t.Fatalf("%s subscribes: %v", id, tok.Error())
	}
	return n
}

// publish sends v as JSON on the node's leaf and waits for the broker's
// acknowledgement, which comes after the fleet was handed every earlier
// message of this client.
func (n *node) publish(leaf string, v any) {
	n.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		n.t.Fatal(err)
	}
	if tok := n.c.Publish(nodeproto.NodeTopic(n.id, leaf), 1, false, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		n.t.Fatalf("%s publishes %s: %v", n.id, leaf, tok.Error())
	}
}

// waitFor waits until cond holds on what the node received.
func (n *node) waitFor(what string, cond func(map[string][][]byte) bool) {
	n.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		n.mu.Lock()
		ok := cond(n.msgs)
		n.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-n.got:
		case <-deadline:
			n.t.Fatalf("%s: still waiting for %s after 20 s", n.id, what)
		}
	}
}

// refusedAt returns the position of the first refusal of media among the
// node's chunk messages, or -1.
func refusedAt(chunks [][]byte, media string) int {
	for i, b := range chunks {
		if r, ok := nodeproto.UnmarshalChunkRefusal(b); ok && r.Media == media {
			return i
		}
	}
	return -1
}

// chunksOf counts the valid chunks of media among msgs.
func chunksOf(msgs [][]byte, media string) int {
	k := 0
	for _, b := range msgs {
		if c, err := nodeproto.UnmarshalChunk(b); err == nil && c.Media == media {
			k++
		}
	}
	return k
}

func (e *env) play(t Target, media string) nodeproto.Command {
	e.t.Helper()
	c, err := e.fl.Send(e.ctx, t, nodeproto.Command{Type: nodeproto.CmdPlay, Play: &nodeproto.Play{Media: media, Size: 40000, Priority: "normal"}}, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// A node holding its own secret asks for another commune's recording: it
// gets a refusal and not one byte; what it was given (by its desired state,
// by a command to its zone) it gets.
func TestFetchOnlyWhatTheNodeWasGiven(t *testing.T) {
	e := newEnv(t, nil)
	mineA := e.addMedia(40000)         // commune 1's, in a1's desired state
	zoneB := e.addMedia(40000)         // commune 2's, played to zone zb
	nodeB := e.addMedia(40000)         // commune 2's, played to node b1 only
	unknown := fmt.Sprintf("%064x", 1) // a sha nobody holds
	if err := e.fl.SendDesired(e.ctx, nodeproto.Desired{Node: "a1", Rev: 1, Amp: "auto", Content: []nodeproto.ContentRef{{Media: mineA, Size: 40000}}}); err != nil {
		t.Fatal(err)
	}
	e.play(Target{Zone: "zb"}, zoneB)
	e.play(Target{Node: "b1"}, nodeB)

	a1, b1 := e.connect("a1"), e.connect("b1")
	all := []int{0, 1, 2}
	// The attacks first, then a legitimate fetch whose chunks come after
	// anything the attacks could have produced (one worker per node, in order).
	b1.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: mineA, Chunks: all})
	b1.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: unknown, Chunks: all})
	b1.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: zoneB, Chunks: all})
	b1.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: nodeB, Chunks: all})
	b1.waitFor("chunks of its own media", func(m map[string][][]byte) bool {
		return chunksOf(m[nodeproto.LeafChunk], zoneB) == 3 && chunksOf(m[nodeproto.LeafChunk], nodeB) == 3
	})
	a1.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: zoneB, Chunks: all})
	a1.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: nodeB, Chunks: all})
	a1.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: mineA, Chunks: all})
	a1.waitFor("chunks of its desired content", func(m map[string][][]byte) bool { return chunksOf(m[nodeproto.LeafChunk], mineA) == 3 })

	check := func(n *node, media string) {
		t.Helper()
		n.mu.Lock()
		defer n.mu.Unlock()
		if got := chunksOf(n.msgs[nodeproto.LeafChunk], media); got != 0 {
			t.Errorf("%s got %d chunks of %s, a file it was never given", n.id, got, media[:8])
		}
		if refusedAt(n.msgs[nodeproto.LeafChunk], media) < 0 {
			t.Errorf("%s got no refusal for %s", n.id, media[:8])
		}
	}
	check(b1, mineA)
	check(b1, unknown)
	check(a1, zoneB)
	check(a1, nodeB)
	st := e.fl.Stats()
	if st.Refused[RefusedFetchNotGiven] != 4 || st.Refused[RefusedFetchUnknown] != 0 {
		// unknown media is given to no one either: refused before the store is asked
		t.Errorf("refused = %v, want 4 %s", st.Refused, RefusedFetchNotGiven)
	}
}

// 200 fetch messages of 64 indices each (the attack that made the
// controller push 12,800 chunks, 209 MB, to one client in 4 s) get no more
// than the node's burst while the clock stands still, then its rate.
func TestFetchFloodIsBounded(t *testing.T) {
	const burst = 4 * nodeproto.ChunkSize
	const rate = 2 * nodeproto.ChunkSize
	e := newEnv(t, func(c *Config) { c.ChunkBurst, c.ChunkRate = burst, rate })
	file := e.addMedia(64 * nodeproto.ChunkSize)
	e.play(Target{Node: "a1"}, file)
	a1 := e.connect("a1")
	idx := make([]int, nodeproto.MaxFetchChunks)
	for i := range idx {
		idx[i] = i % 32 // half of them twice
	}
	b, _ := json.Marshal(nodeproto.Fetch{Media: file, Chunks: idx})
	var toks []paho.Token
	for range 200 {
		toks = append(toks, a1.c.Publish(nodeproto.NodeTopic("a1", nodeproto.LeafFetch), 1, false, b))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
			t.Fatalf("flood publish: %v", tok.Error())
		}
	}
	// A fetch of a file it was not given: its refusal comes after every
	// chunk the flood produced (same node, same topic, in order).
	marker := fmt.Sprintf("%064x", 7)
	a1.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: marker, Chunks: []int{0}})
	a1.waitFor("the marker's refusal", func(m map[string][][]byte) bool { return refusedAt(m[nodeproto.LeafChunk], marker) >= 0 })
	a1.mu.Lock()
	got := chunksOf(a1.msgs[nodeproto.LeafChunk], file)
	a1.mu.Unlock()
	if want := burst / nodeproto.ChunkSize; got != want {
		t.Errorf("the flood got %d chunks with the clock standing still, want the burst, %d", got, want)
	}
	st := e.fl.Stats()
	if st.ChunksSent != uint64(got) {
		t.Errorf("Stats().ChunksSent = %d, the node received %d", st.ChunksSent, got)
	}
	// Per message: 32 repeats, 24 beyond the window of 8, then the budget.
	if st.Refused[RefusedChunkDuplicate] != 200*32 || st.Refused[RefusedChunkWindow] != 200*24 ||
		st.Refused[RefusedChunkRate] != 200*8-uint64(got) {
		t.Errorf("refused = %v", st.Refused)
	}

	// One second later the node may have rate bytes more.
	e.clock.mu.Lock()
	e.clock.t = e.clock.t.Add(time.Second)
	e.clock.mu.Unlock()
	a1.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: file, Chunks: []int{40, 41, 42, 43}})
	marker2 := fmt.Sprintf("%064x", 8)
	a1.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: marker2, Chunks: []int{0}})
	a1.waitFor("the second marker's refusal", func(m map[string][][]byte) bool { return refusedAt(m[nodeproto.LeafChunk], marker2) >= 0 })
	a1.mu.Lock()
	more := chunksOf(a1.msgs[nodeproto.LeafChunk], file) - got
	a1.mu.Unlock()
	if want := rate / nodeproto.ChunkSize; more != want {
		t.Errorf("a second later the node got %d more chunks, want %d (its rate)", more, want)
	}
}

// A node's replies are stored only for commands sent to it or its zones,
// and only under its own name.
func TestRepliesOnlyForCommandsSentToTheNode(t *testing.T) {
	e := newEnv(t, nil)
	toA2 := e.play(Target{Node: "a2"}, e.addMedia(100))
	toZA := e.play(Target{Zone: "za"}, e.addMedia(100))
	toZB := e.play(Target{Zone: "zb"}, e.addMedia(100))
	a1 := e.connect("a1")
	ts := e.clock.Now().UnixMilli()
	a1.publish(nodeproto.LeafReply, nodeproto.Reply{Node: "a1", Cmd: toA2.ID, OK: true, TS: ts})              // a2's command
	a1.publish(nodeproto.LeafReply, nodeproto.Reply{Node: "a1", Cmd: toZB.ID, OK: true, TS: ts})              // another commune's zone
	a1.publish(nodeproto.LeafReply, nodeproto.Reply{Node: "a1", Cmd: "c-never-sent", OK: true, TS: ts})       // unknown id
	a1.publish(nodeproto.LeafReply, nodeproto.Reply{Node: "a2", Cmd: toZA.ID, OK: false, Code: 1011, TS: ts}) // on a2's behalf
	a1.publish(nodeproto.LeafReply, nodeproto.Reply{Node: "a1", Cmd: toZA.ID, OK: true, TS: ts})              // its zone's: stored
	deadline := time.Now().Add(20 * time.Second)
	for {
		rs, err := e.reg.ListReplies(e.ctx, toZA.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) > 0 {
			if len(rs) != 1 || rs[0].NodeID != "a1" || !rs[0].OK {
				t.Errorf("replies to the zone's command = %+v, want a1's ok only", rs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the reply to its zone's command was not stored within 20 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, id := range []string{toA2.ID, toZB.ID, "c-never-sent"} {
		if rs, _ := e.reg.ListReplies(e.ctx, id); len(rs) != 0 {
			t.Errorf("replies to %s stored: %+v", id, rs)
		}
	}
	st := e.fl.Stats()
	if st.Refused[RefusedReplyNotTarget] != 2 || st.Refused[RefusedReplyUnknownCmd] != 1 || st.Refused[RefusedReplyNodeField] != 1 {
		t.Errorf("refused = %v", st.Refused)
	}
}

// An event dated ten years ahead, and one with negative played_ms, are
// acknowledged (they must not block the outbox) but neither stored nor
// counted as played.
func TestBadEventsAreRefusedAndCounted(t *testing.T) {
	e := newEnv(t, nil)
	a1 := e.connect("a1")
	now := e.clock.Now()
	media := fmt.Sprintf("%064x", 3)
	ev := func(seq uint64, at time.Time, played int64) nodeproto.Event {
		return nodeproto.Event{Seq: seq, Type: nodeproto.EventFinished, ID: "s-1", Media: media, At: at.UnixMilli(), PlayedMS: played, Priority: "normal"}
	}
	a1.publish(nodeproto.LeafEvents, nodeproto.Events{Node: "a1", Events: []nodeproto.Event{
		ev(1, now.AddDate(10, 0, 0), 1000),
		ev(2, now, -5),
		ev(3, now.Add(-time.Minute), 1000),
		ev(4, now.Add(4*time.Minute), 1000), // a clock a little ahead: kept
	}})
	if ack := a1.firstAck(); !slices.Equal(ack.Seqs, []uint64{1, 2, 3, 4}) {
		t.Errorf("acked %v, want every seq (refused ones too, so the outbox moves on)", ack.Seqs)
	}
	evs, err := e.reg.ListPlayEvents(e.ctx, registry.PlayFilter{NodeID: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	var stored []uint64
	for _, r := range evs {
		stored = append(stored, r.Seq)
	}
	slices.Sort(stored)
	if !slices.Equal(stored, []uint64{3, 4}) {
		t.Errorf("stored seqs %v, want [3 4]", stored)
	}
	st := e.fl.Stats()
	if st.Refused[RefusedEventFuture] != 1 || st.Refused[RefusedEventInvalid] != 1 {
		t.Errorf("refused = %v", st.Refused)
	}
}

// A node's last will and the "online" of its reconnect arrive back to back;
// however the work is spread over workers, the node ends online.
func TestWillThenOnlineEndsOnline(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Workers = 8 })
	e.clock.mu.Lock()
	e.clock.tick = true // each report handled later carries a later time, as in production
	e.clock.mu.Unlock()
	const nodes = 300
	var ids []string
	for i := range nodes {
		id := fmt.Sprintf("n%03d", i)
		if err := e.reg.CreateNode(e.ctx, registry.Node{ID: id, StationID: "st-1", Name: id}, []byte("$7$unused")); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		off, _ := json.Marshal(nodeproto.State{Node: id, Online: false})
		on, _ := json.Marshal(nodeproto.State{Node: id, Online: true, Volume: new(70)})
		e.fl.enqueue(nodeproto.NodeTopic(id, nodeproto.LeafState), off, true)
		e.fl.enqueue(nodeproto.NodeTopic(id, nodeproto.LeafState), on, true)
	}
	e.fl.Close() // handles everything queued
	states, err := e.reg.ListNodeStates(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	online := 0
	for _, s := range states {
		if s.Online {
			online++
		} else if s.NodeID[0] == 'n' {
			t.Errorf("%s ends offline: its will was stored after its reconnect's online", s.NodeID)
		}
	}
	if online != nodes {
		t.Errorf("%d of %d nodes online", online, nodes)
	}
}

// Proof of play received just before shutdown is stored and acknowledged,
// and the acknowledgement reaches the node: Close sends it before it
// disconnects.
func TestCloseSendsLastAcks(t *testing.T) {
	e := newEnv(t, nil)
	a1 := e.connect("a1")
	now := e.clock.Now()
	a1.publish(nodeproto.LeafEvents, nodeproto.Events{Node: "a1", Events: []nodeproto.Event{
		{Seq: 9, Type: nodeproto.EventStarted, ID: "s-1", Media: fmt.Sprintf("%064x", 3), At: now.UnixMilli(), Priority: "normal"}}})
	// Acknowledged by the broker after the events were handed to the fleet.
	a1.publish(nodeproto.LeafState, nodeproto.State{Node: "a1", Online: true})
	e.fl.Close()
	a1.waitFor("the ack of the last events", func(m map[string][][]byte) bool {
		return slices.ContainsFunc(m[nodeproto.LeafAck], func(b []byte) bool { return bytes.Contains(b, []byte("9")) })
	})
	evs, err := e.reg.ListPlayEvents(e.ctx, registry.PlayFilter{NodeID: "a1"})
	if err != nil || len(evs) != 1 {
		t.Errorf("stored %d events (%v), want 1", len(evs), err)
	}
}

// A command sent before the controller restarted still lets its nodes
// fetch its file (the fleet's memory is rebuilt from the registry), and
// still only them.
func TestCommandsOfAPreviousRunStillGrantFetch(t *testing.T) {
	e := newEnv(t, nil)
	file := e.addMedia(3 * nodeproto.ChunkSize)
	e.play(Target{Zone: "za"}, file)
	e.fl.Close()
	e.start()
	a1, b1 := e.connect("a1"), e.connect("b1")
	b1.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: file, Chunks: []int{0, 1, 2}})
	b1.waitFor("a refusal", func(m map[string][][]byte) bool { return refusedAt(m[nodeproto.LeafChunk], file) >= 0 })
	a1.publish(nodeproto.LeafFetch, nodeproto.Fetch{Media: file, Chunks: []int{0, 1, 2}})
	a1.waitFor("the file's chunks", func(m map[string][][]byte) bool { return chunksOf(m[nodeproto.LeafChunk], file) == 3 })
	b1.mu.Lock()
	defer b1.mu.Unlock()
	if n := chunksOf(b1.msgs[nodeproto.LeafChunk], file); n != 0 {
		t.Errorf("b1, outside the zone, got %d chunks", n)
	}
}
