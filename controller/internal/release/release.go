// Package release keeps signed node releases and rolls them out. A release
// is a node binary with a manifest {version, arch, size, sha256} signed by
// the update key, a key apart from the command key: a stolen or misused
// command key cannot make nodes run code, and nodes verify the manifest
// and the binary themselves (node/internal/update). A rollout sends the
// update command to its nodes a few at a time and halts once too many
// fail, so a bad release reaches few boxes.
package release

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/communeradio/radio/controller/internal/media"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/signer"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// KeyFile is the update key's seed in the controller's data folder.
const KeyFile = "update.key"

// Defaults.
const (
	DefaultNodeTimeout = 15 * time.Minute // a node that has not answered by then failed
	pollEvery          = time.Second
)

// Config of a Manager.
type Config struct {
	Dir      string // the controller's data folder: update.key and releases/
	Registry *registry.DB
	Logger   *slog.Logger
	Now      func() time.Time
	// NodeTimeout bounds how long a node may take to report the outcome.
	NodeTimeout time.Duration
}

// Sender sends a signed command (fleet.Fleet.Send, narrowed).
type Sender func(ctx context.Context, node string, c nodeproto.Command, by string) (nodeproto.Command, error)

// Manager holds the releases and runs rollouts.
type Manager struct {
	cfg Config
	log *slog.Logger
	key ed25519.PrivateKey
	dir string

	mu      sync.RWMutex
	allowed map[string]map[string]bool // node -> release sha256 it was sent
}

// New loads (or makes) the update key and the release store.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NodeTimeout <= 0 {
		cfg.NodeTimeout = DefaultNodeTimeout
	}
	key, err := signer.LoadOrCreateKey(filepath.Join(cfg.Dir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("release: update key: %w", err)
	}
	m := &Manager{cfg: cfg, log: cfg.Logger.With("part", "release"), key: key, dir: filepath.Join(cfg.Dir, "releases"),
		allowed: map[string]map[string]bool{}}
	if err := os.MkdirAll(m.dir, 0o750); err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	// Nodes still fetching a release of an unfinished rollout.
	for _, st := range []string{registry.RolloutRunning, registry.RolloutHalted} {
		rs, err := cfg.Registry.ListRollouts(ctx, st)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			for _, n := range r.Nodes {
				if n.Status != registry.RolloutSent {
					continue
				}
				rel, err := cfg.Registry.GetRelease(ctx, r.Version, n.Arch)
				if err != nil {
					return nil, err
				}
				m.allow(n.NodeID, rel.SHA256, true)
			}
		}
	}
	return m, nil
}

// Key is the update public key nodes pin at enrolment.
func (m *Manager) Key() nodeproto.Key { return signer.KeyOf(m.key) }

func (m *Manager) path(sha string) string { return filepath.Join(m.dir, sha+".bin") }

// MaxSize bounds a release binary: one file of the chunk path.
const MaxSize = nodeproto.MaxMediaSize

// ErrInvalid wraps a release the controller refuses (bad version, empty
// or oversized binary); the message says why.
var ErrInvalid = errors.New("invalid release")

// Add stores a binary read from r as release version/arch and signs its
// manifest with the update key. The same version and arch is stored once.
func (m *Manager) Add(ctx context.Context, r io.Reader, version, arch, by string) (registry.Release, error) {
	tmp, err := os.CreateTemp(m.dir, "upload-*")
	if err != nil {
		return registry.Release{}, fmt.Errorf("release: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, MaxSize+1))
	if err != nil {
		return registry.Release{}, fmt.Errorf("release: receiving the binary: %w", err)
	}
	if n == 0 || n > MaxSize {
		return registry.Release{}, fmt.Errorf("%w: the binary has %d bytes, want 1..%d", ErrInvalid, n, MaxSize)
	}
	man := nodeproto.Release{Version: version, Arch: arch, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	if err := man.Validate(); err != nil {
		return registry.Release{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	env, err := nodeproto.SignRelease(m.Key().ID, m.key, man)
	if err != nil {
		return registry.Release{}, err
	}
	if err := tmp.Sync(); err != nil {
		return registry.Release{}, fmt.Errorf("release: %w", err)
	}
	if err := os.Rename(tmp.Name(), m.path(man.SHA256)); err != nil {
		return registry.Release{}, fmt.Errorf("release: %w", err)
	}
	rel := registry.Release{Version: version, Arch: arch, SHA256: man.SHA256, Size: n, KID: env.KID, Manifest: env.Msg,
		Sig: env.Sig, CreatedAt: m.cfg.Now(), CreatedBy: by}
	if err := m.cfg.Registry.InsertRelease(ctx, rel); err != nil {
		return registry.Release{}, err
	}
	m.log.Info("release stored", "version", version, "arch", arch, "bytes", n, "sha256", man.SHA256, "by", by)
	return rel, nil
}

// Has reports whether a release binary is stored.
func (m *Manager) Has(sha string) bool {
	if !nodeproto.ValidMedia(sha) {
		return false
	}
	_, err := os.Stat(m.path(sha))
	return err == nil
}

// ReadChunk reads a chunk of a release binary.
func (m *Manager) ReadChunk(sha string, index int) (nodeproto.Chunk, error) {
	if !nodeproto.ValidMedia(sha) {
		return nodeproto.Chunk{}, fmt.Errorf("release: %q is not a sha256", sha)
	}
	return media.ReadChunkFile(m.path(sha), sha, index)
}

// MayFetch reports whether node was sent an update naming release sha and
// has not finished it: only then may it fetch the binary.
func (m *Manager) MayFetch(node, sha string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.allowed[node][sha]
}

func (m *Manager) allow(node, sha string, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if on {
		if m.allowed[node] == nil {
			m.allowed[node] = map[string]bool{}
		}
		m.allowed[node][sha] = true
		return
	}
	delete(m.allowed[node], sha)
	if len(m.allowed[node]) == 0 {
		delete(m.allowed, node)
	}
}

func newID(prefix string, now time.Time) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}
