package cache

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"testing"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

func file(n int) ([]byte, string) {
	b := make([]byte, n)
	rand.Read(b)
	s := sha256.Sum256(b)
	return b, hex.EncodeToString(s[:])
}

func chunk(b []byte, media string, i int) nodeproto.Chunk {
	size := int64(len(b))
	off := i * nodeproto.ChunkSize
	return nodeproto.Chunk{Media: media, Index: i, Count: nodeproto.ChunkCount(size), Size: size,
		Data: b[off : off+nodeproto.ChunkLen(size, i)]}
}

func TestAssembleAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	b, media := file(3*nodeproto.ChunkSize + 100)
	c, _ := Open(dir, 0)
	miss, err := c.Missing(media, int64(len(b)))
	if err != nil || len(miss) != 4 {
		t.Fatalf("Missing = %v %v, want 4 chunks", miss, err)
	}
	c.Put(chunk(b, media, 2))
	c.Put(chunk(b, media, 0))
	// "Restart": a new Cache on the same dir asks only for what is missing.
	c2, _ := Open(dir, 0)
	miss, _ = c2.Missing(media, int64(len(b)))
	if len(miss) != 2 || miss[0] != 1 || miss[1] != 3 {
		t.Fatalf("Missing after reopen = %v, want [1 3]", miss)
	}
	if done, err := c2.Put(chunk(b, media, 1)); done || err != nil {
		t.Fatalf("Put = %v %v", done, err)
	}
	if done, err := c2.Put(chunk(b, media, 3)); !done || err != nil {
		t.Fatalf("last Put = %v %v, want complete", done, err)
	}
	p, ok := c2.Path(media)
	got, _ := os.ReadFile(p)
	if !ok || !bytes.Equal(got, b) {
		t.Fatal("assembled file differs")
	}
}

func TestHashMismatchStartsOver(t *testing.T) {
	b, _ := file(nodeproto.ChunkSize + 10)
	_, wrong := file(1)
	c, _ := Open(t.TempDir(), 0)
	c.Put(chunk(b, wrong, 0))
	_, err := c.Put(chunk(b, wrong, 1))
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("err = %v, want ErrHashMismatch", err)
	}
	if c.Has(wrong) {
		t.Fatal("mismatching file kept")
	}
	if miss, _ := c.Missing(wrong, int64(len(b))); len(miss) != 2 {
		t.Errorf("after mismatch Missing = %v, want all chunks", miss)
	}
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	c, _ := Open(t.TempDir(), 3*nodeproto.ChunkSize)
	var ids []string
	for i := 0; i < 3; i++ {
		b, media := file(nodeproto.ChunkSize)
		ids = append(ids, media)
		if done, err := c.Put(chunk(b, media, 0)); !done || err != nil {
			t.Fatalf("put %d: %v %v", i, done, err)
		}
	}
	c.Keep([]string{ids[0]})
	b, media := file(nodeproto.ChunkSize)
	if done, err := c.Put(chunk(b, media, 0)); !done || err != nil {
		t.Fatalf("put 4th: %v %v", done, err)
	}
	if !c.Has(ids[0]) || c.Has(ids[1]) || !c.Has(media) {
		t.Errorf("eviction: kept=%v oldest-unkept=%v new=%v; want true false true", c.Has(ids[0]), c.Has(ids[1]), c.Has(media))
	}
	// Everything kept and no room: a clear disk-full error.
	c.Keep([]string{ids[0], ids[2], media})
	b, m5 := file(2 * nodeproto.ChunkSize)
	if _, err := c.Put(chunk(b, m5, 0)); !errors.Is(err, ErrDiskFull) {
		t.Errorf("err = %v, want ErrDiskFull", err)
	}
}

func TestRejectsBadReference(t *testing.T) {
	c, _ := Open(t.TempDir(), 0)
	if _, err := c.Missing("../../etc/passwd", 10); err == nil {
		t.Error("path traversal accepted")
	}
	if _, ok := c.Path("../x"); ok {
		t.Error("Path accepted a bad id")
	}
}
