// Package cache is the node's on-disk content store: media files assembled
// from chunks, verified against their sha256 before use, bounded in size with
// least-recently-used eviction. Partial files survive restarts, so after an
// outage a node asks only for the chunks it is missing.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// Errors returned by Put.
var (
	ErrHashMismatch = errors.New("cache: assembled file does not match its sha256")
	ErrDiskFull     = errors.New("cache: no space left for this file")
	ErrMismatch     = errors.New("cache: chunk does not belong to the file being assembled")
)

// Cache is safe for concurrent use.
type Cache struct {
	dir  string
	max  int64
	mu   sync.Mutex
	keep map[string]bool
}

// Open uses dir, keeping at most max bytes of complete files (0 = 512 MiB).
func Open(dir string, max int64) (*Cache, error) {
	if max <= 0 {
		max = 512 << 20
	}
	for _, d := range []string{dir, filepath.Join(dir, "partial")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
	return &Cache{dir: dir, max: max}, nil
}

func (c *Cache) file(media string) string { return filepath.Join(c.dir, media+".opus") }
func (c *Cache) part(media string) string { return filepath.Join(c.dir, "partial", media+".part") }
func (c *Cache) have(media string) string { return filepath.Join(c.dir, "partial", media+".have") }

// Path returns the path of a complete, verified file and marks it used now.
func (c *Cache) Path(media string) (string, bool) {
	if !nodeproto.ValidMedia(media) {
		return "", false
	}
	p := c.file(media)
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	now := time.Now()
	os.Chtimes(p, now, now)
	return p, true
}

// Has reports whether a complete file is cached.
func (c *Cache) Has(media string) bool {
	if !nodeproto.ValidMedia(media) {
		return false
	}
	_, err := os.Stat(c.file(media))
	return err == nil
}

// Missing returns the chunk indices of media not yet received, starting the
// assembly if needed. A complete file has none.
func (c *Cache) Missing(media string, size int64) ([]int, error) {
	if err := checkRef(media, size); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Has(media) {
		return nil, nil
	}
	have, err := c.bitmap(media, size)
	if err != nil {
		return nil, err
	}
	var out []int
	for i, h := range have {
		if h == 0 {
			out = append(out, i)
		}
	}
	return out, nil
}

func checkRef(media string, size int64) error {
	if !nodeproto.ValidMedia(media) || size <= 0 || size > nodeproto.MaxMediaSize {
		return fmt.Errorf("cache: bad media reference %q size %d", media, size)
	}
	return nil
}

// bitmap loads or creates the per-chunk "have" map of a partial file.
func (c *Cache) bitmap(media string, size int64) ([]byte, error) {
	n := nodeproto.ChunkCount(size)
	b, err := os.ReadFile(c.have(media))
	if err == nil && len(b) == n {
		if st, err := os.Stat(c.part(media)); err == nil && st.Size() == size {
			return b, nil
		}
	}
	// New or inconsistent (another size, a crash mid-creation): start over.
	if err := c.ensureRoom(size); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(c.part(media), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, diskErr(err)
	}
	err = f.Truncate(size)
	f.Close()
	if err != nil {
		return nil, diskErr(err)
	}
	b = make([]byte, n)
	if err := os.WriteFile(c.have(media), b, 0o644); err != nil {
		return nil, diskErr(err)
	}
	return b, nil
}

// Put stores a verified chunk (nodeproto.UnmarshalChunk checked it). When it
// completes the file, the whole file is hashed; on a match it becomes
// available and complete is true; on a mismatch the partial file is thrown
// away and ErrHashMismatch returned, so the next Missing starts over.
func (c *Cache) Put(ch nodeproto.Chunk) (complete bool, err error) {
	if err := checkRef(ch.Media, ch.Size); err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Has(ch.Media) {
		return true, nil
	}
	have, err := c.bitmap(ch.Media, ch.Size)
	if err != nil {
		return false, err
	}
	if ch.Index >= len(have) {
		return false, ErrMismatch
	}
	if have[ch.Index] == 0 {
		f, err := os.OpenFile(c.part(ch.Media), os.O_RDWR, 0)
		if err != nil {
			return false, diskErr(err)
		}
		_, err = f.WriteAt(ch.Data, int64(ch.Index)*nodeproto.ChunkSize)
		if err == nil {
			err = f.Sync()
		}
		f.Close()
		if err != nil {
			return false, diskErr(err)
		}
		have[ch.Index] = 1
		// The have-map is written after the data is synced: a crash can only
		// lose the mark, never claim data that is not there.
		if err := os.WriteFile(c.have(ch.Media), have, 0o644); err != nil {
			return false, diskErr(err)
		}
	}
	for _, h := range have {
		if h == 0 {
			return false, nil
		}
	}
	return c.finish(ch.Media)
}

func (c *Cache) finish(media string) (bool, error) {
	f, err := os.Open(c.part(media))
	if err != nil {
		return false, diskErr(err)
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return false, diskErr(err)
	}
	if hex.EncodeToString(h.Sum(nil)) != media {
		os.Remove(c.part(media))
		os.Remove(c.have(media))
		return false, ErrHashMismatch
	}
	if err := os.Rename(c.part(media), c.file(media)); err != nil {
		return false, diskErr(err)
	}
	os.Remove(c.have(media))
	return true, nil
}

// Abandon drops a partial file.
func (c *Cache) Abandon(media string) {
	if !nodeproto.ValidMedia(media) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	os.Remove(c.part(media))
	os.Remove(c.have(media))
}

type entry struct {
	path string
	size int64
	used time.Time
}

func (c *Cache) entries() []entry {
	var out []entry
	for _, pat := range []string{"*.opus", "partial/*.part"} {
		files, _ := filepath.Glob(filepath.Join(c.dir, pat))
		for _, p := range files {
			if st, err := os.Stat(p); err == nil {
				out = append(out, entry{p, st.Size(), st.ModTime()})
			}
		}
	}
	return out
}

// Usage is the bytes held, complete and partial.
func (c *Cache) Usage() int64 {
	var n int64
	for _, e := range c.entries() {
		n += e.size
	}
	return n
}

// Keep lists media that eviction must not remove (needed by desired state
// or a pending command). It is replaced on every call.
func (c *Cache) Keep(media []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keep = map[string]bool{}
	for _, m := range media {
		c.keep[m] = true
	}
}

// ensureRoom evicts least recently used complete files not in the keep set
// until size more bytes fit under the bound and on the disk.
func (c *Cache) ensureRoom(size int64) error {
	es := c.entries()
	var used int64
	for _, e := range es {
		used += e.size
	}
	sort.Slice(es, func(i, j int) bool { return es[i].used.Before(es[j].used) })
	for _, e := range es {
		if used+size <= c.max && size < c.freeDisk() {
			return nil
		}
		media := filepath.Base(e.path)
		media = media[:len(media)-len(filepath.Ext(media))]
		if c.keep[media] {
			continue
		}
		if os.Remove(e.path) == nil {
			used -= e.size
			if filepath.Ext(e.path) == ".part" {
				os.Remove(c.have(media)) // an abandoned transfer
			}
		}
	}
	if used+size > c.max || size >= c.freeDisk() {
		return fmt.Errorf("%w: need %d bytes, cache holds %d of %d", ErrDiskFull, size, used, c.max)
	}
	return nil
}

// FreeDisk is the bytes free on the cache's file system.
func (c *Cache) FreeDisk() int64 { return c.freeDisk() }

func (c *Cache) freeDisk() int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(c.dir, &st); err != nil {
		return 1 << 62
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

func diskErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %v", ErrDiskFull, err)
	}
	return fmt.Errorf("cache: %w", err)
}
