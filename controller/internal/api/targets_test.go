package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/communeradio/radio/controller/internal/fleet"
	"github.com/communeradio/radio/controller/internal/live"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

// Settings go to the nodes the programme's resolver gives: a zone's
// enrolled members; a revoked cluster is refused with a clear conflict
// (its desired state is not written) instead of being kept as a target.
func TestSettingsTargetsThroughResolver(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.tokenClient()
	if err := e.reg.CreateNode(ctx, registry.Node{ID: "n-r", StationID: "st-a", CreatedAt: e.clock.Now()}, []byte("hash")); err != nil {
		t.Fatal(err)
	}
	if err := e.reg.RevokeNode(ctx, "n-r"); err != nil {
		t.Fatal(err)
	}
	if r := e.do(admin, "POST", "/api/v1/amp", map[string]any{"zone": "z-a", "value": "auto"}); r.status != http.StatusAccepted {
		t.Errorf("amplifier of zone z-a: %d %s, want 202", r.status, r.body)
	}
	if r := e.do(admin, "POST", "/api/v1/amp", map[string]any{"node": "n-r", "value": "auto"}); r.status != http.StatusConflict {
		t.Errorf("amplifier of the revoked n-r: %d %s, want 409", r.status, r.body)
	}
}

// A relay's or live session's targets (live.Targets) come from the same
// resolver: a revoked cluster is never sent to, whether named or part of
// the commune; the commune goes out once per zone that holds an enrolled
// cluster, with its offset, and to the clusters no zone holds one by one.
func TestLiveTargetsDropRevoked(t *testing.T) {
	e := newEnv(t) // st-a: n-a in zone z-a
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"n-2", "n-gone"} {
		must(e.reg.CreateNode(ctx, registry.Node{ID: id, StationID: "st-a", CreatedAt: e.clock.Now()}, []byte("hash")))
	}
	must(e.reg.CreateZone(ctx, registry.Zone{ID: "z-gone", StationID: "st-a", OffsetMS: 150}))
	must(e.reg.SetZoneNodes(ctx, "z-gone", []string{"n-gone"}))
	must(e.reg.RevokeNode(ctx, "n-gone"))

	zone := live.Target{Target: fleet.Target{Zone: "z-a"}}
	node := func(id string) live.Target { return live.Target{Target: fleet.Target{Node: id}} }
	for _, tc := range []struct {
		name    string
		target  schedule.Target
		want    []live.Target
		wantErr bool
	}{
		{"commune", schedule.Target{Kind: schedule.TargetCommune}, []live.Target{zone, node("n-2")}, false},
		{"named clusters", schedule.Target{Kind: schedule.TargetNodes, IDs: []string{"n-2", "n-gone"}}, []live.Target{node("n-2")}, false},
		{"zones", schedule.Target{Kind: schedule.TargetZone, IDs: []string{"z-a", "z-gone"}}, []live.Target{zone}, false},
		{"only a revoked cluster", schedule.Target{Kind: schedule.TargetNodes, IDs: []string{"n-gone"}}, nil, true},
		{"cluster of another station", schedule.Target{Kind: schedule.TargetNodes, IDs: []string{"n-b"}}, nil, true},
		{"unknown zone", schedule.Target{Kind: schedule.TargetZone, IDs: []string{"nope"}}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := live.Targets(ctx, e.reg, "st-a", tc.target)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want an error: %v", err, tc.wantErr)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("targets (-want +got):\n%s", d)
			}
		})
	}
}
