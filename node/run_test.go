package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/node/internal/outbox"
)

// fixture is a real MQTT broker (mochi, allow-all: the broker's ACL is
// tested in the controller) with a test "controller" client that signs
// commands and serves content, and one node daemon under test.
type fixture struct {
	t       *testing.T
	srv     *mochi.Server
	priv    ed25519.PrivateKey
	ctl     mqtt.Client
	replies chan nodeproto.Reply
	events  chan nodeproto.Event
	mu      sync.Mutex
	emitted []nodeproto.Event                                 // every event received, in order (under mu)
	files   map[string][]byte                                 // media -> content served
	corrupt func(media string, index int, data []byte) []byte // tampering with served chunks
	fetches int
	asked   []nodeproto.Fetch // every fetch request, in order (under mu)
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newFixture(t *testing.T) (*fixture, Config) {
	addr := freeAddr(t)
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv.AddHook(new(auth.AllowHook), nil)
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr})); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Close() })

	_, priv, _ := ed25519.GenerateKey(nil)
	f := &fixture{t: t, srv: srv, priv: priv, replies: make(chan nodeproto.Reply, 100), events: make(chan nodeproto.Event, 100), files: map[string][]byte{}}
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("controller").SetConnectRetry(true)
	f.ctl = mqtt.NewClient(o)
	if tok := f.ctl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	f.ctl.Subscribe("radio/v1/node/n1/reply", 1, func(_ mqtt.Client, m mqtt.Message) {
		var r nodeproto.Reply
		json.Unmarshal(m.Payload(), &r)
		f.replies <- r
	}).Wait()
	f.ctl.Subscribe("radio/v1/node/n1/events", 1, func(c mqtt.Client, m mqtt.Message) {
		var e nodeproto.Events
		json.Unmarshal(m.Payload(), &e)
		seqs := map[string][]uint64{} // epoch -> seqs: one ack per epoch, as the controller does
		f.mu.Lock()
		f.emitted = append(f.emitted, e.Events...)
		f.mu.Unlock()
		for _, ev := range e.Events {
			seqs[ev.Epoch] = append(seqs[ev.Epoch], ev.Seq)
			f.events <- ev
		}
		for epoch, s := range seqs {
			ack, _ := json.Marshal(nodeproto.Ack{Epoch: &epoch, Seqs: s})
			c.Publish("radio/v1/node/n1/ack", 1, false, ack)
		}
	}).Wait()
	f.ctl.Subscribe("radio/v1/node/n1/fetch", 1, func(c mqtt.Client, m mqtt.Message) {
		var req nodeproto.Fetch
		json.Unmarshal(m.Payload(), &req)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.fetches++
		f.asked = append(f.asked, req)
		b, ok := f.files[req.Media]
		if !ok {
			return
		}
		size := int64(len(b))
		for _, i := range req.Chunks {
			data := b[i*nodeproto.ChunkSize : i*nodeproto.ChunkSize+nodeproto.ChunkLen(size, i)]
			msg, _ := nodeproto.MarshalChunk(nodeproto.Chunk{Media: req.Media, Index: i, Count: nodeproto.ChunkCount(size), Size: size, Data: data})
			if f.corrupt != nil {
				msg = f.corrupt(req.Media, i, msg)
			}
			c.Publish("radio/v1/node/n1/chunk", 1, false, msg)
		}
	}).Wait()

	cfg := Config{ID: "n1", Secret: "s", Broker: "tcp://" + addr, DataDir: t.TempDir(), AudioOutput: "silent",
		ControllerKeys: []nodeproto.Key{{ID: "k1", Pub: priv.Public().(ed25519.PublicKey)}},
		Logger:         slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		StateInterval:  time.Hour,
		ClockSources:   []string{"rtc"}} // the fixture's box keeps time; clock_test.go tries the other sources
	return f, cfg
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func runNode(t *testing.T, cfg Config) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("node did not stop")
		}
	}
}

