package fleet

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// A node's heard measurement is stored as sent; one out of range (a
// correlation of 7, a level above full scale, numbers without a verdict) is
// acknowledged but not stored, and counted.
func TestHeardStoredAndOutOfRangeRefused(t *testing.T) {
	e := newEnv(t, nil)
	a1 := e.connect("a1")
	now := e.clock.Now().Add(-time.Minute)
	media := fmt.Sprintf("%064x", 3)
	ev := func(seq uint64, heard *bool, corr, db float64) nodeproto.Event {
		return nodeproto.Event{Seq: seq, Type: nodeproto.EventFinished, ID: "s-1", Media: media, At: now.UnixMilli(), PlayedMS: 1000,
			Priority: "normal", Heard: heard, HeardCorr: new(corr), HeardDB: new(db), HeardBgDB: new(-60.0)}
	}
	a1.publish(nodeproto.LeafEvents, nodeproto.Events{Node: "a1", Events: []nodeproto.Event{
		ev(1, new(true), 0.93, -21.5),
		ev(2, new(false), 0.02, -58.1),
		ev(3, new(true), 7, -21.5),
		ev(4, new(true), 0.9, 3),
		ev(5, nil, 0.9, -20),
		{Seq: 6, Type: nodeproto.EventFinished, ID: "s-1", Media: media, At: now.UnixMilli(), PlayedMS: 1000}, // no capture
	}})
	if ack := a1.firstAck(); !slices.Equal(ack.Seqs, []uint64{1, 2, 3, 4, 5, 6}) {
		t.Errorf("acked %v, want every seq (refused ones too, so the outbox moves on)", ack.Seqs)
	}
	evs, err := e.reg.ListPlayEvents(e.ctx, registry.PlayFilter{NodeID: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint64]registry.PlayEvent{}
	for _, r := range evs {
		got[r.Seq] = r
	}
	if len(got) != 3 {
		t.Fatalf("stored %d records, want seqs 1, 2 and 6: %+v", len(got), evs)
	}
	if r := got[1]; r.Heard == nil || !*r.Heard || *r.HeardCorr != 0.93 || *r.HeardDB != -21.5 || *r.HeardBgDB != -60 {
		t.Errorf("seq 1 stored as %+v, want heard at 0.93, -21.5 dBFS over -60", r)
	}
	if r := got[2]; r.Heard == nil || *r.Heard {
		t.Errorf("seq 2 stored as %+v, want not heard", r)
	}
	if r := got[6]; r.Heard != nil || r.HeardCorr != nil {
		t.Errorf("seq 6 (no capture) stored as %+v, want not measured", r)
	}
	if st := e.fl.Stats(); st.Refused[RefusedEventInvalid] != 3 {
		t.Errorf("refused = %v, want 3 invalid", st.Refused)
	}
}

// firstAck waits for the node's first Ack, its seqs sorted.
func (n *node) firstAck() nodeproto.Ack {
	n.waitFor("an ack", func(m map[string][][]byte) bool { return len(m[nodeproto.LeafAck]) > 0 })
	var ack nodeproto.Ack
	n.mu.Lock()
	json.Unmarshal(n.msgs[nodeproto.LeafAck][0], &ack)
	n.mu.Unlock()
	slices.Sort(ack.Seqs)
	return ack
}
