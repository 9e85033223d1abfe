package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// The first administrator's password is saved when the controller is
// ready, while its hash is still being made in the background: logging in
// with it at once waits for the account instead of being refused.
func TestFirstLoginRightAfterStart(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0", TTSCommand: "true",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready:  func(httpAddr, _ string) { ready <- httpAddr }})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	pw, err := os.ReadFile(filepath.Join(dir, "admin.password"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": strings.TrimSpace(string(pw))})
	resp, err := http.Post("http://"+addr+"/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login as admin right after start: %s %s", resp.Status, b)
	}
}

// Until the first administrator exists only the account routes wait (a
// request that gives up first is never served): the rest of the API
// answers.
func TestOnlyAccountRoutesWaitForFirstAdmin(t *testing.T) {
	never := make(chan struct{})
	var served atomic.Bool
	h := waitForAccounts(never, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Store(true) }))
	for path, wantWait := range map[string]bool{
		"/api/v1/health": false, "/api/v1/nodes/n1": false, "/api/v1/login": true, "/api/v1/me": true,
		"/api/v1/me/password": true, "/api/v1/users": true, "/api/v1/users/u1/password": true, "/api/v1/usersx": false,
	} {
		served.Store(false)
		ctx, cancel := context.WithCancel(context.Background())
		if wantWait {
			cancel() // the client gives up: a waiting route returns unserved
		}
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, "GET", path, nil))
		cancel()
		if got := served.Load(); got == wantWait {
			t.Errorf("%s: served %v before the first administrator existed, want %v", path, got, !wantWait)
		}
	}
}
