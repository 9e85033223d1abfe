// Package signer holds the controller's Ed25519 signing keys. Every command
// and desired-state document a node acts on is signed with the current key;
// nodes pin its public key at enrolment.
//
// Rotation without re-enrolling nodes takes two steps. Prepare makes a next
// key; desired state then lists both keys (signed with the current one), so
// every node comes to trust the next key too. Once every node has applied
// that desired state, Commit makes the next key current; desired state then
// lists only it, and nodes drop the old one.
package signer

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/communeradio/radio/firmware-api/nodeproto"
	"github.com/communeradio/radio/internal/atomicfile"
)

// Signer signs protocol messages.
type Signer struct {
	dir  string
	mu   sync.Mutex
	cur  ed25519.PrivateKey
	next ed25519.PrivateKey // nil unless a rotation is prepared
}

const (
	curFile  = "controller.key"
	nextFile = "controller-next.key"
)

// LoadOrCreate reads dir/controller.key (a 32-byte Ed25519 seed) or makes a
// new one, readable by the owner only, and a prepared next key if any.
func LoadOrCreate(dir string) (*Signer, error) {
	s := &Signer{dir: dir}
	cur, err := readSeed(filepath.Join(dir, curFile))
	if errors.Is(err, os.ErrNotExist) {
		if cur, err = newSeed(filepath.Join(dir, curFile)); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	s.cur = cur
	next, err := readSeed(filepath.Join(dir, nextFile))
	if err == nil {
		s.next = next
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return s, nil
}

// New wraps a private key (no rotation: tests and tools).
func New(priv ed25519.PrivateKey) *Signer { return &Signer{cur: priv} }

func readSeed(path string) (ed25519.PrivateKey, error) {
	seed, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("signer: %s is not a %d-byte Ed25519 seed", path, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func newSeed(path string) (ed25519.PrivateKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(path, seed, 0o600); err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func keyOf(priv ed25519.PrivateKey) nodeproto.Key {
	pub := priv.Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	return nodeproto.Key{ID: "k-" + hex.EncodeToString(sum[:6]), Pub: pub}
}

// Key is the current public key (what enrolment pins on new nodes).
func (s *Signer) Key() nodeproto.Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	return keyOf(s.cur)
}

// Next is the prepared next key, if any.
func (s *Signer) Next() (nodeproto.Key, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == nil {
		return nodeproto.Key{}, false
	}
	return keyOf(s.next), true
}

// Keys is the key list nodes should trust now: the current key, and the
// next one while a rotation is prepared.
func (s *Signer) Keys() []nodeproto.Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := []nodeproto.Key{keyOf(s.cur)}
	if s.next != nil {
		keys = append(keys, keyOf(s.next))
	}
	return keys
}

// Prepare makes the next key (or returns the one already prepared).
func (s *Signer) Prepare() (nodeproto.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next != nil {
		return keyOf(s.next), nil
	}
	if s.dir == "" {
		return nodeproto.Key{}, errors.New("signer: no key directory")
	}
	next, err := newSeed(filepath.Join(s.dir, nextFile))
	if err != nil {
		return nodeproto.Key{}, err
	}
	s.next = next
	return keyOf(next), nil
}

// ErrNoRotation is returned by Commit without a prepared key.
var ErrNoRotation = errors.New("no key rotation is prepared: prepare one first")

// Commit makes the prepared key current. The old seed is kept beside as
// controller.key.old so an operator can recover from a mistake.
func (s *Signer) Commit() (nodeproto.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == nil {
		return nodeproto.Key{}, ErrNoRotation
	}
	cur, next := filepath.Join(s.dir, curFile), filepath.Join(s.dir, nextFile)
	if err := atomicfile.Write(cur+".old", s.cur.Seed(), 0o600); err != nil {
		return nodeproto.Key{}, err
	}
	if err := atomicfile.Write(cur, s.next.Seed(), 0o600); err != nil {
		return nodeproto.Key{}, err
	}
	os.Remove(next)
	s.cur, s.next = s.next, nil
	return keyOf(s.cur), nil
}

// Sign returns the Envelope JSON of body, signed with the current key.
func (s *Signer) Sign(body any) ([]byte, error) {
	s.mu.Lock()
	priv := s.cur
	s.mu.Unlock()
	return nodeproto.Sign(keyOf(priv).ID, priv, body)
}

// SignStream encodes a live session's packet (PROTOCOL.md §10) signed with
// the current key, and names that key: a packet must verify against the
// key that signed its session's stream command, so a session that sees the
// key change (a rotation committed mid-session) sends its command again at
// once, signed with the new key.
func (s *Signer) SignStream(p nodeproto.StreamPacket) (packet []byte, kid string, err error) {
	s.mu.Lock()
	priv := s.cur
	s.mu.Unlock()
	b, err := nodeproto.MarshalStreamPacket(priv, p)
	if err != nil {
		return nil, "", fmt.Errorf("signer: %w", err)
	}
	return b, keyOf(priv).ID, nil
}

// LoadOrCreateKey reads a 32-byte Ed25519 seed from path, or makes one
// readable by the owner only: a key apart from the command keys (the
// update key that signs node releases), with no rotation of its own.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	k, err := readSeed(path)
	if errors.Is(err, os.ErrNotExist) {
		return newSeed(path)
	}
	return k, err
}

// KeyOf is the public key of priv as nodes pin it, with its id.
func KeyOf(priv ed25519.PrivateKey) nodeproto.Key { return keyOf(priv) }