func (f *fixture) publish(topic string, retained bool, payload []byte) {
	f.t.Helper()
	if tok := f.ctl.Publish(topic, 1, retained, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		f.t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func (f *fixture) sign(kid string, priv ed25519.PrivateKey, v any) []byte {
	b, err := nodeproto.Sign(kid, priv, v)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// reply waits for the node's reply about cmd.
func (f *fixture) reply(cmd string) nodeproto.Reply {
	f.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case r := <-f.replies:
			if r.Cmd == cmd {
				return r
			}
		case <-timeout:
			f.t.Fatalf("no reply for %q", cmd)
		}
	}
}

// event waits for a proof-of-play event of the given type and item.
func (f *fixture) event(typ, id string, within time.Duration) nodeproto.Event {
	f.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case e := <-f.events:
			if e.Type == typ && e.ID == id {
				return e
			}
		case <-timeout:
			f.t.Fatalf("no %s event for %s within %v", typ, id, within)
		}
	}
}

func opusTone(t *testing.T, seconds float64, hz int) ([]byte, string) {
	out := filepath.Join(t.TempDir(), "t.opus")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
		fmt.Sprintf("sine=frequency=%d:duration=%g", hz, seconds), "-c:a", "libopus", "-ar", "48000", "-ac", "1", "-b:a", "32k", "-f", "ogg", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (run make test, which installs it): %v %s", err, b)
	}
	b, _ := os.ReadFile(out)
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

func now() int64 { return time.Now().UnixMilli() }

