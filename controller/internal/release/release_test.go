package release

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/firmware-api/nodeproto"
)

type fixture struct {
	ctx context.Context
	reg *registry.DB
	m   *Manager
	dir string
}

func newFixture(t *testing.T, nodes ...string) *fixture {
	t.Helper()
	archs := map[string]string{}
	for _, n := range nodes {
		archs[n] = ""
	}
	return newFixtureArch(t, archs)
}

// newFixtureArch enrols nodes (id -> the arch its state reports, "" none).
func newFixtureArch(t *testing.T, nodes map[string]string) *fixture {
	t.Helper()
	f := &fixture{ctx: context.Background(), dir: t.TempDir()}
	now := func() time.Time { return time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC) }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var err error
	f.reg, err = registry.Open(filepath.Join(f.dir, "registry.db"), registry.Options{Logger: log, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.reg.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.reg.CreateArea(f.ctx, registry.Area{ID: "p-1", Kind: "province", Name: "P"}))
	must(f.reg.CreateArea(f.ctx, registry.Area{ID: "x-1", ParentID: "p-1", Kind: "commune", Name: "X"}))
	must(f.reg.CreateStation(f.ctx, registry.Station{ID: "st-1", AreaID: "x-1", Name: "Đài", Kind: "ip"}))
	for n, arch := range nodes {
		must(f.reg.CreateNode(f.ctx, registry.Node{ID: n, StationID: "st-1", Name: n}, []byte("hash")))
		must(f.reg.UpsertNodeState(f.ctx, registry.NodeState{NodeID: n, Online: true,
			State: []byte(`{"node":"` + n + `","online":true,"version":"1.0.0","arch":"` + arch + `"}`)}))
	}
	f.m, err = New(f.ctx, Config{Dir: f.dir, Registry: f.reg, Logger: log, Now: now})
	must(err)
	return f
}

