package live

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/communeradio/radio/controller/internal/fleet"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/schedule"
)

// A relay's or live session's targets come from the programme's resolver:
// a revoked cluster is never sent to, whether named or part of the
// commune; the commune goes out once per zone that holds an enrolled
// cluster, with its offset, and to the clusters no zone holds one by one.
func TestTargetsDropRevoked(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, schedule.Zone)
	reg, err := registry.Open(filepath.Join(t.TempDir(), "registry.db"), registry.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(reg.CreateArea(ctx, registry.Area{ID: "p", Kind: "province", Name: "P"}))
	must(reg.CreateArea(ctx, registry.Area{ID: "a", ParentID: "p", Kind: "commune", Name: "A"}))
	for _, st := range []string{"st-a", "st-b"} {
		must(reg.CreateStation(ctx, registry.Station{ID: st, AreaID: "a", Name: st}))
	}
	for _, id := range []string{"n1", "n2", "n3", "n-revoked"} {
		must(reg.CreateNode(ctx, registry.Node{ID: id, StationID: "st-a", CreatedAt: now.Add(-time.Hour)}, []byte("h")))
	}
	must(reg.CreateNode(ctx, registry.Node{ID: "n-b", StationID: "st-b", CreatedAt: now.Add(-time.Hour)}, []byte("h")))
	must(reg.CreateZone(ctx, registry.Zone{ID: "z", StationID: "st-a", OffsetMS: 150}))
	must(reg.SetZoneNodes(ctx, "z", []string{"n1", "n2"}))
	must(reg.CreateZone(ctx, registry.Zone{ID: "z-gone", StationID: "st-a"}))
	must(reg.SetZoneNodes(ctx, "z-gone", []string{"n-revoked"}))
	must(reg.RevokeNode(ctx, "n-revoked"))

	zone := func(id string, ms int) Target {
		return Target{Target: fleet.Target{Zone: id}, Offset: time.Duration(ms) * time.Millisecond}
	}
	node := func(id string) Target { return Target{Target: fleet.Target{Node: id}} }
	for _, tc := range []struct {
		name    string
		target  schedule.Target
		want    []Target
		wantErr bool
	}{
		{"commune", schedule.Target{Kind: schedule.TargetCommune}, []Target{zone("z", 150), node("n3")}, false},
		{"named clusters", schedule.Target{Kind: schedule.TargetNodes, IDs: []string{"n3", "n-revoked"}}, []Target{node("n3")}, false},
		{"zones", schedule.Target{Kind: schedule.TargetZone, IDs: []string{"z", "z-gone"}}, []Target{zone("z", 150)}, false},
		{"only a revoked cluster", schedule.Target{Kind: schedule.TargetNodes, IDs: []string{"n-revoked"}}, nil, true},
		{"cluster of another station", schedule.Target{Kind: schedule.TargetNodes, IDs: []string{"n-b"}}, nil, true},
		{"unknown zone", schedule.Target{Kind: schedule.TargetZone, IDs: []string{"nope"}}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Targets(ctx, reg, "st-a", tc.target)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want an error: %v", err, tc.wantErr)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("targets (-want +got):\n%s", d)
			}
		})
	}
}
