// Package backup copies a running controller's data (the registry, the
// recordings, the signing keys, the programmes and the secret files) into
// one tar stream that is consistent while nodes report, and restores such
// a copy into a fresh data folder. A controller that loses its disk loses
// a commune's proof of play; this is how it gets it back.
//
// The stream holds, in this order: schedules/*.radio, the data folder's
// own files (controller.key, controller-next.key, mqtt-controller.secret,
// admin.token...), registry.db, media/xx/<sha256>.opus, and last
// manifest.json with the size and sha256 of every file. The order makes
// the copy consistent without stopping anything: a programme is saved
// only once its recordings are in the registry, and a recording's file is
// written before its row, so each part refers only to what a later part
// holds.
package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
)

// Names inside a backup.
const (
	RegistryFile = "registry.db"
	ManifestFile = "manifest.json"
	MediaDir     = "media"
	SchedulesDir = "schedules"
)

// Source is what a backup copies.
type Source struct {
	Registry     *registry.DB
	DataDir      string // the controller's data folder: its own files, media/
	SchedulesDir string // the programme files (default DataDir/schedules)
	Version      string
	Now          func() time.Time
}

// Manifest describes a backup; it is the stream's last file, so a copy cut
// short has none.
type Manifest struct {
	CreatedAt time.Time       `json:"created_at"`
	Version   string          `json:"controller_version"`
	Schema    int             `json:"registry_schema"`
	Files     map[string]File `json:"files"` // by slash-separated name
}

// File is one file of a backup.
type File struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Write streams a backup of src to w.
func Write(ctx context.Context, w io.Writer, src Source) (Manifest, error) {
	if src.SchedulesDir == "" {
		src.SchedulesDir = filepath.Join(src.DataDir, SchedulesDir)
	}
	m := Manifest{CreatedAt: src.Now().UTC(), Version: src.Version, Files: map[string]File{}}
	var err error
	if m.Schema, err = src.Registry.SchemaVersion(ctx); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	tw := tar.NewWriter(w)
	add := func(name, path string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := addFile(tw, name, path, m.CreatedAt)
		if err != nil {
			return fmt.Errorf("backup: %s: %w", name, err)
		}
		m.Files[name] = f
		return nil
	}
	// 1. Programmes.
	progs, _ := filepath.Glob(filepath.Join(src.SchedulesDir, "*.radio"))
	// With each, the changes waiting for a leader and their comments.
	reviews, _ := filepath.Glob(filepath.Join(src.SchedulesDir, "*.radio.review"))
	for _, p := range append(progs, reviews...) {
		if err := add(SchedulesDir+"/"+filepath.Base(p), p); err != nil {
			return m, err
		}
	}
	// 2. The data folder's own files: keys, secrets, the scheduler's mark.
	ents, err := os.ReadDir(src.DataDir)
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !ownFile(e.Name()) {
			continue
		}
		if err := add(e.Name(), filepath.Join(src.DataDir, e.Name())); err != nil {
			return m, err
		}
	}
	// 3. The registry, as one read transaction saw it.
	tmp, err := os.MkdirTemp(src.DataDir, ".backup-")
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	snap := filepath.Join(tmp, RegistryFile)
	if err := src.Registry.Snapshot(ctx, snap); err != nil {
		return m, err
	}
	if err := add(RegistryFile, snap); err != nil {
		return m, err
	}
	os.Remove(snap)
	// 4. Recordings: every one the registry copy can name is on disk.
	mediaRoot := filepath.Join(src.DataDir, MediaDir)
	var files []string
	err = filepath.WalkDir(mediaRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != mediaRoot && d.Name() == "tmp" {
			return filepath.SkipDir // uploads being converted
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".opus") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return m, fmt.Errorf("backup: media: %w", err)
	}
	sort.Strings(files)
	for _, p := range files {
		rel, _ := filepath.Rel(src.DataDir, p)
		if err := add(filepath.ToSlash(rel), p); err != nil {
			return m, err
		}
	}
	// 5. The manifest, last.
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := tw.WriteHeader(&tar.Header{Name: ManifestFile, Mode: 0o600, Size: int64(len(b)), ModTime: m.CreatedAt, Typeflag: tar.TypeReg}); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	if _, err := tw.Write(b); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	return m, tw.Close()
}

// ownFile reports whether a file at the top of the data folder belongs in
// a backup: everything but the live registry (copied through Snapshot)
// and temporary files.
func ownFile(name string) bool {
	return !strings.HasPrefix(name, RegistryFile) && !strings.HasPrefix(name, ".") && !strings.HasSuffix(name, ".tmp")
}

// addFile copies one file into the stream. The size written in the header
// is the file's when opened; a file that changes meanwhile fails the
// backup rather than giving a torn copy.
func addFile(tw *tar.Writer, name, path string, mod time.Time) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return File{}, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: st.Size(), ModTime: mod, Typeflag: tar.TypeReg}); err != nil {
		return File{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), f)
	if err != nil {
		return File{}, err
	}
	if n != st.Size() {
		return File{}, fmt.Errorf("changed while being copied (%d bytes, then %d)", st.Size(), n)
	}
	return File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}
