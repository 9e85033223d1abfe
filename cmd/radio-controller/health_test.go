package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The watchdog probe reaches the API on loopback whatever address it
// listens on, over HTTPS when it serves HTTPS, and fails when the API
// does not answer 200.
func TestHealthCheck(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/health" {
			http.NotFound(w, r)
		}
	})
	broken := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "stuck", http.StatusServiceUnavailable)
	})
	port := func(s *httptest.Server) string {
		_, p, _ := net.SplitHostPort(s.Listener.Addr().String())
		return p
	}
	plain := httptest.NewServer(ok)
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(ok)
	defer tlsSrv.Close()
	bad := httptest.NewServer(broken)
	defer bad.Close()
	for _, tc := range []struct {
		name, listen string
		https, ok    bool
	}{
		{"loopback", "127.0.0.1:" + port(plain), false, true},
		{"all IPv4", "0.0.0.0:" + port(plain), false, true},
		{"all IPv6", "[::]:" + port(plain), false, true},
		{"https", "0.0.0.0:" + port(tlsSrv), true, true},
		{"http to https", "127.0.0.1:" + port(tlsSrv), false, false},
		{"unhealthy", "127.0.0.1:" + port(bad), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := healthCheck(tc.listen, tc.https)(context.Background())
			if (err == nil) != tc.ok {
				t.Errorf("healthCheck(%s) = %v, want ok %v", tc.listen, err, tc.ok)
			}
		})
	}
}
