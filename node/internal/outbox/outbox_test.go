package outbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

func ack(epoch string, seqs ...uint64) nodeproto.Ack {
	return nodeproto.Ack{Epoch: &epoch, Seqs: seqs}
}

func mustOpen(t *testing.T, dir string) *Outbox {
	t.Helper()
	o, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func appendN(t *testing.T, o *Outbox, n int) []nodeproto.Event {
	t.Helper()
	var out []nodeproto.Event
	for i := 0; i < n; i++ {
		ev, err := o.Append(nodeproto.Event{Type: nodeproto.EventStarted, ID: "c1", At: int64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func TestAppendAckReopen(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir)
	epoch := o.Epoch()
	if !nodeproto.ValidEpoch(epoch) || len(epoch) != 16 || o.Problem() != "" {
		t.Fatalf("new outbox: epoch %q problem %q", epoch, o.Problem())
	}
	for i, ev := range appendN(t, o, 5) {
		if ev.Seq != uint64(i+1) || ev.Epoch != epoch {
			t.Fatalf("event %d = epoch %q seq %d, want %q %d", i, ev.Epoch, ev.Seq, epoch, i+1)
		}
	}
	if n := o.Ack(ack(epoch, 1, 2, 2, 99)); n != 2 {
		t.Errorf("Ack removed %d, want 2", n)
	}
	if n := o.Ack(ack("other", 3, 4)); n != 0 {
		t.Errorf("Ack of another epoch removed %d, want 0", n)
	}
	// A torn temporary file from a crash is ignored and cleaned.
	os.WriteFile(filepath.Join(dir, epoch+"-00000000000000000009.json.tmp"), []byte("{"), 0o644)
	o2 := mustOpen(t, dir)
	if o2.Epoch() != epoch || o2.Problem() != "" {
		t.Errorf("reopen: epoch %q problem %q, want %q and none", o2.Epoch(), o2.Problem(), epoch)
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
	o2.Ack(ack(epoch, 3, 4, 5, 6))
	o3 := mustOpen(t, dir)
	if o3.Len() != 0 {
		t.Errorf("Len = %d, want 0", o3.Len())
	}
	if ev, _ := o3.Append(nodeproto.Event{Type: nodeproto.EventStarted, At: 3}); ev.Seq != 7 || ev.Epoch != epoch {
		t.Errorf("event = %q/%d, want %q/7", ev.Epoch, ev.Seq, epoch)
	}
	if _, err := os.Stat(filepath.Join(dir, epoch+"-00000000000000000009.json.tmp")); !os.IsNotExist(err) {
		t.Errorf("torn temporary file left: %v", err)
	}
}

// A lost or damaged counter never makes the outbox reuse a (epoch, seq):
// it starts a new epoch, says why, keeps the records it still has, and an
// acknowledgement of the new epoch's numbers leaves the old ones alone.
func TestDamagedCounterStartsNewEpoch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(dir string)
		want   string
	}{
		{"seq file garbage", func(dir string) { os.WriteFile(filepath.Join(dir, "seq"), []byte("\x00\x00\x13"), 0o644) }, "counter"},
		{"seq file empty", func(dir string) { os.WriteFile(filepath.Join(dir, "seq"), nil, 0o644) }, "counter"},
		{"seq file lost", func(dir string) { os.Remove(filepath.Join(dir, "seq")) }, "counter"},
		{"seq file behind", func(dir string) { os.WriteFile(filepath.Join(dir, "seq"), []byte("1"), 0o644) }, "behind"},
		{"epoch file garbage", func(dir string) { os.WriteFile(filepath.Join(dir, "epoch"), []byte("Ü?"), 0o644) }, "epoch unreadable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			o := mustOpen(t, dir)
			old := o.Epoch()
			appendN(t, o, 3)
			o.Ack(ack(old, 1))
			tc.damage(dir)

			o2 := mustOpen(t, dir)
			if o2.Epoch() == old || o2.Epoch() == "" {
				t.Fatalf("epoch after damage = %q, want a new one (old %q)", o2.Epoch(), old)
			}
			if !strings.Contains(o2.Problem(), tc.want) {
				t.Errorf("Problem = %q, want it to mention %q", o2.Problem(), tc.want)
			}
			ev, err := o2.Append(nodeproto.Event{Type: nodeproto.EventFailed, ID: "c2", At: 9})
			if err != nil {
				t.Fatal(err)
			}
			if ev.Epoch != o2.Epoch() || ev.Seq != 1 {
				t.Errorf("new event = %q/%d, want %q/1", ev.Epoch, ev.Seq, o2.Epoch())
			}
			// Old records 2 and 3 are still pending in their own epoch, first.
			p := o2.Pending(10)
			if len(p) < 2 || p[0].Epoch != old || p[0].Seq != 2 || p[1].Seq != 3 {
				t.Fatalf("pending = %+v, want old epoch's 2 and 3 first", p)
			}
			// An ack of the new epoch's seq 2 and 3 does not touch the old ones.
			o2.Ack(ack(o2.Epoch(), 2, 3))
			if n := len(o2.Pending(10)); n != len(p) {
				t.Errorf("an ack of the new epoch removed old records: %d pending, want %d", n, len(p))
			}
			if n := o2.Ack(ack(old, 2, 3)); n != 2 {
				t.Errorf("ack of the old epoch removed %d, want 2", n)
			}
		})
	}
}

func TestCorruptRecordKeptAside(t *testing.T) {
	dir := t.TempDir()
	o := mustOpen(t, dir)
	epoch := o.Epoch()
	appendN(t, o, 2)
	name := epoch + "-00000000000000000002.json"
	os.WriteFile(filepath.Join(dir, name), []byte("not json"), 0o644)
	o2 := mustOpen(t, dir)
	if o2.Len() != 1 {
		t.Errorf("Len = %d, want 1 (the readable record)", o2.Len())
	}
	if !strings.Contains(o2.Problem(), "unreadable outbox records") {
		t.Errorf("Problem = %q, want it to report the unreadable record", o2.Problem())
	}
	if b, err := os.ReadFile(filepath.Join(dir, "corrupt", name)); err != nil || string(b) != "not json" {
		t.Errorf("corrupt record not kept aside: %q %v", b, err)
	}
	// Its number is not reused: the counter is intact.
	if ev, _ := o2.Append(nodeproto.Event{Type: nodeproto.EventStarted, At: 5}); ev.Seq != 3 || ev.Epoch != epoch {
		t.Errorf("next event = %q/%d, want %q/3", ev.Epoch, ev.Seq, epoch)
	}
}

// An outbox written before epochs keeps its records (sent without epoch)
// and starts an epoch for new ones, quietly: nothing was lost.
func TestOutboxFromBeforeEpochs(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "seq"), []byte("42"), 0o644)
	os.WriteFile(filepath.Join(dir, "00000000000000000042.json"), []byte(`{"seq":42,"type":"started","id":"c1","at":1}`), 0o644)
	o := mustOpen(t, dir)
	if o.Problem() != "" || o.Epoch() == "" {
		t.Fatalf("upgrade: problem %q epoch %q", o.Problem(), o.Epoch())
	}
	ev, _ := o.Append(nodeproto.Event{Type: nodeproto.EventFinished, ID: "c1", At: 2})
	p := o.Pending(10)
	if len(p) != 2 || p[0].Epoch != "" || p[0].Seq != 42 || p[1] != ev {
		t.Fatalf("pending = %+v, want the old record, then %+v", p, ev)
	}
	// The ack of an old controller (no epoch field) still drains it.
	if n := o.Ack(nodeproto.Ack{Seqs: []uint64{42}}); n != 1 {
		t.Errorf("epoch-less ack removed %d, want 1", n)
	}
	if n := o.Ack(ack("", ev.Seq)); n != 0 {
		t.Errorf("ack of epoch \"\" removed %d records of epoch %q", n, ev.Epoch)
	}
}
