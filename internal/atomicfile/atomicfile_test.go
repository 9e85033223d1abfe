package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesWholeFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := Write(p, []byte("first, longer content"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "second" {
		t.Fatalf("content = %q %v, want %q", b, err, "second")
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(p + TempSuffix); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestWriteFailureKeepsOldContent(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := Write(p, []byte("good"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory where the temporary file must go makes the write fail
	// before anything touches the real file.
	if err := os.Mkdir(p+TempSuffix, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("new"), 0o644); err == nil {
		t.Fatal("Write succeeded with its temporary path blocked")
	}
	if b, _ := os.ReadFile(p); string(b) != "good" {
		t.Errorf("content after a failed write = %q, want %q", b, "good")
	}
	if err := Write(filepath.Join(dir, "missing", "f"), nil, 0o644); err == nil {
		t.Error("Write into a missing directory succeeded")
	}
}
