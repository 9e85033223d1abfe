package node

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// opusFrames encodes a tone with ffmpeg into Ogg Opus (20 ms frames, as
// the controller's relay does) and returns its Opus packets, one a frame.
func opusFrames(t *testing.T, seconds float64, hz int) [][]byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "live.opus")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
		fmt.Sprintf("sine=frequency=%d:duration=%g:sample_rate=48000", hz, seconds), "-c:a", "libopus", "-ar", "48000",
		"-ac", "1", "-b:a", "32k", "-frame_duration", "20", "-f", "ogg", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (run make test, which installs it): %v %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// Ogg pages (RFC 3533): a 27-byte header, a lacing table, the body; a
	// lacing value under 255 ends a packet. The first two packets are the
	// Opus headers.
	var pkts [][]byte
	var cur []byte
	for len(b) >= 27 {
		if string(b[:4]) != "OggS" {
			t.Fatal("not an Ogg page")
		}
		nseg := int(b[26])
		lacing := b[27 : 27+nseg]
		body := b[27+nseg:]
		for _, l := range lacing {
			cur = append(cur, body[:l]...)
			body = body[l:]
			if l < 255 {
				pkts = append(pkts, cur)
				cur = nil
			}
		}
		b = body
	}
	if len(pkts) < 3 || !bytes.HasPrefix(pkts[0], []byte("OpusHead")) {
		t.Fatalf("%d Ogg packets, no OpusHead", len(pkts))
	}
	return pkts[2:]
}

// watcher receives one node's replies, events (acknowledged) and states.
type watcher struct {
	replies chan nodeproto.Reply
	events  chan nodeproto.Event
	states  chan nodeproto.State
}

// watch follows a node other than the fixture's n1.
func (f *fixture) watch(id string) *watcher {
	w := &watcher{replies: make(chan nodeproto.Reply, 100), events: make(chan nodeproto.Event, 100), states: make(chan nodeproto.State, 100)}
	f.ctl.Subscribe(nodeproto.NodeTopic(id, nodeproto.LeafReply), 1, func(_ mqtt.Client, m mqtt.Message) {
		var r nodeproto.Reply
		json.Unmarshal(m.Payload(), &r)
		w.replies <- r
	}).Wait()
	f.ctl.Subscribe(nodeproto.NodeTopic(id, nodeproto.LeafState), 1, func(_ mqtt.Client, m mqtt.Message) {
		var s nodeproto.State
		if json.Unmarshal(m.Payload(), &s) == nil {
			w.states <- s
		}
	}).Wait()
	f.ctl.Subscribe(nodeproto.NodeTopic(id, nodeproto.LeafEvents), 1, func(c mqtt.Client, m mqtt.Message) {
		var e nodeproto.Events
		json.Unmarshal(m.Payload(), &e)
		var seqs []uint64
		for _, ev := range e.Events {
			seqs = append(seqs, ev.Seq)
			w.events <- ev
		}
		ack, _ := json.Marshal(nodeproto.Ack{Seqs: seqs})
		c.Publish(nodeproto.NodeTopic(id, nodeproto.LeafAck), 1, false, ack)
	}).Wait()
	return w
}

func waitFor[T any](t *testing.T, ch chan T, what string, within time.Duration, ok func(T) bool) T {
	t.Helper()
	timeout := time.After(within)
	for {
		select {
		case v := <-ch:
			if ok(v) {
				return v
			}
		case <-timeout:
			t.Fatalf("no %s within %v", what, within)
		}
	}
}