func TestCommandsVerifiedAndContentRepaired(t *testing.T) {
	f, cfg := newFixture(t)
	stop := sync.OnceFunc(runNode(t, cfg))
	defer stop()

	f.publish("radio/v1/node/n1/desired", true, f.sign("k1", f.priv, nodeproto.Desired{Node: "n1", Rev: 1, Issued: now(), Volume: 50, Zones: []string{"z1"}}))
	if r := f.reply("desired:1"); !r.OK {
		t.Fatalf("desired refused: %+v", r)
	}

	audio, media := opusTone(t, 5, 440) // two chunks
	f.mu.Lock()
	f.files[media] = audio
	// The first answer to chunk 0 is truncated and the first to chunk 1 has
	// a flipped bit: the node must drop both and ask again.
	seen := map[int]bool{}
	f.corrupt = func(_ string, i int, msg []byte) []byte {
		if seen[i] {
			return msg
		}
		seen[i] = true
		switch i {
		case 0:
			return msg[:len(msg)-7]
		case 1:
			msg = bytes.Clone(msg)
			msg[len(msg)-1] ^= 0x40
		}
		return msg
	}
	f.mu.Unlock()

	_, otherKey, _ := ed25519.GenerateKey(nil)
	play := func(id string) nodeproto.Command {
		return nodeproto.Command{ID: id, Type: "play", Node: "n1", Issued: now(), Expires: now() + 60000,
			Play: &nodeproto.Play{Media: media, Size: int64(len(audio)), PlayAt: now() + 2000}}
	}
	expired := play("c-expired")
	expired.Issued, expired.Expires = now()-120000, now()-60000
	other := play("c-other")
	other.Node = "n2"
	zoneMismatch := play("c-zone")
	zoneMismatch.Node, zoneMismatch.Zone = "", "z2"

	cases := []struct {
		name, id, topic string
		payload         []byte
		want            nodeproto.Code
	}{
		{"malformed", "", "radio/v1/node/n1/cmd", []byte("{not json"), nodeproto.CodeMalformed},
		{"too large", "", "radio/v1/node/n1/cmd", bytes.Repeat([]byte("a"), nodeproto.MaxJSONPayload+1), nodeproto.CodeTooLarge},
		{"forged", "c-forged", "radio/v1/node/n1/cmd", f.sign("k1", otherKey, play("c-forged")), nodeproto.CodeBadSignature},
		{"unknown key", "c-unknown", "radio/v1/node/n1/cmd", f.sign("k9", f.priv, play("c-unknown")), nodeproto.CodeUnknownKey},
		{"expired", "c-expired", "radio/v1/node/n1/cmd", f.sign("k1", f.priv, expired), nodeproto.CodeExpired},
		{"other node", "c-other", "radio/v1/node/n1/cmd", f.sign("k1", f.priv, other), nodeproto.CodeWrongTarget},
		{"zone body differs from topic", "c-zone", "radio/v1/zone/z1/cmd", f.sign("k1", f.priv, zoneMismatch), nodeproto.CodeWrongTarget},
		{"good", "c-good", "radio/v1/node/n1/cmd", f.sign("k1", f.priv, play("c-good")), nodeproto.CodeOK},
	}
	for _, tc := range cases {
		f.publish(tc.topic, false, tc.payload)
		r := f.reply(tc.id)
		if r.Code != tc.want || r.OK != (tc.want == nodeproto.CodeOK) {
			t.Errorf("%s: reply %+v, want code %v", tc.name, r, tc.want)
		}
	}
	// Forged, expired and mis-targeted commands never play; the good one does,
	// after its damaged chunks were fetched again.
	st := f.event("started", "c-good", 40*time.Second)
	f.event("finished", "c-good", 10*time.Second)
	if st.Media != media || st.PlayAt == 0 {
		t.Errorf("started event = %+v", st)
	}
	// Replaying the good command, signature and all, is refused.
	f.publish("radio/v1/node/n1/cmd", false, cases[len(cases)-1].payload)
	if r := f.reply("c-good"); r.Code != nodeproto.CodeReplayed {
		t.Errorf("replay: reply %+v, want replayed", r)
	}
	// Stale desired state is refused too.
	f.publish("radio/v1/node/n1/desired", true, f.sign("k1", f.priv, nodeproto.Desired{Node: "n1", Rev: 2, Issued: now(), Volume: 40, Zones: []string{"z1"}}))
	f.reply("desired:2")
	f.publish("radio/v1/node/n1/desired", true, f.sign("k1", f.priv, nodeproto.Desired{Node: "n1", Rev: 1, Issued: now(), Volume: 90}))
	if r := f.reply("desired:1"); r.Code != nodeproto.CodeReplayed {
		t.Errorf("stale desired: reply %+v, want replayed", r)
	}

	// A valid command sent after all the refused ones plays: the node has
	// handled everything before it. It is the last thing the node does.
	short, shortMedia := opusTone(t, 0.3, 660)
	f.mu.Lock()
	f.files[shortMedia] = short
	f.mu.Unlock()
	last := play("c-last")
	last.Play.Media, last.Play.Size, last.Play.PlayAt = shortMedia, int64(len(short)), now()+1000
	f.publish("radio/v1/node/n1/cmd", false, f.sign("k1", f.priv, last))
	if r := f.reply("c-last"); !r.OK {
		t.Fatalf("c-last refused: %+v", r)
	}
	f.event("started", "c-last", 30*time.Second)
	f.event("finished", "c-last", 10*time.Second)
	stop()

	// Every event the node ever recorded: those the "controller" received,
	// and whatever is still in its outbox unacknowledged.
	ob, err := outbox.Open(filepath.Join(cfg.DataDir, "outbox"))
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	all := map[uint64]nodeproto.Event{}
	for _, e := range append(slices.Clone(f.emitted), ob.Pending(outbox.MaxPending)...) {
		all[e.Seq] = e
	}
	f.mu.Unlock()
	seqs := slices.Sorted(maps.Keys(all))
	if len(seqs) == 0 || seqs[0] != 1 || seqs[len(seqs)-1] != uint64(len(seqs)) {
		t.Fatalf("event sequence numbers %v: want 1..n with no gap (some events unaccounted for)", seqs)
	}
	refused := map[string]bool{"c-forged": true, "c-unknown": true, "c-expired": true, "c-other": true, "c-zone": true}
	got := map[string][]string{}
	for _, s := range seqs {
		e := all[s]
		got[e.ID] = append(got[e.ID], e.Type)
		if refused[e.ID] || e.ID == "" {
			t.Errorf("refused command produced proof of play: %+v", e)
		}
	}
	// The good command played once (its replay did not play it again), and
	// nothing else played but the final one.
	for _, id := range []string{"c-good", "c-last"} {
		if !slices.Equal(got[id], []string{"started", "finished"}) {
			t.Errorf("events of %s = %v, want [started finished]", id, got[id])
		}
	}
	if len(got) != 2 {
		t.Errorf("events for %d items, want only c-good and c-last: %v", len(got), got)
	}
}

