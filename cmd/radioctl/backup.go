package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// backupFile is one file of a backup as its manifest lists it.
type backupFile struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// backup asks the controller for a backup (POST /api/v1/backup, a tar
// stream) and unpacks it into dir, a new or empty folder. Every file is
// checked against the manifest that ends the stream: a stream cut short,
// or a file that differs, is an error, never a silently partial backup.
func (c *client) backup(dir string) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("backup: %s is not empty: give a new folder", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	req, err := http.NewRequest("POST", c.server+"/api/v1/backup", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the controller at %s (is it running?): %w", c.server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return httpError(resp.StatusCode, b)
	}
	got := map[string]backupFile{}
	var manifest struct {
		CreatedAt time.Time             `json:"created_at"`
		Schema    int                   `json:"registry_schema"`
		Files     map[string]backupFile `json:"files"`
	}
	var total int64
	tr := tar.NewReader(resp.Body)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("backup: the stream broke off (%v): %s is incomplete", err, dir)
		}
		if h.Typeflag != tar.TypeReg || !filepath.IsLocal(filepath.FromSlash(h.Name)) {
			return fmt.Errorf("backup: unexpected entry %q in the stream", h.Name)
		}
		if h.Name == "manifest.json" {
			b, err := io.ReadAll(io.LimitReader(tr, 64<<20))
			if err != nil {
				return fmt.Errorf("backup: manifest: %w", err)
			}
			if err := json.Unmarshal(b, &manifest); err != nil {
				return fmt.Errorf("backup: manifest: %w", err)
			}
			if err := os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o600); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			continue
		}
		f, err := writeNew(filepath.Join(dir, filepath.FromSlash(h.Name)), tr)
		if err != nil {
			return fmt.Errorf("backup: %s: %w", h.Name, err)
		}
		got[h.Name] = f
		total += f.Size
	}
	if manifest.Files == nil {
		return fmt.Errorf("backup: the stream ended without its manifest: %s is incomplete", dir)
	}
	for name, want := range manifest.Files {
		if got[name] != want {
			return fmt.Errorf("backup: %s arrived as %+v, the manifest says %+v", name, got[name], want)
		}
	}
	if len(got) != len(manifest.Files) {
		return fmt.Errorf("backup: %d files arrived, the manifest lists %d", len(got), len(manifest.Files))
	}
	fmt.Fprintf(c.out, "backup of %s made %s: %d files, %.1f MB, registry schema %d, in %s\n",
		c.server, manifest.CreatedAt.In(vn).Format("2006-01-02 15:04:05"), len(got), float64(total)/1e6, manifest.Schema, dir)
	fmt.Fprintf(c.out, "restore: radio-controller -restore %s -data NEWDATADIR\n", dir)
	return nil
}

// writeNew writes r to a new file (synced), returning its size and sha256.
func writeNew(path string, r io.Reader) (backupFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return backupFile{}, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return backupFile{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return backupFile{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, err
}
