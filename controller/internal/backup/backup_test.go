package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
)

var quiet = slog.New(slog.DiscardHandler)

// unpack writes a tar stream into dir, as radioctl backup does.
func unpack(t *testing.T, b []byte, dir string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		os.MkdirAll(filepath.Dir(p), 0o750)
		data, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteVerifyRestore(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	data := t.TempDir()
	reg, err := registry.Open(filepath.Join(data, "registry.db"), registry.Options{Now: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	reg.CreateArea(ctx, registry.Area{ID: "p-79", Kind: "province", Name: "TP HCM"})
	reg.CreateArea(ctx, registry.Area{ID: "x-1", ParentID: "p-79", Kind: "commune", Name: "Xã"})
	reg.CreateStation(ctx, registry.Station{ID: "st-1", AreaID: "x-1", Name: "Đài"})
	if err := reg.CreateNode(ctx, registry.Node{ID: "n1", StationID: "st-1"}, []byte("hash")); err != nil {
		t.Fatal(err)
	}
	sha := strings.Repeat("ab", 32)
	files := map[string]string{
		"controller.key":            "seed",
		"mqtt-controller.secret":    "secret",
		"schedules/x.radio":         "station st-1\n",
		"media/ab/" + sha + ".opus": "OggS",
		"media/tmp/upload-1":        "half an upload",
		".backup-old/junk":          "junk",
	}
	for name, body := range files {
		p := filepath.Join(data, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o750)
		os.WriteFile(p, []byte(body), 0o600)
	}
	var buf bytes.Buffer
	m, err := Write(ctx, &buf, Source{Registry: reg, DataDir: data, Now: clock, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"controller.key", "mqtt-controller.secret", "schedules/x.radio", "media/ab/" + sha + ".opus", RegistryFile} {
		if _, ok := m.Files[want]; !ok {
			t.Errorf("backup lacks %s; has %v", want, m.Files)
		}
	}
	if len(m.Files) != 5 {
		t.Errorf("backup has %d files, want 5 (no temporary files, no live registry): %v", len(m.Files), m.Files)
	}

	dir := t.TempDir()
	unpack(t, buf.Bytes(), dir)
	if _, err := Verify(dir); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Restore refuses a folder with something in it.
	busy := t.TempDir()
	os.WriteFile(filepath.Join(busy, "registry.db"), []byte("live"), 0o600)
	if _, err := Restore(ctx, dir, busy, clock, quiet); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Restore into a folder with data: %v, want a refusal", err)
	}
	fresh := filepath.Join(t.TempDir(), "new")
	if _, err := Restore(ctx, dir, fresh, clock, quiet); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	got, err := registry.Open(filepath.Join(fresh, RegistryFile), registry.Options{Now: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	revs, _ := got.DesiredRevs(ctx)
	if revs["n1"] < now.UnixMilli() {
		t.Errorf("restored desired revision of n1 = %d, want at least %d", revs["n1"], now.UnixMilli())
	}
	if b, _ := os.ReadFile(filepath.Join(fresh, "controller.key")); string(b) != "seed" {
		t.Errorf("restored key = %q", b)
	}

	// A damaged file, a missing manifest, and a manifest naming a file
	// outside the folder are each refused.
	os.WriteFile(filepath.Join(dir, "controller.key"), []byte("sEed"), 0o600)
	if _, err := Verify(dir); err == nil || !strings.Contains(err.Error(), "controller.key is damaged") {
		t.Errorf("Verify of a damaged key: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "controller.key"), []byte("seed"), 0o600) // one fault at a time: Verify may check files in any order
	mb, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	var man Manifest
	json.Unmarshal(mb, &man)
	man.Files["../outside"] = File{}
	mb, _ = json.Marshal(man)
	os.WriteFile(filepath.Join(dir, ManifestFile), mb, 0o600)
	if _, err := Verify(dir); err == nil || !strings.Contains(err.Error(), "leaves the backup folder") {
		t.Errorf("Verify of a manifest naming ../outside: %v", err)
	}
	os.Remove(filepath.Join(dir, ManifestFile))
	if _, err := Verify(dir); err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Errorf("Verify without a manifest: %v", err)
	}
}
