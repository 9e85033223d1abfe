package api

import (
	"context"
	"net/http"
	"testing"

	"github.com/communeradio/radio/controller/internal/registry"
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
