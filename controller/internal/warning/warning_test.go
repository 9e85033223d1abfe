package warning

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/cap"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

func newService(t *testing.T) *Service {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := func() time.Time { return time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC) }
	reg, err := registry.Open(filepath.Join(t.TempDir(), "r.db"), registry.Options{Logger: log, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []registry.Area{{ID: "p-79", Kind: "province", Name: "HCM"}, {ID: "p-01", Kind: "province", Name: "HN"},
		{ID: "x-a", ParentID: "p-79", Kind: "commune", Name: "A"}, {ID: "x-b", ParentID: "p-79", Kind: "commune", Name: "B"},
		{ID: "x-h", ParentID: "p-01", Kind: "commune", Name: "H"}} {
		must(reg.CreateArea(ctx, a))
	}
	for _, st := range []registry.Station{{ID: "st-a", AreaID: "x-a", Name: "A"}, {ID: "st-b", AreaID: "x-b", Name: "B"}, {ID: "st-h", AreaID: "x-h", Name: "H"}} {
		must(reg.CreateStation(ctx, st))
	}
	for _, n := range []registry.Node{
		{ID: "a1", StationID: "st-a", Lat: 10.75, Lon: 106.70}, {ID: "a2", StationID: "st-a", Lat: 10.76, Lon: 106.72},
		{ID: "b1", StationID: "st-b", Lat: 10.90, Lon: 106.90}, {ID: "h1", StationID: "st-h", Lat: 21.03, Lon: 105.85},
		{ID: "a9", StationID: "st-a", Lat: 10.75, Lon: 106.70},
	} {
		must(reg.CreateNode(ctx, n, []byte("hash")))
	}
	must(reg.RevokeNode(ctx, "a9"))
	must(reg.CreateZone(ctx, registry.Zone{ID: "z-a", StationID: "st-a"}))
	must(reg.SetZoneNodes(ctx, "z-a", []string{"a2"}))
	must(reg.SetAreaCode(ctx, "p-79", "79"))
	must(reg.SetAreaCode(ctx, "x-b", "26735"))
	must(reg.SetAreaDrills(ctx, "p-01", true))
	return New(Config{Registry: reg, Logger: log, Now: now})
}

func ids(ps []place) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.node.ID)
	}
	return out
}

// Targets resolve to the enrolled, not revoked nodes they cover: areas
// (a province covers its communes), zones, nodes, a drawn polygon, and a
// CAP area's polygons, circles and geocodes (commune or province codes).
func TestResolve(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	square := cap.Polygon{{Lat: 10.70, Lon: 106.65}, {Lat: 10.70, Lon: 106.71}, {Lat: 10.80, Lon: 106.71}, {Lat: 10.80, Lon: 106.65}, {Lat: 10.70, Lon: 106.65}}
	for _, c := range []struct {
		name string
		t    Target
		want []string
	}{
		{"a commune", Target{Areas: []string{"x-a"}}, []string{"a1", "a2"}},
		{"a province", Target{Areas: []string{"p-79"}}, []string{"a1", "a2", "b1"}},
		{"a zone", Target{Zones: []string{"z-a"}}, []string{"a2"}},
		{"a node and a commune", Target{Nodes: []string{"h1"}, Areas: []string{"x-b"}}, []string{"b1", "h1"}},
		{"a drawn square round a1 only", Target{Polygon: square}, []string{"a1"}},
		{"a CAP circle", Target{info: &cap.Info{Areas: []cap.Area{{Circles: []cap.Circle{{Center: cap.Point{Lat: 10.9, Lon: 106.9}, RadiusKM: 1}}}}}}, []string{"b1"}},
		{"a CAP geocode of a commune", Target{info: &cap.Info{Areas: []cap.Area{{Geocodes: []cap.Geocode{{ValueName: "MaDVHC", Value: "26735"}}}}}}, []string{"b1"}},
		{"a CAP geocode of a province", Target{info: &cap.Info{Areas: []cap.Area{{Geocodes: []cap.Geocode{{ValueName: "MaDVHC", Value: "79"}}}}}}, []string{"a1", "a2", "b1"}},
		{"a CAP area far away", Target{info: &cap.Info{Areas: []cap.Area{{Circles: []cap.Circle{{Center: cap.Point{Lat: 15, Lon: 112}, RadiusKM: 50}}}}}}, nil},
	} {
		got, err := s.resolve(ctx, c.t)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(ids(got), c.want) {
			t.Errorf("%s: %v, want %v", c.name, ids(got), c.want)
		}
	}
	for _, bad := range []Target{{Areas: []string{"x-nowhere"}}, {Zones: []string{"z-nowhere"}}, {Nodes: []string{"a9"}}} {
		if _, err := s.resolve(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", bad, err)
		}
	}
	// Drills: on in province p-01, so its commune's node has them.
	all, _ := s.resolve(ctx, Target{Areas: []string{"p-79", "p-01"}})
	for _, p := range all {
		if p.drills != (p.node.ID == "h1") {
			t.Errorf("%s: drills %v", p.node.ID, p.drills)
		}
	}
	// A commune's sender may not reach another commune's node.
	if bad := outside(all, Sender{May: func(a string) bool { return a == "x-a" }}); !slices.Equal(bad, []string{"x-b", "x-h"}) {
		t.Errorf("outside: %v", bad)
	}
}

