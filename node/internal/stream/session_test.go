package stream

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

func key(seed string) ed25519.PrivateKey {
	s := sha256.Sum256([]byte(seed))
	return ed25519.NewKeyFromSeed(s[:])
}

func session(id string, startAt int64) nodeproto.Stream {
	return nodeproto.Stream{Session: id, StartAt: startAt, Codec: nodeproto.StreamCodec, Rate: nodeproto.StreamRate,
		Channels: 1, FrameMS: nodeproto.StreamFrameMS}
}

func packet(t *testing.T, priv ed25519.PrivateKey, id string, seq uint32, marks ...byte) []byte {
	t.Helper()
	b, err := nodeproto.MarshalStreamPacket(priv, nodeproto.StreamPacket{Session: id, Seq: seq,
		Pos: uint64(seq) * uint64(len(marks)) * spf, Frames: frames(marks...)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSetVerifiesPackets(t *testing.T) {
	ctl, attacker := key("controller"), key("attacker")
	now := time.UnixMilli(1796599800000)
	topic := nodeproto.ZoneStreamTopic("z1")
	var decs []*markDecoder
	s := NewSet(func() (Decoder, error) {
		d := &markDecoder{}
		decs = append(decs, d)
		return d, nil
	})
	ss, fresh, err := s.Open(session("live-1", now.UnixMilli()+1000), topic, ctl.Public().(ed25519.PublicKey), now)
	if err != nil || !fresh || ss == nil {
		t.Fatalf("Open = %v %v %v", ss, fresh, err)
	}
	// The controller repeats the command: nothing changes.
	if again, fresh, _ := s.Open(session("live-1", now.UnixMilli()+1000), topic, ctl.Public().(ed25519.PublicKey), now); again != nil || fresh {
		t.Errorf("a repeated session was opened again")
	}
	if got := s.Topics(); len(got) != 1 || got[0] != topic {
		t.Errorf("topics %v", got)
	}

	good := packet(t, ctl, "live-1", 0, 1, 2)
	far, err := nodeproto.MarshalStreamPacket(ctl, nodeproto.StreamPacket{Session: "live-1", Pos: maxPos + 1, Frames: frames(66)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		topic string
		b     []byte
		want  error
	}{
		{"forged: signed by another key", topic, packet(t, attacker, "live-1", 1, 66, 66), nodeproto.ErrStreamSignature},
		{"tampered", topic, append(append([]byte(nil), good[:len(good)-70]...), append([]byte{9}, good[len(good)-69:]...)...), nodeproto.ErrStreamSignature},
		{"unknown session", topic, packet(t, ctl, "live-2", 1, 66), ErrUnknownSession},
		{"another topic", nodeproto.NodeTopic("n1", nodeproto.LeafStream), packet(t, ctl, "live-1", 1, 66, 66), ErrWrongTopic},
		{"not a packet", topic, []byte("RSP0 hello"), nodeproto.ErrStreamMalformed},
		{"beyond 24 h", topic, far, ErrPosition},
		{"good", topic, good, nil},
	}
	for _, c := range cases {
		if _, err := s.Packet(c.topic, c.b, now); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	if s.Refused != (Refused{Forged: 2, Unknown: 1, WrongTopic: 1, Malformed: 2}) {
		t.Errorf("refused %+v", s.Refused)
	}
	// Only the good packet's frames are in the buffer.
	marks, _, _ := play(t, ss.Buffer, 0, 960, 4*spf)
	if want := []int{1, 2, 0, 0}; !equal(marks, want) {
		t.Errorf("played %v, want %v", marks, want)
	}

	// Lost: counted from start_at, then from the last packet.
	if lost := s.Lost(now.Add(LostAfter + 500*time.Millisecond)); len(lost) != 0 {
		t.Errorf("lost %v 10.5 s after the command but 9.5 s after start_at", lost)
	}
	s.Packet(topic, packet(t, ctl, "live-1", 1, 3, 4), now.Add(5*time.Second))
	if lost := s.Lost(now.Add(5*time.Second + LostAfter + time.Millisecond)); len(lost) != 1 || lost[0] != "live-1" {
		t.Errorf("lost %v, want live-1", lost)
	}

	// A session that ended refuses its packets and is not reopened by a
	// repeat; one whose stream was lost is forgotten, so a repeat rejoins.
	s.Close("live-1", false, now)
	if !decs[0].closed {
		t.Error("decoder not closed")
	}
	if _, err := s.Packet(topic, good, now); !errors.Is(err, ErrEndedSession) {
		t.Errorf("packet after the end: %v", err)
	}
	if ss, _, _ := s.Open(session("live-1", now.UnixMilli()), topic, ctl.Public().(ed25519.PublicKey), now); ss != nil {
		t.Error("an ended session was opened again")
	}
	if len(s.Topics()) != 0 {
		t.Errorf("topics %v after the last session ended", s.Topics())
	}
	s.Open(session("live-3", now.UnixMilli()), topic, ctl.Public().(ed25519.PublicKey), now)
	s.Close("live-3", true, now)
	if ss, fresh, _ := s.Open(session("live-3", now.UnixMilli()), topic, ctl.Public().(ed25519.PublicKey), now); ss == nil || !fresh {
		t.Error("a session whose stream was lost could not be joined again")
	}
}
