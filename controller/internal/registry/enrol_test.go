package registry

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEnrolCodeRedeemedOnce(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)
	if err := db.CreateZone(ctx, Zone{ID: "z2", StationID: "st-1"}); err != nil {
		t.Fatal(err)
	}
	now := testNow().Truncate(time.Millisecond)
	code := EnrolCode{ID: "e-1", Node: Node{ID: "n9", StationID: "st-1", Name: "Cụm chợ", Lat: 10.8, Lon: 106.6, Zones: []string{"z1", "z2"}},
		CreatedAt: now, CreatedBy: "can.bo", ExpiresAt: now.Add(24 * time.Hour)}
	hash := []byte("hash-of-the-code")
	if err := db.CreateEnrolCode(ctx, code, hash); err != nil {
		t.Fatal(err)
	}
	// A second code for the same cluster, or one for an existing cluster,
	// or one naming another station's zone, is refused.
	for name, c := range map[string]EnrolCode{
		"same node":       {ID: "e-2", Node: Node{ID: "n9", StationID: "st-1"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		"existing node":   {ID: "e-3", Node: Node{ID: "n1", StationID: "st-1"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		"missing zone":    {ID: "e-4", Node: Node{ID: "n8", StationID: "st-1", Zones: []string{"nope"}}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		"reserved id":     {ID: "e-5", Node: Node{ID: "controller-x", StationID: "st-1"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		"missing station": {ID: "e-6", Node: Node{ID: "n7", StationID: "st-9"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
	} {
		if err := db.CreateEnrolCode(ctx, c, []byte("other-"+name)); err == nil {
			t.Errorf("%s: code accepted", name)
		}
	}

	if _, err := db.RedeemEnrolCode(ctx, []byte("wrong"), now, "10.0.0.9", []byte("secret-hash")); !errors.Is(err, ErrCodeUnknown) {
		t.Errorf("unknown code: %v, want ErrCodeUnknown", err)
	}
	got, err := db.RedeemEnrolCode(ctx, hash, now.Add(time.Hour), "10.0.0.9", []byte("secret-hash"))
	if err != nil {
		t.Fatal(err)
	}
	if got.UsedFrom != "10.0.0.9" || got.Node.ID != "n9" {
		t.Errorf("redeemed %+v", got)
	}
	n, err := db.GetNode(ctx, "n9")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"z1", "z2"}, n.Zones); d != "" || n.Name != "Cụm chợ" || n.StationID != "st-1" {
		t.Errorf("enrolled node %+v, zones (-want +got):\n%s", n, d)
	}
	if h, revoked, _ := db.NodeSecret(ctx, "n9"); string(h) != "secret-hash" || revoked {
		t.Errorf("node secret %q revoked=%v", h, revoked)
	}
	_, err = db.RedeemEnrolCode(ctx, hash, now.Add(2*time.Hour), "10.0.0.10", []byte("other"))
	if !errors.Is(err, ErrCodeUsed) {
		t.Errorf("second use: %v, want ErrCodeUsed", err)
	}
	if h, _, _ := db.NodeSecret(ctx, "n9"); string(h) != "secret-hash" {
		t.Errorf("a refused second use changed the secret to %q", h)
	}
	if err := db.DeleteEnrolCode(ctx, "e-1"); err == nil {
		t.Error("a used code was deleted")
	}

	// Expiry: a code at its expiry instant is refused and creates nothing.
	late := EnrolCode{ID: "e-7", Node: Node{ID: "n7", StationID: "st-1"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateEnrolCode(ctx, late, []byte("late")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RedeemEnrolCode(ctx, []byte("late"), now.Add(time.Hour), "x", []byte("h")); !errors.Is(err, ErrCodeExpired) {
		t.Errorf("expired code: %v, want ErrCodeExpired", err)
	}
	if _, err := db.GetNode(ctx, "n7"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an expired code created node n7: %v", err)
	}
	// Once expired, a new code for the same id may be made; the old one
	// can be cancelled.
	if err := db.CreateEnrolCode(ctx, EnrolCode{ID: "e-8", Node: late.Node, CreatedAt: now.Add(2 * time.Hour), ExpiresAt: now.Add(3 * time.Hour)}, []byte("again")); err != nil {
		t.Errorf("a new code after the old one expired: %v", err)
	}
	if err := db.DeleteEnrolCode(ctx, "e-7"); err != nil {
		t.Error(err)
	}
	list, err := db.ListEnrolCodes(ctx, []string{"st-1"}, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, c := range list {
		listed = append(listed, c.ID)
	}
	if d := cmp.Diff([]string{"e-8", "e-1"}, listed); d != "" {
		t.Errorf("codes listed (-want +got):\n%s", d)
	}
	if other, _ := db.ListEnrolCodes(ctx, []string{"st-2"}, time.Time{}); len(other) != 0 {
		t.Errorf("codes of another station listed: %+v", other)
	}
}

// A revoked cluster leaves its zones, and cannot be put back in one.
func TestRevokedNodeLeavesZones(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)
	if err := db.RevokeNode(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	z, _ := db.GetZone(ctx, "z1")
	if d := cmp.Diff([]string{"n2"}, z.Nodes); d != "" {
		t.Errorf("zone z1 after revoking n1 (-want +got):\n%s", d)
	}
	if zs, _ := db.NodeZones(ctx, "n1"); len(zs) != 0 {
		t.Errorf("revoked n1 is still in zones %v", zs)
	}
	if err := db.AddZoneNode(ctx, "z1", "n1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("adding revoked n1 to a zone: %v, want ErrInvalid", err)
	}
	if _, err := db.SetNodeZones(ctx, "n1", []string{"z1"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("moving revoked n1 into a zone: %v, want ErrInvalid", err)
	}
}

func TestMoveAndRename(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	seed(t, db)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.CreateZone(ctx, Zone{ID: "z2", StationID: "st-1"}))
	must(db.CreateArea(ctx, Area{ID: "x-2", ParentID: "p-79", Kind: "commune", Name: "Xã Hai"}))
	must(db.CreateStation(ctx, Station{ID: "st-2", AreaID: "x-2", Name: "Đài hai"}))
	must(db.CreateZone(ctx, Zone{ID: "z-other", StationID: "st-2"}))
	old, err := db.SetNodeZones(ctx, "n1", []string{"z2"})
	must(err)
	if d := cmp.Diff([]string{"z1"}, old); d != "" {
		t.Errorf("old zones (-want +got):\n%s", d)
	}
	if n, _ := db.GetNode(ctx, "n1"); !slices.Equal(n.Zones, []string{"z2"}) {
		t.Errorf("n1 in %v after the move, want [z2]", n.Zones)
	}
	if _, err := db.SetNodeZones(ctx, "n1", []string{"z-other"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("moving n1 into another station's zone: %v, want ErrInvalid", err)
	}
	if n, _ := db.GetNode(ctx, "n1"); !slices.Equal(n.Zones, []string{"z2"}) {
		t.Errorf("a refused move changed n1's zones to %v", n.Zones)
	}
	must(db.RenameNode(ctx, "n1", "  Cụm loa chợ mới "))
	must(db.RenameZone(ctx, "z2", "Thôn 2"))
	must(db.RenameStation(ctx, "st-1", "Đài mới"))
	must(db.RenameArea(ctx, "x-1", "Xã An Phú mới"))
	n, _ := db.GetNode(ctx, "n1")
	z, _ := db.GetZone(ctx, "z2")
	sts, _ := db.ListStations(ctx, "x-1") // through the cache: it must see the change
	ars, _ := db.ListAreas(ctx)
	if n.Name != "Cụm loa chợ mới" || z.Name != "Thôn 2" || sts[0].Name != "Đài mới" || ars[1].Name != "Xã An Phú mới" {
		t.Errorf("after renaming: node %q zone %q station %q area %+v", n.Name, z.Name, sts[0].Name, ars)
	}
	if err := db.RenameStation(ctx, "st-1", " "); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty station name: %v", err)
	}
	if err := db.RenameZone(ctx, "nope", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("renaming a missing zone: %v", err)
	}
}