// A request gets its defaults, and bad ones are refused with a reason.
func TestRequestCheck(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	r := Request{Text: " Lũ ", Target: Target{Areas: []string{"x-a"}}}
	if err := r.check(now); err != nil {
		t.Fatal(err)
	}
	if r.Times != DefaultTimes || *r.GapMS != DefaultGapMS || r.Title != "Cảnh báo khẩn cấp" || r.Text != "Lũ" {
		t.Errorf("defaults: %+v", r)
	}
	neg := int64(-1)
	for name, c := range map[string]struct {
		r    Request
		want string
	}{
		"nothing to say":  {Request{Target: Target{Areas: []string{"x"}}}, "either"},
		"both":            {Request{Text: "a", Media: strings.Repeat("a", 64), Target: Target{Areas: []string{"x"}}}, "either"},
		"bad media":       {Request{Media: "abc", Target: Target{Areas: []string{"x"}}}, "sha256"},
		"nowhere":         {Request{Text: "a"}, "choose where"},
		"open polygon":    {Request{Text: "a", Target: Target{Polygon: cap.Polygon{{Lat: 1, Lon: 1}, {Lat: 2, Lon: 2}, {Lat: 3, Lon: 1}, {Lat: 1, Lon: 2}}}}, "polygon"},
		"bad point":       {Request{Text: "a", Target: Target{Polygon: cap.Polygon{{Lat: 91, Lon: 1}, {Lat: 2, Lon: 2}, {Lat: 3, Lon: 1}, {Lat: 91, Lon: 1}}}}, "latitude"},
		"too many plays":  {Request{Text: "a", Times: 21, Target: Target{Areas: []string{"x"}}}, "times"},
		"negative gap":    {Request{Text: "a", GapMS: &neg, Target: Target{Areas: []string{"x"}}}, "gap_ms"},
		"expired already": {Request{Text: "a", Expires: now, Target: Target{Areas: []string{"x"}}}, "expired"},
	} {
		err := c.r.check(now)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrInvalid saying %q", name, err, c.want)
		}
	}
}

// A warning without an expiry ends ten minutes after its last play; one
// with a far expiry keeps it, but its commands stay within the protocol's
// longest command life (a longer one would be refused by every node).
func TestLifetime(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	at := now.Add(2 * time.Second)
	gap := int64(3000)
	ends, cmd := lifetime(now, at, Request{Times: 3, GapMS: &gap}, 10_000)
	if want := at.Add(36*time.Second + lateJoin); !ends.Equal(want) || !cmd.Equal(want) {
		t.Errorf("no expiry: ends %v, commands %v; want both %v", ends, cmd, want)
	}
	far := now.Add(48 * time.Hour)
	ends, cmd = lifetime(now, at, Request{Times: 3, GapMS: &gap, Expires: far}, 10_000)
	if !ends.Equal(far) || cmd.After(now.Add(nodeproto.MaxCommandLife)) || !cmd.After(now.Add(nodeproto.MaxCommandLife-2*time.Minute)) {
		t.Errorf("far expiry: ends %v, commands %v", ends, cmd)
	}
}
