package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
)

// Verify reads the manifest of the backup in dir and checks that every
// file it lists is there with its size and sha256.
func Verify(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return m, fmt.Errorf("backup %s: no %s: not a backup, or one cut short", dir, ManifestFile)
	} else if err != nil {
		return m, fmt.Errorf("backup %s: %w", dir, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("backup %s: %s: %w", dir, ManifestFile, err)
	}
	if _, ok := m.Files[RegistryFile]; !ok {
		return m, fmt.Errorf("backup %s: the manifest lists no %s", dir, RegistryFile)
	}
	for name, want := range m.Files {
		if !safeName(name) {
			return m, fmt.Errorf("backup %s: file name %q leaves the backup folder", dir, name)
		}
		got, err := hashFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return m, fmt.Errorf("backup %s: %w", dir, err)
		}
		if got != want {
			return m, fmt.Errorf("backup %s: %s is damaged: %d bytes sha256 %s, the manifest says %d bytes sha256 %s", dir, name, got.Size, got.SHA256, want.Size, want.SHA256)
		}
	}
	return m, nil
}

// safeName accepts the relative, clean, slash-separated names a backup
// writes, and nothing that could step out of a folder.
func safeName(name string) bool {
	return name != "" && name == path.Clean(name) && filepath.IsLocal(filepath.FromSlash(name))
}

func hashFile(p string) (File, error) {
	f, err := os.Open(p)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, err
	}
	return File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Restore checks the backup in dir and puts it into dataDir, which must
// be empty or not exist: a restore never mixes with live data. The
// programmes go to dataDir/schedules. The restored registry is migrated,
// checked (integrity_check), and every node's desired-state revision is
// raised to now in unix milliseconds, above any the lost controller can
// have sent after the backup, so that the nodes accept the restored
// controller's next desired state instead of refusing it as replayed.
func Restore(ctx context.Context, dir, dataDir string, now func() time.Time, log *slog.Logger) (Manifest, error) {
	m, err := Verify(dir)
	if err != nil {
		return m, err
	}
	if ents, err := os.ReadDir(dataDir); err == nil && len(ents) > 0 {
		return m, fmt.Errorf("restore: %s is not empty: restore into a fresh data folder (then start the controller with -data on it)", dataDir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return m, fmt.Errorf("restore: %w", err)
	}
	names := make([]string, 0, len(m.Files))
	for name := range m.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := copyFile(filepath.Join(dir, filepath.FromSlash(name)), filepath.Join(dataDir, filepath.FromSlash(name))); err != nil {
			return m, fmt.Errorf("restore: %s: %w", name, err)
		}
	}
	reg, err := registry.Open(filepath.Join(dataDir, RegistryFile), registry.Options{Logger: log, Now: now})
	if err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	defer reg.Close()
	if err := reg.IntegrityCheck(ctx); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	if err := reg.RaiseDesiredRevs(ctx, now().UnixMilli()); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	log.Info("backup restored", "from", dir, "into", dataDir, "made", m.CreatedAt, "files", len(m.Files))
	return m, nil
}

// copyFile copies src to dst (new), synced to disk with its folder.
func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
