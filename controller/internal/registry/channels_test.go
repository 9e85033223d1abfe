package registry

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

// Relay channels: put adds and replaces, bad ids, names and addresses are
// refused with ErrInvalid, get/list/delete see what was stored, and the
// list survives reopening the file.
func TestRelayChannels(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	db := open(t, path)
	vov1 := RelayChannel{ID: "vov1", Name: "VOV1 – Thời sự", URL: "https://str.vov.gov.vn/vov1.m3u8", UpdatedBy: "admin"}
	if err := db.PutRelayChannel(ctx, vov1); err != nil {
		t.Fatal(err)
	}
	vov1.URL = "http://127.0.0.1:8000/vov1.mp3"
	if err := db.PutRelayChannel(ctx, vov1); err != nil {
		t.Fatal(err)
	}
	if err := db.PutRelayChannel(ctx, RelayChannel{ID: "dai-tinh", Name: "Đài tỉnh", URL: "rtmp://tinh.example/live"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []RelayChannel{
		{ID: "Bad/Id", Name: "x", URL: "http://a/b"},
		{ID: "vov2", Name: "", URL: "http://a/b"},
		{ID: "vov2", Name: "VOV2", URL: "file:///etc/passwd"},
		{ID: "vov2", Name: "VOV2", URL: "not a url"},
	} {
		if err := db.PutRelayChannel(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("put %+v: %v, want ErrInvalid", bad, err)
		}
	}
	db.Close()
	db = open(t, path)
	got, err := db.GetRelayChannel(ctx, "vov1")
	if err != nil || got.URL != vov1.URL || got.Name != vov1.Name || got.UpdatedBy != "admin" || got.UpdatedAt.IsZero() {
		t.Errorf("get vov1: %+v %v", got, err)
	}
	list, err := db.ListRelayChannels(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "dai-tinh" || list[1].ID != "vov1" {
		t.Errorf("list: %+v %v", list, err)
	}
	if err := db.DeleteRelayChannel(ctx, "vov1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetRelayChannel(ctx, "vov1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get after delete: %v, want ErrNotFound", err)
	}
	if err := db.DeleteRelayChannel(ctx, "vov1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete twice: %v, want ErrNotFound", err)
	}
}

// A failed relay is found by its occurrence id, and only it.
func TestRelayFailures(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "r.db"))
	if err := db.AddAudit(ctx, Audit{Actor: "controller", Action: ActionRelayFailed, Target: "tiep-song-20261207-050000", Detail: "no audio"}); err != nil {
		t.Fatal(err)
	}
	db.AddAudit(ctx, Audit{Actor: "controller", Action: "live.end", Target: "tiep-song-20261207-180000"})
	got, err := db.RelayFailures(ctx, []string{"tiep-song-20261207-050000", "tiep-song-20261207-180000"})
	if err != nil || len(got) != 1 || got["tiep-song-20261207-050000"] != "no audio" {
		t.Errorf("failures %v %v", got, err)
	}
}
