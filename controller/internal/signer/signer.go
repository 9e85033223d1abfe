// Package signer holds the controller's Ed25519 signing key. Every command
// and desired-state document a node acts on is signed with it; nodes pin its
// public key at enrolment.
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

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Signer signs protocol messages.
type Signer struct {
	kid  string
	priv ed25519.PrivateKey
}

// LoadOrCreate reads dir/controller.key (a 32-byte Ed25519 seed) or makes a
// new one, readable by the owner only.
func LoadOrCreate(dir string) (*Signer, error) {
	path := filepath.Join(dir, "controller.key")
	seed, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		seed = make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, seed, 0o600); err != nil {
			return nil, fmt.Errorf("signer: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("signer: %s is not a %d-byte Ed25519 seed", path, ed25519.SeedSize)
	}
	return New(ed25519.NewKeyFromSeed(seed)), nil
}

// New wraps a private key; its id is derived from the public key.
func New(priv ed25519.PrivateKey) *Signer {
	pub := priv.Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	return &Signer{kid: "k-" + hex.EncodeToString(sum[:6]), priv: priv}
}

// Key is the public key to pin on nodes.
func (s *Signer) Key() nodeproto.Key {
	return nodeproto.Key{ID: s.kid, Pub: s.priv.Public().(ed25519.PublicKey)}
}

// Sign returns the Envelope JSON of body.
func (s *Signer) Sign(body any) ([]byte, error) { return nodeproto.Sign(s.kid, s.priv, body) }