func TestWrongHashIsNotPlayed(t *testing.T) {
	f, cfg := newFixture(t)
	stop := runNode(t, cfg)
	defer stop()
	f.publish("radio/v1/node/n1/desired", true, f.sign("k1", f.priv, nodeproto.Desired{Node: "n1", Rev: 1, Issued: now(), Volume: 50}))
	f.reply("desired:1")

	// The controller serves a file under a hash it does not have: every
	// chunk is well-formed, but the assembled file fails verification.
	audio, _ := opusTone(t, 0.3, 440)
	claimed := strings.Repeat("ab", 32)
	f.mu.Lock()
	f.files[claimed] = audio
	f.mu.Unlock()
	c := nodeproto.Command{ID: "c-bad-hash", Type: "play", Node: "n1", Issued: now(), Expires: now() + 60000,
		Play: &nodeproto.Play{Media: claimed, Size: int64(len(audio)), PlayAt: now() + 1000}}
	f.publish("radio/v1/node/n1/cmd", false, f.sign("k1", f.priv, c))
	if r := f.reply("c-bad-hash"); !r.OK {
		t.Fatalf("play refused up front: %+v", r)
	}
	e := f.event("failed", "c-bad-hash", 30*time.Second)
	if e.Reason != nodeproto.CodeHashMismatch.String() {
		t.Errorf("failed reason = %q, want %q", e.Reason, nodeproto.CodeHashMismatch.String())
	}
	if e.Audio != "" {
		t.Errorf("a failed item, of which nothing played, reports audio %q", e.Audio)
	}
	f.mu.Lock()
	n := f.fetches
	f.mu.Unlock()
	time.Sleep(2 * time.Second)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fetches > n+1 {
		t.Errorf("node keeps fetching a file that cannot verify: %d more requests", f.fetches-n)
	}
}

// With the link down, a scheduled slot from the desired state still plays
// from the cache, and its proof of play arrives once the link is back.
func TestScheduleSlotPlaysOffline(t *testing.T) {
	f, cfg := newFixture(t)
	audio, media := opusTone(t, 0.4, 440)
	f.mu.Lock()
	f.files[media] = audio
	f.mu.Unlock()
	stop := runNode(t, cfg)
	slotAt := now() + 6000
	d := nodeproto.Desired{Node: "n1", Rev: 1, Issued: now(), Volume: 50,
		Content:  []nodeproto.ContentRef{{Media: media, Size: int64(len(audio))}},
		Schedule: []nodeproto.Slot{{ID: "s-1", Media: media, Size: int64(len(audio)), PlayAt: slotAt}}}
	f.publish("radio/v1/node/n1/desired", true, f.sign("k1", f.priv, d))
	f.reply("desired:1")
	// Wait for the content to be cached, then cut the node off (stop it and
	// run it again pointing at a dead broker address).
	waitCached(t, cfg, media)
	stop()
	live := cfg.Broker
	cfg.Broker = "tcp://" + freeAddr(t)
	stop = runNode(t, cfg)
	time.Sleep(time.Until(time.UnixMilli(slotAt)) + 2*time.Second)
	stop()
	// Back online: the events recorded offline are delivered.
	cfg.Broker = live
	stop = runNode(t, cfg)
	defer stop()
	st := f.event("started", "s-1", 20*time.Second)
	fin := f.event("finished", "s-1", 5*time.Second)
	// The fixture's node has no sound device: its proof of play says that
	// nobody heard the slot.
	if st.Audio != nodeproto.AudioSilent || fin.Audio != nodeproto.AudioSilent {
		t.Errorf("a slot played into the silent sink reports audio %q (started), %q (finished), want %q", st.Audio, fin.Audio, nodeproto.AudioSilent)
	}
	if d := time.Duration(st.OffsetUS) * time.Microsecond; d < -50*time.Millisecond || d > 500*time.Millisecond {
		t.Errorf("offline slot started %v from its play_at", d)
	}
}

