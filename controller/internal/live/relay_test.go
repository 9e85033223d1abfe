package live

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/fleet"
	"github.com/communeradio/radio/controller/internal/signer"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// fakeFleet records commands and packets (unit test only; the e2e test
// runs the real fleet and broker).
type fakeFleet struct {
	mu       sync.Mutex
	commands []nodeproto.Command
	packets  map[string][][]byte // by target
}

func (f *fakeFleet) Send(_ context.Context, t fleet.Target, c nodeproto.Command, _ string) (nodeproto.Command, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c.Zone, c.Node = t.Zone, t.Node
	f.commands = append(f.commands, c)
	return c, nil
}

func (f *fakeFleet) PublishStream(t fleet.Target, b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.packets == nil {
		f.packets = map[string][][]byte{}
	}
	f.packets[t.String()] = append(f.packets[t.String()], b)
	return nil
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testManager(t *testing.T) (*Manager, *fakeFleet, *fakeClock, ed25519.PublicKey) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ff := &fakeFleet{}
	clk := &fakeClock{t: time.Date(2026, 12, 7, 6, 29, 58, 500e6, time.UTC)}
	m := New(Config{Fleet: ff, Signer: signer.New(priv), Now: clk.now, RepeatEvery: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(m.Close)
	return m, ff, clk, pub
}

func decode(t *testing.T, pub ed25519.PublicKey, bs [][]byte) []nodeproto.StreamPacket {
	t.Helper()
	var out []nodeproto.StreamPacket
	for _, b := range bs {
		p, err := nodeproto.UnmarshalStreamPacket(pub, b)
		if err != nil {
			t.Fatalf("packet %d: %v", len(out), err)
		}
		out = append(out, p)
	}
	return out
}

// The relay's positions follow the controller's clock: contiguous while
// frames flow, a jump equal to the hole when the upstream stalls, frames
// of a burst beyond a second ahead dropped, and the session ends with the
// window, the last packet flagged. Each zone gets every packet once.
func TestRelayPositions(t *testing.T) {
	m, ff, clk, pub := testManager(t)
	start := clk.now().Add(1500 * time.Millisecond)
	spec := Spec{ID: "relay-vov1-20261207-063000", Source: "relay:VOV1", Targets: []Target{
		{Target: fleet.Target{Zone: "z1"}}, {Target: fleet.Target{Zone: "z2"}, Offset: 40 * time.Millisecond}},
		StartAt: start, EndsAt: start.Add(10 * time.Second)}
	s, err := m.Open(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	r := relay{s: s, m: m, origin: clk.now(), log: m.log}
	frame := []byte{0xfc, 1, 2}
	feed := func(n int, step time.Duration) (full bool) {
		for range n {
			clk.add(step)
			if r.frame(frame) {
				return true
			}
		}
		return false
	}
	feed(25, 20*time.Millisecond) // 0.5 s flowing
	clk.add(2 * time.Second)      // the upstream drops for 2 s
	feed(10, 20*time.Millisecond)
	feed(200, 0) // a burst on reconnect: at most 1 s ahead is kept
	if !feed(400, 20*time.Millisecond) {
		t.Fatal("the window never filled")
	}
	s.End("window end")

	for _, c := range ff.commands {
		want := start.UnixMilli()
		if c.Zone == "z2" {
			want += 40
		}
		if c.Type != nodeproto.CmdStream || c.Stream.Session != spec.ID || c.Stream.StartAt != want || c.Stream.EndsAt != want+10000 {
			t.Errorf("command %+v %+v", c, c.Stream)
		}
	}
	if len(ff.commands) != 2 {
		t.Errorf("%d commands, want one per zone", len(ff.commands))
	}
	z1, z2 := decode(t, pub, ff.packets["zone:z1"]), decode(t, pub, ff.packets["zone:z2"])
	if len(z1) != len(z2) {
		t.Errorf("zones got %d and %d packets", len(z1), len(z2))
	}
	const spf = nodeproto.StreamSamplesPerFrame
	var jumps []uint64
	var next uint64
	for i, p := range z1 {
		if p.Seq != uint32(i) {
			t.Errorf("packet %d has seq %d", i, p.Seq)
		}
		if p.Pos != next {
			jumps = append(jumps, p.Pos-next)
		}
		next = p.Pos + uint64(len(p.Frames))*spf
		if p.Last != (i == len(z1)-1) {
			t.Errorf("packet %d: last=%v", i, p.Last)
		}
	}
	// The first frame came 20 ms after the origin (pos 0: within the
	// tolerance); 25 frames later the stream stood at 0.5 s of audio, at
	// 0.5 s on the clock; the upstream was silent 2 s: the next frame, at
	// 2.52 s, goes to 2.52 s (a 2.02 s hole).
	if len(jumps) != 1 || jumps[0] != 2020*48 {
		t.Errorf("jumps %v samples, want one of %d", jumps, 2020*48)
	}
	if s.gaps != 1 || s.gapDur != 2020*time.Millisecond {
		t.Errorf("gaps %d (%s), want 1 (2.02s)", s.gaps, s.gapDur)
	}
	// The burst: 10 frames at 2.52..2.70 s put the stream at 2.72 s of
	// audio for the clock's 2.70 s; frames up to 1 s ahead (positions
	// 2.72..3.70 s, 50 frames) are kept, the rest of the 200 dropped.
	if r.dropped != 150 {
		t.Errorf("dropped %d frames of the burst, want 150", r.dropped)
	}
	if want := uint64(10 * nodeproto.StreamRate); next != want {
		t.Errorf("audio ends at sample %d, want the window's %d", next, want)
	}
	if err := s.Write(next, frame); err == nil {
		t.Error("a frame was accepted after the end")
	}
}

// A relay whose upstream is down at the window's end still ends on time:
// the clock, not the data, closes it.
func TestRelayEndsOnTheClock(t *testing.T) {
	m, ff, clk, pub := testManager(t)
	start := clk.now().Add(m.cfg.Latency)
	s, err := m.Open(context.Background(), Spec{ID: "r1", Targets: []Target{{Target: fleet.Target{Node: "n1"}}},
		StartAt: start, EndsAt: start.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	r := relay{s: s, m: m, origin: clk.now(), log: m.log}
	r.frame([]byte{1})
	frames := make(chan []byte)
	done := make(chan struct{})
	go func() { r.run(context.Background(), frames); close(done) }()
	clk.add(time.Second + lagTolerance)
	<-done
	ps := decode(t, pub, ff.packets["node:n1"])
	if len(ps) != 1 || !ps[0].Last || len(ps[0].Frames) != 1 || ps[0].Pos != 0 {
		t.Errorf("packets %+v", ps)
	}
	if m.Stop("r1", "again") {
		t.Error("an ended session could be stopped")
	}
}

// An upstream nobody answers at: relay now refuses with ffmpeg's reason
// and opens no session; a planned relay whose upstream stays down for its
// whole window is recorded as failed under its occurrence id (nodes got a
// session of silence, which must not count as aired). Real ffmpeg, a
// closed port.
func TestRelayUnreachableUpstream(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/vov1.mp3"
	l.Close() // nobody listens there now
	type failure struct{ id, reason string }
	failed := make(chan failure, 1)
	m, ff, _, _ := testManager(t)
	m.cfg.Now, m.cfg.Stall, m.cfg.MinBackoff, m.cfg.MaxBackoff = time.Now, 2*time.Second, 200*time.Millisecond, 200*time.Millisecond
	m.cfg.Failed = func(_ context.Context, id, reason string) { failed <- failure{id, reason} }
	target := []Target{{Target: fleet.Target{Zone: "z1"}}}

	_, err = m.RelayNow(context.Background(), Spec{Targets: target}, url)
	if !errors.Is(err, ErrUpstream) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("relay now: %v, want ErrUpstream with ffmpeg's reason", err)
	}
	if len(ff.commands) != 0 || len(m.Running()) != 0 {
		t.Errorf("a session was opened: %d commands, running %v", len(ff.commands), m.Running())
	}

	start := time.Now().Add(m.cfg.Latency)
	m.RelayAt(context.Background(), Spec{ID: "tiep-song-20261207-063000", Targets: target, StartAt: start, EndsAt: start.Add(time.Second)}, url)
	select {
	case f := <-failed:
		if f.id != "tiep-song-20261207-063000" || !strings.Contains(f.reason, "no audio during the whole window") {
			t.Errorf("failure %+v", f)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the dead relay was not recorded as failed")
	}
}

// The packets of a session's first replayAfter go out once more then, for
// nodes whose subscription came in after them; later packets go out once.
func TestFirstPacketsSentAgain(t *testing.T) {
	m, ff, _, pub := testManager(t)
	s, err := m.Open(context.Background(), Spec{ID: "live-first", Source: "live:an",
		Targets: []Target{{Target: fleet.Target{Zone: "z1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	frame := []byte{0xfc, 1, 2}
	for i := range 3 * framesPerPacket {
		if err := s.Write(uint64(i)*nodeproto.StreamSamplesPerFrame, frame); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int { ff.mu.Lock(); defer ff.mu.Unlock(); return len(ff.packets["zone:z1"]) }
	for deadline := time.Now().Add(10 * time.Second); count() < 6 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	for i := range framesPerPacket {
		if err := s.Write(uint64(3*framesPerPacket+i)*nodeproto.StreamSamplesPerFrame, frame); err != nil {
			t.Fatal(err)
		}
	}
	s.End("test")
	ff.mu.Lock()
	got := decode(t, pub, ff.packets["zone:z1"])
	ff.mu.Unlock()
	var seqs []uint32
	for _, p := range got {
		seqs = append(seqs, p.Seq)
	}
	// 0, 1, 2 sent, then again; 3 (the fourth packet) and 4 (the last, empty) once.
	want := []uint32{0, 1, 2, 0, 1, 2, 3, 4}
	if len(seqs) != len(want) {
		t.Fatalf("packets sent in the order %v, want %v", seqs, want)
	}
	for i := range want {
		if seqs[i] != want[i] {
			t.Fatalf("packets sent in the order %v, want %v", seqs, want)
		}
	}
}