// subscribed waits until the broker has (or, for want false, no longer
// has) client's subscription to topic.
func (f *fixture) subscribed(client, topic string, want bool) {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, ok := f.srv.Topics.Subscribers(topic).Subscriptions[client]
		if ok == want {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s subscribed to %s: %v, want %v", client, topic, ok, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func streamCmd(id, target string, zone bool, st nodeproto.Stream) nodeproto.Command {
	c := nodeproto.Command{ID: id, Type: nodeproto.CmdStream, Issued: now(), Expires: now() + 60000, Stream: &st}
	if zone {
		c.Zone = target
	} else {
		c.Node = target
	}
	return c
}

func liveSession(id string, startAt int64) nodeproto.Stream {
	return nodeproto.Stream{Session: id, Source: "live:test", Title: "Thông báo", Priority: nodeproto.PriorityHigh, StartAt: startAt,
		Codec: nodeproto.StreamCodec, Rate: nodeproto.StreamRate, Channels: 1, FrameMS: nodeproto.StreamFrameMS}
}

// send is one packet to publish at a given instant.
type send struct {
	at      time.Time
	payload []byte
}

// packets cuts frames into signed packets of per frames each (the last one
// flagged last if last) and returns them by packet number.
func packets(t *testing.T, priv ed25519.PrivateKey, session string, frames [][]byte, per int, last bool) [][]byte {
	t.Helper()
	var out [][]byte
	for k := 0; k*per < len(frames); k++ {
		fs := frames[k*per : min(len(frames), (k+1)*per)]
		b, err := nodeproto.MarshalStreamPacket(priv, nodeproto.StreamPacket{Session: session, Seq: uint32(k),
			Pos: uint64(k * per * nodeproto.StreamSamplesPerFrame), Last: last && (k+1)*per >= len(frames), Frames: fs})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// pace publishes each packet at its instant (QoS 0, as the controller does).
func (f *fixture) pace(topic string, sends []send) {
	slicesSortFunc(sends)
	for _, s := range sends {
		time.Sleep(time.Until(s.at))
		f.ctl.Publish(topic, 0, false, s.payload)
	}
}

func slicesSortFunc(s []send) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].at.Before(s[j-1].at); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// The node test of issue 10: a session of 4 s to a zone, with packets lost,
// late, duplicated and forged. The node reports exactly the holes it had
// to play as silence, starts on start_at and ends on the session's last
// sample; a second node of the zone, started while the session runs,
// joins it mid-way on the same sample grid and ends with the first.
func TestLiveSessionGapsAndAlignment(t *testing.T) {
	f, cfg := newFixture(t)
	stop1 := runNode(t, cfg)
	defer stop1()
	cfg2 := cfg
	cfg2.ID, cfg2.DataDir = "n2", t.TempDir()
	w2 := f.watch("n2")
	for _, id := range []string{"n1", "n2"} {
		f.publish(nodeproto.NodeTopic(id, nodeproto.LeafDesired), true, f.sign("k1", f.priv,
			nodeproto.Desired{Node: id, Rev: 1, Issued: now(), Volume: 50, Zones: []string{"z1"}}))
	}
	f.reply("desired:1")
	// n2 learns its zone, then is off while the session begins.
	stop2 := runNode(t, cfg2)
	waitFor(t, w2.replies, "n2 desired reply", 20*time.Second, func(r nodeproto.Reply) bool { return r.Cmd == "desired:1" })
	stop2()

	const frameMS, per, nPackets = 20, 5, 40 // 4 s in packets of 100 ms
	frames := opusFrames(t, 4, 440)[:nPackets*per]
	const length = nPackets * per * frameMS
	startAt := now() + 3000
	session := "live-gaps"
	// The zone's stream topic is held from the connect on, before any
	// session: a session's first packets follow its command within
	// milliseconds (PROTOCOL.md §10, rule 1).
	topic := nodeproto.ZoneStreamTopic("z1")
	f.subscribed("n1", topic, true)
	c1 := streamCmd("c-live-1", "z1", true, liveSession(session, startAt))
	f.publish(nodeproto.ZoneCmdTopic("z1"), false, f.sign("k1", f.priv, c1))
	if r := f.reply("c-live-1"); !r.OK {
		t.Fatalf("stream refused: %+v", r)
	}

	_, forger, _ := ed25519.GenerateKey(nil)
	pkts := packets(t, f.priv, session, frames, per, true)
	forged := packets(t, forger, session, frames, per, true)
	lost := map[int]bool{5: true, 6: true, 12: true, 32: true}
	const late, dup, forgedAt = 18, 20, 24
	instant := func(k int) time.Time { return time.UnixMilli(startAt + int64(k*per*frameMS)) }
	var sends []send
	for k, p := range pkts {
		ahead := instant(k).Add(-time.Second)
		switch {
		case lost[k]:
		case k == late:
			sends = append(sends, send{instant(k).Add(500 * time.Millisecond), p}) // after all its frames' instants
		case k == dup:
			sends = append(sends, send{ahead, p}, send{ahead.Add(50 * time.Millisecond), p})
		case k == forgedAt:
			sends = append(sends, send{ahead, forged[k]}) // in place of the real one
		default:
			sends = append(sends, send{ahead, p})
		}
	}
	// Holes the node must report, as [start, end) ms of the session.
	holes := [][2]int{{500, 700}, {1200, 1300}, {1800, 1900}, {2400, 2500}, {3200, 3300}}
	paced := make(chan struct{})
	go func() { f.pace(topic, sends); close(paced) }()

	// n2 comes back 1.5 s into the session and joins it when the controller
	// repeats the command (or from the command its broker session queued).
	time.Sleep(time.Until(time.UnixMilli(startAt + 1500)))
	restarted := time.Now()
	stop2 = runNode(t, cfg2)
	defer stop2()
	// Its first run's "online" may still be queued here: wait for this run's.
	waitFor(t, w2.states, "n2 online", 20*time.Second, func(s nodeproto.State) bool {
		return s.Online && s.TS >= restarted.UnixMilli()
	})
	c2 := streamCmd("c-live-2", "z1", true, liveSession(session, startAt))
	f.publish(nodeproto.ZoneCmdTopic("z1"), false, f.sign("k1", f.priv, c2))
	if r := f.reply("c-live-2"); !r.OK {
		t.Errorf("repeat refused by n1: %+v", r)
	}
	waitFor(t, w2.replies, "n2 stream reply", 20*time.Second, func(r nodeproto.Reply) bool {
		if r.Cmd == "c-live-1" || r.Cmd == "c-live-2" {
			if !r.OK {
				t.Errorf("n2 refused %s: %+v", r.Cmd, r)
			}
			return r.Cmd == "c-live-2"
		}
		return false
	})

	st1 := f.event("started", session, 10*time.Second)
	fin1 := f.event("finished", session, 20*time.Second)
	st2 := waitFor(t, w2.events, "n2 started", 10*time.Second, func(e nodeproto.Event) bool { return e.Type == "started" && e.ID == session })
	fin2 := waitFor(t, w2.events, "n2 finished", 10*time.Second, func(e nodeproto.Event) bool { return e.Type != "started" && e.ID == session })
	<-paced

	// n1: on air from start_at to the last sample, holes exactly as sent.
	if st1.PlayAt != startAt || st1.OffsetUS < -1000 || st1.OffsetUS > 1000 {
		t.Errorf("n1 started %+v: want play_at %d, offset within 1 ms", st1, startAt)
	}
	if fin1.PlayedMS != length || fin1.At < startAt+length-2 || fin1.At > startAt+length+2 {
		t.Errorf("n1 finished %+v: want played_ms %d at %d", fin1, length, startAt+length)
	}
	wantGapMS := 0
	for _, h := range holes {
		wantGapMS += h[1] - h[0]
	}
	if fin1.Gaps != len(holes) || abs64(fin1.GapMS-int64(wantGapMS)) > frameMS {
		t.Errorf("n1 reported %d gaps, %d ms; withheld, late and forged: %d holes, %d ms", fin1.Gaps, fin1.GapMS, len(holes), wantGapMS)
	}

	// n2: joined on the session's frame grid, and ended with n1.
	off := st2.OffsetUS
	if st2.PlayAt != startAt || off < 1500_000 || min(off%20_000, 20_000-off%20_000) > 1000 {
		t.Errorf("n2 started %+v: want a whole number of 20 ms frames after start_at, 1.5 s or more", st2)
	}
	if fin2.Type != "finished" || abs64(fin2.PlayedMS+off/1000-length) > 2 || fin2.At < startAt+length-2 || fin2.At > startAt+length+2 {
		t.Errorf("n2 ended %+v: want finished with played_ms %d at %d", fin2, length-off/1000, startAt+length)
	}
	n2Holes, n2GapMS := 0, 0
	for _, h := range holes {
		if int64(h[0])*1000 >= off {
			n2Holes++
			n2GapMS += h[1] - h[0]
		}
	}
	if n2Holes == 0 {
		t.Errorf("n2 joined at %d ms, after every hole: the test checks nothing of its gaps", off/1000)
	}
	if fin2.Gaps != n2Holes || abs64(fin2.GapMS-int64(n2GapMS)) > frameMS {
		t.Errorf("n2 (joined at %d ms) reported %d gaps, %d ms; want %d, %d ms", off/1000, fin2.Gaps, fin2.GapMS, n2Holes, n2GapMS)
	}

	// The repeat changed nothing on n1: one start, one end.
	f.subscribed("n1", topic, true) // the zone's stream topic stays held for the next session
	select {
	case e := <-f.events:
		t.Errorf("n1 reported more: %+v", e)
	case <-time.After(time.Second):
	}
}

func abs64(x int64) int64 { return max(x, -x) }

// A session ends at ends_at even while packets keep coming, on a stop that
// names it, or when its packets stop for 10 s; a node command's session
// comes on the node's own stream topic.
func TestLiveSessionEnds(t *testing.T) {
	f, cfg := newFixture(t)
	stop := runNode(t, cfg)
	defer stop()
	f.publish("radio/v1/node/n1/desired", true, f.sign("k1", f.priv, nodeproto.Desired{Node: "n1", Rev: 1, Issued: now(), Volume: 50, Zones: []string{"z1"}}))
	f.reply("desired:1")
	frames := opusFrames(t, 2, 660)

	cases := []struct {
		name, session string
		zone          bool
		endsAfter     int64 // ends_at - start_at, ms; 0 = open
		frames        int   // frames sent
		stopAfter     time.Duration
		want, reason  string
		played        int64
	}{
		{"ends_at", "live-window", true, 1000, 100, 0, "finished", "", 1000},
		{"stop", "live-stop", false, 0, 100, 1200 * time.Millisecond, "interrupted", "stopped", -1},
		{"lost", "live-lost", true, 0, 25, 0, "interrupted", "stream lost", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			startAt := now() + 2000
			st := liveSession(c.session, startAt)
			if c.endsAfter > 0 {
				st.EndsAt = startAt + c.endsAfter
			}
			topic := nodeproto.ZoneStreamTopic("z1")
			cmd := streamCmd("c-"+c.session, "z1", true, st)
			if !c.zone {
				topic, cmd = nodeproto.NodeTopic("n1", nodeproto.LeafStream), streamCmd("c-"+c.session, "n1", false, st)
			}
			f.publish(cmdTopic(cmd), false, f.sign("k1", f.priv, cmd))
			if r := f.reply(cmd.ID); !r.OK {
				t.Fatalf("refused: %+v", r)
			}
			f.subscribed("n1", topic, true)
			var sends []send
			for k, p := range packets(t, f.priv, c.session, frames[:c.frames], 5, false) {
				sends = append(sends, send{time.UnixMilli(startAt + int64(k*100) - 500), p})
			}
			go f.pace(topic, sends)
			if c.stopAfter > 0 {
				time.Sleep(time.Until(time.UnixMilli(startAt).Add(c.stopAfter)))
				s := nodeproto.Command{ID: "c-stop-" + c.session, Type: "stop", Node: "n1", Issued: now(), Expires: now() + 60000, Stop: &nodeproto.Stop{ID: c.session}}
				f.publish("radio/v1/node/n1/cmd", false, f.sign("k1", f.priv, s))
			}
			f.event("started", c.session, 10*time.Second)
			e := f.event(c.want, c.session, 30*time.Second)
			if e.Reason != c.reason || (c.played >= 0 && e.PlayedMS != c.played) {
				t.Errorf("ended %+v: want %s %q played %d", e, c.want, c.reason, c.played)
			}
			// Everything played after the 500 ms that came is a hole. On a
			// loaded machine some of those 500 ms may come too late to play,
			// which makes the hole longer (and may open one at the start), but
			// never shorter.
			if sent := int64(c.frames * 20); c.reason == "stream lost" &&
				(e.Gaps < 1 || e.Gaps > 2 || e.GapMS < e.PlayedMS-sent-20 || e.GapMS > e.PlayedMS-20) {
				t.Errorf("lost stream: played %d ms with %d gaps of %d ms; want all but the %d ms sent as a hole", e.PlayedMS, e.Gaps, e.GapMS, sent)
			}
			f.subscribed("n1", topic, true) // its own or its zone's: held for the next session
		})
	}
}

func cmdTopic(c nodeproto.Command) string {
	if c.Zone != "" {
		return nodeproto.ZoneCmdTopic(c.Zone)
	}
	return nodeproto.NodeTopic(c.Node, nodeproto.LeafCmd)
}
