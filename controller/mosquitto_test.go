package controller

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/communeradio/radio/controller/internal/broker"
	"github.com/communeradio/radio/controller/internal/registry"
	"github.com/communeradio/radio/controller/internal/registry/regtest"
)

// The Mosquitto files are written again only when what they must say
// changed (an account) or they were changed by hand: Mosquitto takes a
// minute to re-read 100,000 accounts, and a restart must not cost that.
func TestMosquittoFilesWrittenOnlyWhenChanged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	reg, must := regtest.Open(t, nil), regtest.Must(t)
	regtest.Commune(t, reg, "x", "st")
	enrol := func(id string) {
		h, err := broker.HashSecret(broker.NewSecret())
		must(err)
		must(reg.CreateNode(ctx, registry.Node{ID: id, StationID: "st", Name: id}, []byte(h)))
	}
	enrol("n1")
	mdir := filepath.Join(dir, "mosquitto")
	cfg := Config{BrokerURL: "tcp://127.0.0.1:1883", MosquittoDir: mdir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	secret := broker.NewSecret()
	passwd := func() []byte {
		b, err := os.ReadFile(filepath.Join(mdir, "passwd"))
		must(err)
		return b
	}

	must(writeMosquitto(ctx, cfg, reg, secret))
	first := passwd()
	if !bytes.Contains(first, []byte("\nn1:")) {
		t.Fatalf("passwd without n1:\n%s", first)
	}
	// Nothing changed: not written again (each write has a fresh reload
	// probe password, so a rewrite would change the file).
	must(writeMosquitto(ctx, cfg, reg, secret))
	if !bytes.Equal(passwd(), first) {
		t.Error("the files were written again though no account changed")
	}
	// A node enrolled: written.
	enrol("n2")
	must(writeMosquitto(ctx, cfg, reg, secret))
	second := passwd()
	if !bytes.Contains(second, []byte("\nn2:")) {
		t.Fatalf("passwd without the new node n2:\n%s", second)
	}
	// Edited by hand: written again, the edit gone.
	must(os.WriteFile(filepath.Join(mdir, "passwd"), append(second, "intruder:$7$101$x$y\n"...), 0o600))
	must(writeMosquitto(ctx, cfg, reg, secret))
	if b := passwd(); bytes.Contains(b, []byte("intruder")) || !bytes.Contains(b, []byte("\nn2:")) {
		t.Errorf("a hand-edited passwd was kept:\n%s", b)
	}
	// Another controller secret: written again.
	third := passwd()
	must(writeMosquitto(ctx, cfg, reg, broker.NewSecret()))
	if bytes.Equal(passwd(), third) {
		t.Error("a new controller secret did not rewrite the files")
	}
}
