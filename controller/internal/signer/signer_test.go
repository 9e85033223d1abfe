package signer

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	s, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := s.Key()
	if _, err := s.Commit(); !errors.Is(err, ErrNoRotation) {
		t.Errorf("commit without prepare: %v", err)
	}
	next, err := s.Prepare()
	if err != nil || next.ID == old.ID {
		t.Fatalf("prepare: %v %v", next, err)
	}
	if ks := s.Keys(); len(ks) != 2 || ks[0].ID != old.ID || ks[1].ID != next.ID {
		t.Errorf("keys while prepared = %v", ks)
	}
	// A restart keeps the prepared key.
	s2, _ := LoadOrCreate(dir)
	if n, ok := s2.Next(); !ok || n.ID != next.ID {
		t.Fatalf("prepared key lost on reload")
	}
	// Until commit, messages are signed with the old key.
	ring := nodeproto.Keyring{old.ID: ed25519.PublicKey(old.Pub)}
	b, _ := s2.Sign(nodeproto.Ack{Seqs: []uint64{1}})
	var a nodeproto.Ack
	if err := ring.Open(b, &a); err != nil {
		t.Errorf("before commit: %v", err)
	}
	if k, err := s2.Commit(); err != nil || k.ID != next.ID {
		t.Fatalf("commit: %v %v", k, err)
	}
	b, _ = s2.Sign(nodeproto.Ack{Seqs: []uint64{1}})
	if err := ring.Open(b, &a); err == nil {
		t.Error("after commit, still signed with the old key")
	}
	s3, _ := LoadOrCreate(dir)
	if s3.Key().ID != next.ID || len(s3.Keys()) != 1 {
		t.Errorf("after reload: current %s keys %v", s3.Key().ID, s3.Keys())
	}
}

// A stream packet verifies with the key the signer names, and only with it;
// after a rotation it is signed with (and names) the new key.
func TestSignStream(t *testing.T) {
	s, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := nodeproto.StreamPacket{Session: "relay-vov1", Seq: 3, Pos: 14400, Frames: [][]byte{{1, 2, 3}}}
	b, kid, err := s.SignStream(p)
	if err != nil {
		t.Fatal(err)
	}
	old := s.Key()
	if kid != old.ID {
		t.Errorf("kid %s, want the current key %s", kid, old.ID)
	}
	got, err := nodeproto.UnmarshalStreamPacket(old.Pub, b)
	if err != nil || got.Seq != 3 || got.Pos != 14400 {
		t.Fatalf("unmarshal: %+v %v", got, err)
	}
	next, _ := s.Prepare()
	if _, err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	b, kid, err = s.SignStream(p)
	if err != nil || kid != next.ID {
		t.Fatalf("after rotation: kid %s err %v, want %s", kid, err, next.ID)
	}
	if _, err := nodeproto.UnmarshalStreamPacket(old.Pub, b); !errors.Is(err, nodeproto.ErrStreamSignature) {
		t.Errorf("packet of the new key verified with the old one: %v", err)
	}
	if _, _, err := s.SignStream(nodeproto.StreamPacket{Session: "Bad/Id"}); err == nil {
		t.Error("a packet with a bad session id was signed")
	}
}
