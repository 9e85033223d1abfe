// Package atomicfile writes files so that a crash or power cut leaves either
// the old content or the new, never a torn mix, and the new content is on
// disk when Write returns. The controller (signing keys) and the node (its
// state, its proof-of-play outbox) both keep small files whose loss costs
// security or proof; they share this one implementation so that none of them
// forgets the directory fsync that makes the rename itself durable.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// TempSuffix ends the name of the temporary file Write renames into place.
// One left behind is a write torn by a crash; readers may delete it.
const TempSuffix = ".tmp"

// Write writes b to path with permissions perm: into path+TempSuffix, fsynced,
// renamed over path, then the directory fsynced so the rename survives a
// power cut.
func Write(path string, b []byte, perm os.FileMode) error {
	tmp := path + TempSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("atomicfile: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("atomicfile: %w", err)
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs a directory, making renames and removals in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("atomicfile: sync %s: %w", dir, err)
	}
	return nil
}
