package programme

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/registry/regtest"
	"github.com/communeradio/radio/controller/internal/schedule"
)

// The one resolver: revoked ones and ones enrolled after the occurrence are
// left out; a zone or node of another station is an error.
func TestResolve(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, schedule.Zone)
	reg, must := regtest.Open(t, func() time.Time { return now }), regtest.Must(t)
	regtest.Commune(t, reg, "a", "st-a", "st-b")
	at := now.Add(-time.Hour) // the occurrence, 07:00
	for id, since := range map[string]time.Time{"n1": at.Add(-time.Hour), "n2": at, "n-revoked": at.Add(-time.Hour), "n-late": at.Add(time.Minute)} {
		must(reg.CreateNode(ctx, registry.Node{ID: id, StationID: "st-a", CreatedAt: since}, []byte("h")))
	}
	must(reg.CreateNode(ctx, registry.Node{ID: "n-b", StationID: "st-b", CreatedAt: at.Add(-time.Hour)}, []byte("h")))
	must(reg.CreateZone(ctx, registry.Zone{ID: "z", StationID: "st-a", OffsetMS: 150}))
	must(reg.SetZoneNodes(ctx, "z", []string{"n1", "n-revoked", "n-late"}))
	must(reg.RevokeNode(ctx, "n-revoked")) // a member when revoked (the registry takes it out of its zones)
	must(reg.CreateZone(ctx, registry.Zone{ID: "z-b", StationID: "st-b"}))

	ms150 := 150 * time.Millisecond
	for _, tc := range []struct {
		name    string
		target  schedule.Target
		at      time.Time
		want    map[string]time.Duration
		wantErr bool
	}{
		{"commune", schedule.Target{Kind: schedule.TargetCommune}, at, map[string]time.Duration{"n1": 0, "n2": 0}, false},
		{"commune, any time", schedule.Target{Kind: schedule.TargetCommune}, time.Time{}, map[string]time.Duration{"n1": 0, "n2": 0, "n-late": 0}, false},
		{"zone", schedule.Target{Kind: schedule.TargetZone, IDs: []string{"z"}}, at, map[string]time.Duration{"n1": ms150}, false},
		{"nodes", schedule.Target{Kind: schedule.TargetNodes, IDs: []string{"n2", "n-revoked", "n-late"}}, at, map[string]time.Duration{"n2": 0}, false},
		{"zone of another station", schedule.Target{Kind: schedule.TargetZone, IDs: []string{"z-b"}}, at, nil, true},
		{"node of another station", schedule.Target{Kind: schedule.TargetNodes, IDs: []string{"n-b"}}, at, nil, true},
		{"unknown zone", schedule.Target{Kind: schedule.TargetZone, IDs: []string{"nope"}}, at, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := Load(ctx, reg, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := dir.Resolve("st-a", tc.target, tc.at)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v; want an error: %v", err, tc.wantErr)
			}
			if d := cmp.Diff(tc.want, got); d != "" && !tc.wantErr {
				t.Errorf("snapshot (-want +got):\n%s", d)
			}
		})
	}
}