// A node cut off for a (compressed) hour of programme, and restarted in the
// middle of it, plays every slot and loses no proof-of-play record: once
// back, every event arrives, each sequence number once.
func TestOfflineHourLosesNoProof(t *testing.T) {
	f, cfg := newFixture(t)
	audio, media := opusTone(t, 0.2, 440)
	f.mu.Lock()
	f.files[media] = audio
	f.mu.Unlock()
	stop := runNode(t, cfg)
	const slots = 20
	first := now() + 8000
	d := nodeproto.Desired{Node: "n1", Rev: 1, Issued: now(), Volume: 50,
		Content: []nodeproto.ContentRef{{Media: media, Size: int64(len(audio))}}}
	for i := 0; i < slots; i++ {
		d.Schedule = append(d.Schedule, nodeproto.Slot{ID: fmt.Sprintf("s-%02d", i), Media: media, Size: int64(len(audio)),
			PlayAt: first + int64(i)*500})
	}
	f.publish("radio/v1/node/n1/desired", true, f.sign("k1", f.priv, d))
	f.reply("desired:1")
	waitCached(t, cfg, media)
	stop()
	live := cfg.Broker
	cfg.Broker = "tcp://" + freeAddr(t) // the link is down from here on
	stop = runNode(t, cfg)
	time.Sleep(time.Until(time.UnixMilli(first + slots/2*500)))
	stop() // a restart in the middle of the outage
	stop = runNode(t, cfg)
	time.Sleep(time.Until(time.UnixMilli(first+slots*500)) + 2*time.Second)
	stop()
	cfg.Broker = live
	stop = runNode(t, cfg)
	defer stop()

	// Every slot ends in a terminal event: finished, or (the one on air
	// when the node was restarted) interrupted; none is played twice.
	seen := map[uint64]bool{}
	ended := map[string]string{}
	starts := map[string]int{}
	timeout := time.After(30 * time.Second)
	for len(ended) < slots {
		select {
		case e := <-f.events:
			if seen[e.Seq] {
				t.Fatalf("seq %d delivered twice", e.Seq)
			}
			seen[e.Seq] = true
			switch e.Type {
			case "started":
				starts[e.ID]++
			case "finished", "interrupted", "failed":
				ended[e.ID] = e.Type + " " + e.Reason
			}
		case <-timeout:
			t.Fatalf("after the outage: %d of %d slots ended, %d events: %v", len(ended), slots, len(seen), ended)
		}
	}
	for id, end := range ended {
		if n := starts[id]; n != 1 && !strings.HasPrefix(end, "failed") {
			t.Errorf("slot %s: %d started events, then %s", id, n, end)
		}
	}
	t.Logf("%d slots played offline; %d events delivered after reconnecting; outcomes %v", slots, len(seen), ended)
}

// waitCached waits until the node under test holds media in its cache.
func waitCached(t *testing.T, cfg Config, media string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "cache", media+".opus")); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("content never cached")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A stop reaches an item still waiting for its content: it is reported
// "interrupted" with reason "stopped" (PROTOCOL.md §5), as a queued item the
// player drops is, and never plays afterwards. A muted node (volume 0) says so.
func TestStopBeforeContentArrives(t *testing.T) {
	f, cfg := newFixture(t)
	stop := runNode(t, cfg)
	defer stop()
	states := f.states()
	f.publish("radio/v1/node/n1/desired", true, f.sign("k1", f.priv, nodeproto.Desired{Node: "n1", Rev: 1, Issued: now(), Volume: 0}))
	f.reply("desired:1")
	// The controller does not have the file (yet): the play waits for it.
	audio, sha := opusTone(t, 0.5, 440)
	c := nodeproto.Command{ID: "c-waiting", Type: "play", Node: "n1", Issued: now(), Expires: now() + 60000,
		Play: &nodeproto.Play{Media: sha, Size: int64(len(audio)), PlayAt: now() + 5000}}
	f.publish("radio/v1/node/n1/cmd", false, f.sign("k1", f.priv, c))
	if r := f.reply("c-waiting"); !r.OK {
		t.Fatalf("play refused: %+v", r)
	}
	s := nodeproto.Command{ID: "c-stop", Type: "stop", Node: "n1", Issued: now(), Expires: now() + 60000, Stop: &nodeproto.Stop{ID: "c-waiting"}}
	f.publish("radio/v1/node/n1/cmd", false, f.sign("k1", f.priv, s))
	f.reply("c-stop")
	e := f.event("interrupted", "c-waiting", 10*time.Second)
	if e.Reason != "stopped" || e.PlayedMS != 0 {
		t.Errorf("stopped before its content came: %+v", e)
	}
	// The file now arrives: the stopped item must not play.
	f.mu.Lock()
	f.files[sha] = audio
	f.mu.Unlock()
	select {
	case e := <-f.events:
		if e.ID == "c-waiting" {
			t.Errorf("a stopped item reported %s afterwards", e.Type)
		}
	case <-time.After(7 * time.Second):
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case st := <-states:
			if st.Online && st.Volume != nil && *st.Volume == 0 {
				return
			}
		case <-deadline:
			t.Fatal("no state report with volume 0 from a muted node")
		}
	}
}
