package schedule

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A schedule cannot name a recording outside its own folder: through the
// API that would let a token holder probe or ingest any file of the host.
func TestFileSourceStaysInFolder(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "secret.opus"), []byte("x"), 0o644)
	src := "station st-1\nbulletin b\n  title T\n  source file ../secret.opus\n  target commune\n  daily 06:30\n"
	_, err := Parse(filepath.Join(dir, "sub", "x.radio"), []byte(src))
	if err == nil || !strings.Contains(err.Error(), "x.radio:4:") || !strings.Contains(err.Error(), "no ..") {
		t.Fatalf("parse = %v, want a file:line error refusing ..", err)
	}
}