func TestAddSignsWithTheUpdateKey(t *testing.T) {
	f := newFixture(t)
	bin := []byte("a node binary")
	r, err := f.m.Add(f.ctx, bytes.NewReader(bin), "1.1.0", "arm64", "admin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := nodeproto.Keyring{f.m.Key().ID: f.m.Key().Pub}.OpenRelease(nodeproto.Envelope{KID: r.KID, Msg: r.Manifest, Sig: r.Sig})
	if err != nil || got.Size != int64(len(bin)) || got.Version != "1.1.0" || got.SHA256 != r.SHA256 {
		t.Fatalf("stored manifest %+v: %v", got, err)
	}
	ch, err := f.m.ReadChunk(r.SHA256, 0)
	if err != nil || !bytes.Equal(ch.Data, bin) {
		t.Fatalf("chunk 0: %v", err)
	}
	// The key survives a restart: nodes pinned it at enrolment.
	again, err := New(f.ctx, Config{Dir: f.dir, Registry: f.reg})
	if err != nil || again.Key().ID != f.m.Key().ID {
		t.Errorf("update key after a restart: %v %v, want %v", again.Key().ID, err, f.m.Key().ID)
	}
	for _, tc := range []struct{ name, version, arch, body string }{
		{"same version again", "1.1.0", "arm64", "other"},
		{"empty binary", "1.2.0", "arm64", ""},
		{"bad version", "1.2 beta", "arm64", "x"},
		{"no arch", "1.2.0", "", "x"},
	} {
		if _, err := f.m.Add(f.ctx, strings.NewReader(tc.body), tc.version, tc.arch, "admin"); err == nil {
			t.Errorf("%s: stored", tc.name)
		}
	}
}

func TestStartChoosesTargets(t *testing.T) {
	nodes := []string{"n-01", "n-02", "n-03", "n-04", "n-05", "n-06", "n-07", "n-08", "n-09", "n-10", "n-11", "n-12"}
	f := newFixture(t, nodes...)
	if _, err := f.m.Add(f.ctx, strings.NewReader("bin"), "1.1.0", "arm64", "admin"); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.CreateZone(f.ctx, registry.Zone{ID: "z-1", StationID: "st-1", Name: "Z"}); err != nil {
		t.Fatal(err)
	}
	if err := f.reg.SetZoneNodes(f.ctx, "z-1", []string{"n-03", "n-07"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  Request
	}{
		{"zone and percent", Request{Version: "1.1.0", Zone: "z-1", Percent: 10}},
		{"neither", Request{Version: "1.1.0"}},
		{"unknown version", Request{Version: "9.0.0", Percent: 10}},
		{"unknown zone", Request{Version: "1.1.0", Zone: "z-none"}},
		{"percent over 100", Request{Version: "1.1.0", Percent: 101}},
	} {
		if _, err := f.m.Start(f.ctx, tc.req, "admin"); err == nil {
			t.Errorf("%s: started", tc.name)
		}
	}
	ro, err := f.m.Start(f.ctx, Request{Version: "1.1.0", Percent: 25}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	// 25% of 12 is 3 nodes; 10% of 3 rounds up to 1 failure.
	if len(ro.Nodes) != 3 || ro.MaxFailures != 1 || ro.Parallel != 1 || ro.Arch != "" {
		t.Fatalf("rollout %+v", ro)
	}
	if _, err := f.m.Start(f.ctx, Request{Version: "1.1.0", Zone: "z-1"}, "admin"); !errors.Is(err, ErrBusy) {
		t.Errorf("a second rollout while one runs: %v", err)
	}
	if _, err := f.m.Stop(f.ctx, ro.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.Stop(f.ctx, ro.ID, "admin"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("stopping a halted rollout: %v", err)
	}
	// The same share gives the same nodes: a canary stays the same canary.
	again, err := f.m.Start(f.ctx, Request{Version: "1.1.0", Percent: 25}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	ids := func(r registry.Rollout) []string {
		var out []string
		for _, n := range r.Nodes {
			out = append(out, n.NodeID)
		}
		return out
	}
	if !slices.Equal(ids(ro), ids(again)) {
		t.Errorf("25%% chose %v, then %v", ids(ro), ids(again))
	}
	f.m.Stop(f.ctx, again.ID, "admin")
	z, err := f.m.Start(f.ctx, Request{Version: "1.1.0", Zone: "z-1", Parallel: 2, MaxFailures: 2}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(z), []string{"n-03", "n-07"}) {
		t.Errorf("zone rollout targets %v", ids(z))
	}
	sent := 0
	send := func(ctx context.Context, node string, c nodeproto.Command, by string) (nodeproto.Command, error) {
		sent++
		c.ID = "c-" + node
		return c, nil
	}
	if err := f.m.Step(f.ctx, send); err != nil {
		t.Fatal(err)
	}
	if sent != 2 {
		t.Fatalf("sent %d, want both zone nodes at once", sent)
	}
	if !f.m.MayFetch("n-03", mustRelease(t, f).SHA256) {
		t.Error("a node sent the update may not fetch its release")
	}
	if f.m.MayFetch("n-01", mustRelease(t, f).SHA256) {
		t.Error("a node the update was not sent to may fetch the release")
	}
}

func mustRelease(t *testing.T, f *fixture) registry.Release {
	r, err := f.reg.GetRelease(f.ctx, "1.1.0", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// One rollout updates a mixed fleet: each node gets the release of the
// arch it reports; a node whose arch the version lacks is left out.
func TestEachNodeGetsItsArch(t *testing.T) {
	f := newFixtureArch(t, map[string]string{"pi64": "arm64", "pi32": "arm", "pc": "amd64", "old": ""})
	r64, err := f.m.Add(f.ctx, strings.NewReader("arm64 build"), "2.0.0", "arm64", "admin")
	if err != nil {
		t.Fatal(err)
	}
	r32, err := f.m.Add(f.ctx, strings.NewReader("arm build"), "2.0.0", "arm", "admin")
	if err != nil {
		t.Fatal(err)
	}
	ro, err := f.m.Start(f.ctx, Request{Version: "2.0.0", Percent: 100, Parallel: 4, MaxFailures: 4}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range ro.Nodes {
		ids = append(ids, n.NodeID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"pi32", "pi64"}) {
		t.Fatalf("targets %v, want the two boards the version has a build for", ids)
	}
	keys := nodeproto.Keyring{f.m.Key().ID: f.m.Key().Pub}
	got := map[string]string{}
	send := func(ctx context.Context, node string, c nodeproto.Command, by string) (nodeproto.Command, error) {
		rel, err := keys.OpenRelease(c.Update.Release)
		if err != nil {
			t.Fatal(err)
		}
		got[node] = rel.Arch + ":" + rel.SHA256
		c.ID = "c-" + node
		return c, nil
	}
	if err := f.m.Step(f.ctx, send); err != nil {
		t.Fatal(err)
	}
	if got["pi64"] != "arm64:"+r64.SHA256 || got["pi32"] != "arm:"+r32.SHA256 || len(got) != 2 {
		t.Errorf("sent %v", got)
	}
	if !f.m.MayFetch("pi32", r32.SHA256) || f.m.MayFetch("pi32", r64.SHA256) {
		t.Error("pi32 may fetch the wrong build, or not its own")
	}
	// After a controller restart the same holds (from the registry).
	again, err := New(f.ctx, Config{Dir: f.dir, Registry: f.reg})
	if err != nil {
		t.Fatal(err)
	}
	if !again.MayFetch("pi64", r64.SHA256) || again.MayFetch("pi64", r32.SHA256) {
		t.Error("after a restart pi64's fetch rights are wrong")
	}
}
