package outbox

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

func TestAppendAckReopen(t *testing.T) {
	dir := t.TempDir()
	o, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		ev, err := o.Append(nodeproto.Event{Type: nodeproto.EventStarted, ID: "c1", At: 1})
		if err != nil {
			t.Fatal(err)
		}
		if ev.Seq != uint64(i+1) {
			t.Fatalf("seq = %d, want %d", ev.Seq, i+1)
		}
	}
	if n := o.Ack([]uint64{1, 2, 2, 99}); n != 2 {
		t.Errorf("Ack removed %d, want 2", n)
	}
	// A torn temporary file from a crash is ignored and cleaned.
	os.WriteFile(filepath.Join(dir, "00000000000000000009.json.tmp"), []byte("{"), 0o644)
	o2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := o2.Pending(10)
	if len(p) != 3 || p[0].Seq != 3 || p[2].Seq != 5 {
		t.Fatalf("pending after reopen = %+v, want seqs 3..5", p)
	}
	ev, _ := o2.Append(nodeproto.Event{Type: nodeproto.EventFinished, ID: "c1", At: 2})
	if ev.Seq != 6 {
		t.Errorf("seq after reopen = %d, want 6", ev.Seq)
	}
	// Everything acked: numbering still continues after reopen.
	o2.Ack([]uint64{3, 4, 5, 6})
	o3, _ := Open(dir)
	if o3.Len() != 0 {
		t.Errorf("Len = %d, want 0", o3.Len())
	}
	if ev, _ := o3.Append(nodeproto.Event{Type: nodeproto.EventStarted, At: 3}); ev.Seq != 7 {
		t.Errorf("seq = %d, want 7", ev.Seq)
	}
}

func TestCorruptEventFileDropped(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "00000000000000000004.json"), []byte("not json"), 0o644)
	o, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if o.Len() != 0 {
		t.Errorf("corrupt file kept: Len = %d", o.Len())
	}
}
