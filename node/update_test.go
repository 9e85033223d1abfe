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

// On a packaged box the operator runs `sudo radio-node -rollback`, the
// packaged /usr/bin/radio-node, without the unit's RADIO_NODE_INSTALLED:
// the updates it rolls back are in the data folder's bin/ (the unit names
// it), not beside /usr/bin/radio-node.
func TestRollbackBinaryOfPackagedBox(t *testing.T) {
	data := t.TempDir()
	bin := filepath.Join(data, "bin", "radio-node")
	os.MkdirAll(filepath.Dir(bin), 0o750)
	os.WriteFile(bin, []byte("B"), 0o755)
	os.WriteFile(bin+".previous", []byte("A"), 0o755)
	if err := RollbackBinary(Config{DataDir: data}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(bin); string(b) != "A" {
		t.Errorf("installed binary is %q after the rollback, want A", b)
	}
}
