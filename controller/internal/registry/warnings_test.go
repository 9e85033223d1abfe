package registry

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// Area codes are unique and settable; drills default off; a warning and
// its targets survive a reopen and end once; a CAP alert with the same
// sender, identifier and sent time is a duplicate.
func TestWarningsAndCAPAlerts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	db := open(t, path)
	seed(t, db)
	if err := db.SetAreaCode(ctx, "x-1", "26734"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetAreaCode(ctx, "p-79", "26734"); !errors.Is(err, ErrExists) {
		t.Errorf("second area with the same code: %v, want ErrExists", err)
	}
	if err := db.SetAreaCode(ctx, "x-1", "2 6"); !errors.Is(err, ErrInvalid) {
		t.Errorf("code with a space: %v, want ErrInvalid", err)
	}
	if err := db.SetAreaDrills(ctx, "x-nowhere", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("drills of an unknown area: %v, want ErrNotFound", err)
	}
	set, err := db.AreaSettingsAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if set["x-1"].Code != "26734" || set["x-1"].Drills || set["p-79"].Code != "" {
		t.Errorf("settings %+v", set)
	}
	if err := db.SetAreaDrills(ctx, "p-79", true); err != nil {
		t.Fatal(err)
	}

	w := Warning{ID: "w-1", Title: "Bão", Source: "manual", Media: "ab", Repeat: 2, GapMS: 3000, Request: "{}",
		Status: WarningActive, CreatedBy: "officer", CreatedAt: testNow(),
		Targets: []WarningTarget{{Node: "n-1", Area: "x-1", Command: "c-1"}, {Node: "n-2", Area: "x-1", Error: "broker down"}}}
	if err := db.InsertWarning(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := db.InsertWarning(ctx, w); !errors.Is(err, ErrExists) {
		t.Errorf("same warning twice: %v", err)
	}
	db.Close()
	db = open(t, path)
	if s, _ := db.AreaSettingsAll(ctx); !s["p-79"].Drills {
		t.Error("drills lost on reopen")
	}
	got, err := db.GetWarning(ctx, "w-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Targets) != 2 || got.Targets[0].Command != "c-1" || got.Targets[1].Error != "broker down" || got.Status != WarningActive {
		t.Errorf("warning %+v", got)
	}
	if err := db.EndWarning(ctx, "w-1", WarningCancelled, "leader", testNow().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.EndWarning(ctx, "w-1", WarningExpired, "clock", testNow().Add(2*time.Minute)); !errors.Is(err, ErrEnded) {
		t.Errorf("second end: %v, want ErrEnded", err)
	}
	if err := db.EndWarning(ctx, "w-none", WarningExpired, "clock", testNow()); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown warning: %v, want ErrNotFound", err)
	}
	if l, _ := db.ListWarnings(ctx, 10, WarningActive); len(l) != 0 {
		t.Errorf("active after cancel: %+v", l)
	}

	sent := time.Date(2026, 12, 7, 6, 0, 0, 0, time.FixedZone("", 7*3600))
	a := &CAPAlert{Sender: "kttv", Identifier: "1", Sent: sent, Status: "Actual", MsgType: "Alert", XML: []byte("<alert/>"), ReceivedBy: "token:x#1", ReceivedAt: testNow()}
	if err := db.InsertCAPAlert(ctx, a); err != nil || a.ID == 0 {
		t.Fatal(err, a.ID)
	}
	dup := *a
	dup.Sent = sent.UTC() // the same instant written in another zone
	if err := db.InsertCAPAlert(ctx, &dup); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate alert: %v, want ErrExists", err)
	}
	if err := db.SetCAPOutcome(ctx, a.ID, "played", "2 nodes", "w-1"); err != nil {
		t.Fatal(err)
	}
	f, err := db.FindCAPAlert(ctx, "kttv", "1", sent)
	if err != nil || f.Outcome != "played" || f.Warning != "w-1" || string(f.XML) != "<alert/>" {
		t.Errorf("found %+v %v", f, err)
	}
	if l, _ := db.ListCAPAlerts(ctx, 10, "played"); len(l) != 1 {
		t.Errorf("played alerts: %d, want 1", len(l))
	}
}
