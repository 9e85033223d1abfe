// Package regtest makes registries for other packages' tests: a real
// SQLite file in the test's temporary folder, and a province with a
// commune and its stations. Only tests import it.
package regtest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/communeradio/radio/controller/internal/registry"
)

// Open opens a new registry file in t's temporary folder, on the clock now
// (nil: the wall clock), closed when the test ends.
func Open(t testing.TB, now func() time.Time) *registry.DB {
	t.Helper()
	reg, err := registry.Open(filepath.Join(t.TempDir(), "registry.db"), registry.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

// Must fails the test at once on an error of a set-up step.
func Must(t testing.TB) func(error) {
	return func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Commune adds the province "p", its commune area and the commune's
// stations (ids, each named after its id).
func Commune(t testing.TB, reg *registry.DB, area string, stations ...string) {
	t.Helper()
	ctx, must := context.Background(), Must(t)
	if _, err := reg.GetArea(ctx, "p"); err != nil {
		must(reg.CreateArea(ctx, registry.Area{ID: "p", Kind: "province", Name: "Tỉnh"}))
	}
	must(reg.CreateArea(ctx, registry.Area{ID: area, ParentID: "p", Kind: "commune", Name: "Xã " + area}))
	for _, st := range stations {
		must(reg.CreateStation(ctx, registry.Station{ID: st, AreaID: area, Name: st}))
	}
}
