package desired

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/registry/regtest"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// sender stands in for the fleet: it records what it was asked to send.
type sender struct {
	mu   sync.Mutex
	sent map[string]int
	held map[string]int
	last map[string]nodeproto.Desired
}

func (s *sender) SendDesired(ctx context.Context, d nodeproto.Desired) error {
	if err := d.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent[d.Node]++
	s.last[d.Node] = d
	return nil
}

func (s *sender) KeyID() string { return "k1" }

func (s *sender) Held(node string, d nodeproto.Desired) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[node]++
}

func (s *sender) counts() (sent, held map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sent, held = map[string]int{}, map[string]int{}
	for k, v := range s.sent {
		sent[k] = v
	}
	for k, v := range s.held {
		held[k] = v
	}
	clear(s.sent)
	clear(s.held)
	return sent, held
}

// start runs a publisher as the controller does at start.
func start(t *testing.T, reg *registry.DB, s *sender) *Publisher {
	t.Helper()
	p := New(Config{Registry: reg, Fleet: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.Start(ctx)
	go p.Run(ctx)
	return p
}

// A first start publishes every node once its slots are planned; a
// restart sends again only to nodes that did not say they applied it or
// whose desired state changed; a revoked node gets nothing.
func TestPublishOnlyWhereChanged(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	reg, must := regtest.Open(t, func() time.Time { return now }), regtest.Must(t)
	regtest.Commune(t, reg, "a", "st")
	for _, id := range []string{"n1", "n2", "n3"} {
		must(reg.CreateNode(ctx, registry.Node{ID: id, StationID: "st"}, []byte("h")))
	}
	must(reg.RevokeNode(ctx, "n3"))
	slot := nodeproto.Slot{ID: "tin-20261207-090000", Media: fmt.Sprintf("%064x", 1), Size: 1000, PlayAt: now.Add(time.Hour).UnixMilli()}
	s := &sender{sent: map[string]int{}, held: map[string]int{}, last: map[string]nodeproto.Desired{}}

	p := start(t, reg, s)
	p.Hand(map[string]Plan{"n1": {Slots: []nodeproto.Slot{slot}, Until: now.Add(7 * 24 * time.Hour)}})
	p.Wait()
	sent, _ := s.counts()
	if d := cmp.Diff(map[string]int{"n1": 1, "n2": 1}, sent); d != "" {
		t.Errorf("first start published (-want +got):\n%s", d)
	}
	if got := s.last["n1"]; len(got.Schedule) != 1 || len(got.Content) != 1 || got.HorizonUntil == 0 {
		t.Errorf("n1's desired state: %+v", got)
	}

	// n1 says it applied its revision; n2 never did.
	syncs, err := reg.DesiredSyncs(ctx)
	must(err)
	st, _ := json.Marshal(nodeproto.State{Node: "n1", Online: true, DesiredRev: syncs["n1"].Rev})
	must(reg.UpsertNodeState(ctx, registry.NodeState{NodeID: "n1", Online: true, State: st}))

	p = start(t, reg, s)
	p.Hand(map[string]Plan{"n1": {Slots: []nodeproto.Slot{slot}, Until: now.Add(8 * 24 * time.Hour)}}) // the same slots, a later horizon
	p.Wait()
	sent, held := s.counts()
	if d := cmp.Diff(map[string]int{"n2": 1}, sent); d != "" {
		t.Errorf("restart published (-want +got):\n%s", d)
	}
	if held["n1"] == 0 {
		t.Error("n1 was neither published nor recorded as holding its desired state (its fetches would be refused)")
	}

	// A change of n1's slots, and of n2's volume, go out.
	slot2 := slot
	slot2.ID, slot2.PlayAt = "tin-20261207-100000", slot.PlayAt+3_600_000
	p.Hand(map[string]Plan{"n1": {Slots: []nodeproto.Slot{slot, slot2}}})
	must(reg.SetNodeVolume(ctx, []string{"n2"}, 40))
	must(p.Publish(ctx, "n2"))
	must(p.Publish(ctx, "n3"))
	p.Wait()
	sent, _ = s.counts()
	if d := cmp.Diff(map[string]int{"n1": 1, "n2": 1}, sent); d != "" {
		t.Errorf("after changes published (-want +got):\n%s", d)
	}
}
