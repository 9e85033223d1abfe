package nodeproto

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func streamKey(seed string) ed25519.PrivateKey {
	s := make([]byte, ed25519.SeedSize)
	copy(s, seed)
	return ed25519.NewKeyFromSeed(s)
}

// A packet round-trips; one signed by another key, cut short, grown, or
// with any byte changed is refused.
func TestStreamPacket(t *testing.T) {
	priv, other := streamKey("controller"), streamKey("attacker")
	pub := priv.Public().(ed25519.PublicKey)
	p := StreamPacket{Session: "live-20261207-0930", Seq: 7, Pos: 7 * 5 * StreamSamplesPerFrame,
		Frames: [][]byte{{0xf8, 1, 2}, {0xf8, 3}, {0xf8, 4, 5, 6}}}
	b, err := MarshalStreamPacket(priv, p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalStreamPacket(pub, b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(p, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	if s, ok := PeekStreamSession(b); !ok || s != p.Session {
		t.Errorf("PeekStreamSession = %q %v", s, ok)
	}
	last := p
	last.Last, last.Frames = true, nil
	lb, _ := MarshalStreamPacket(priv, last)
	if got, err := UnmarshalStreamPacket(pub, lb); err != nil || !got.Last || len(got.Frames) != 0 {
		t.Errorf("last packet: %+v %v", got, err)
	}

	forged, _ := MarshalStreamPacket(other, p)
	if _, err := UnmarshalStreamPacket(pub, forged); !errors.Is(err, ErrStreamSignature) {
		t.Errorf("a packet signed by another key: %v", err)
	}
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x40
		if _, err := UnmarshalStreamPacket(pub, c); err == nil {
			t.Fatalf("byte %d changed: accepted", i)
		}
	}
	for _, c := range [][]byte{b[:len(b)-1], append(bytes.Clone(b), 0), nil, b[:10]} {
		if _, err := UnmarshalStreamPacket(pub, c); err == nil {
			t.Errorf("%d bytes accepted", len(c))
		}
	}
	if _, err := MarshalStreamPacket(priv, StreamPacket{Session: "s", Frames: make([][]byte, MaxStreamFrames+1)}); err == nil {
		t.Error("too many frames marshalled")
	}
}

// A session command is checked like any other: codec, times, priority.
func TestStreamCommandValidate(t *testing.T) {
	ok := func() *Command {
		return &Command{ID: "c-live-1", Type: CmdStream, Zone: "z1", Issued: 1, Expires: 1000,
			Stream: &Stream{Session: "live-1", StartAt: 500, Codec: StreamCodec, Rate: StreamRate, Channels: 1, FrameMS: StreamFrameMS}}
	}
	if err := ok().Validate(); err != nil {
		t.Fatalf("valid session refused: %v", err)
	}
	for name, change := range map[string]func(*Command){
		"no stream":   func(c *Command) { c.Stream = nil },
		"bad session": func(c *Command) { c.Stream.Session = "Bad/Id" },
		"mp3":         func(c *Command) { c.Stream.Codec = "mp3" },
		"stereo":      func(c *Command) { c.Stream.Channels = 2 },
		"no start":    func(c *Command) { c.Stream.StartAt = 0 },
		"ends early":  func(c *Command) { c.Stream.EndsAt = 400 },
		"too long":    func(c *Command) { c.Stream.EndsAt = 500 + MaxStreamSession + 1 },
		"priority":    func(c *Command) { c.Stream.Priority = "urgent" },
	} {
		c := ok()
		change(c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzStreamPacket(f *testing.F) {
	priv := streamKey("controller")
	pub := priv.Public().(ed25519.PublicKey)
	b, _ := MarshalStreamPacket(priv, StreamPacket{Session: "s1", Seq: 1, Pos: 960, Frames: [][]byte{{1, 2, 3}}})
	f.Add(b)
	f.Add([]byte(StreamMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		PeekStreamSession(b)
		p, err := UnmarshalStreamPacket(pub, b)
		if err != nil {
			return
		}
		// Only our own signature verifies: what decodes re-encodes to the same bytes.
		re, err := MarshalStreamPacket(priv, p)
		if err != nil || !bytes.Equal(re, b) {
			t.Fatalf("accepted packet does not re-encode: %v", err)
		}
	})
}

// A compact slot names its file by its place in content; ExpandSlots gives
// the node the full form; a bad index, or one given with media, is refused.
func TestCompactSlots(t *testing.T) {
	sha := "5d3d17917f5100ec166492c6dcac44c104bf7f0da8062e8f9ef037f17fe2a8d5"
	d := Desired{Node: "n1", Rev: 1, Volume: 70, Content: []ContentRef{{Media: sha, Size: 1000}},
		Schedule: []Slot{{ID: "a-1", Content: 1, PlayAt: 10}, {ID: "a-2", Media: sha, Size: 1000, PlayAt: 20}}}
	if err := d.Validate(); err != nil {
		t.Fatalf("compact slot refused: %v", err)
	}
	d.ExpandSlots()
	if s := d.Schedule[0]; s.Media != sha || s.Size != 1000 || s.Content != 0 {
		t.Errorf("expanded slot %+v", s)
	}
	for name, s := range map[string]Slot{
		"index 0 and no media": {ID: "b", PlayAt: 10},
		"index past the end":   {ID: "b", Content: 2, PlayAt: 10},
		"negative index":       {ID: "b", Content: -1, PlayAt: 10},
		"index and media":      {ID: "b", Content: 1, Media: sha, PlayAt: 10},
		"index and size":       {ID: "b", Content: 1, Size: 5, PlayAt: 10},
	} {
		bad := Desired{Node: "n1", Rev: 1, Content: d.Content, Schedule: []Slot{s}}
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
