package node

import (
	"os"
	"path/filepath"
	"testing"
)

// radio-node -rollback puts the binary the last update replaced back.
func TestRollbackBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "radio-node")
	os.WriteFile(bin, []byte("B"), 0o755)
	if err := RollbackBinary(Config{Binary: bin}); err == nil {
		t.Fatal("rolled back with no previous binary")
	}
	os.WriteFile(bin+".previous", []byte("A"), 0o755)
	if err := RollbackBinary(Config{Binary: bin}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(bin); string(b) != "A" {
		t.Errorf("installed binary is %q after the rollback, want A", b)
	}
}
