package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// HTTP latency is labelled by the route pattern that served a request, so
// a thousand URLs of one route make one series; an unmatched URL is
// "other". Two controllers' metrics do not mix (a registry each), and a
// nil *Metrics records nothing without failing.
func TestHTTPByRouteAndRegistryPerController(t *testing.T) {
	clock := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	m := New(func() time.Time { clock = clock.Add(10 * time.Millisecond); return clock })
	other := New(nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/nodes/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) })
	h := m.HTTP(mux)
	for _, u := range []string{"/api/v1/nodes/a", "/api/v1/nodes/b", "/api/v1/nodes/c", "/nothing/here"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", u, nil))
	}
	m.Received("state")
	var nilM *Metrics
	nilM.Received("state")
	nilM.Ingested(5, time.Second)
	if got := nilM.HTTP(mux); got == nil {
		t.Error("nil metrics lost the handler")
	}

	text := scrapeText(t, m)
	for _, want := range []string{
		`radio_http_request_seconds_count{code="404",method="GET",route="GET /api/v1/nodes/{id}"} 3`,
		`radio_http_request_seconds_count{code="404",method="GET",route="other"} 1`,
		`radio_messages_in_total{kind="state"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("scrape lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "/api/v1/nodes/a") {
		t.Error("a URL became a label value")
	}
	if strings.Contains(scrapeText(t, other), `radio_messages_in_total{kind="state"}`) {
		t.Error("another controller's registry shows this one's messages")
	}
}

func scrapeText(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// A handler behind the timing wrapper can take the connection over (the
// live websocket asks the writer for http.Hijacker itself).
func TestHTTPLetsAHandlerHijack(t *testing.T) {
	m := New(nil)
	srv := httptest.NewServer(m.HTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "no hijacker", http.StatusInternalServerError)
			return
		}
		conn, buf, err := h.Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		buf.Flush()
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != "hijacked" {
		t.Errorf("behind the wrapper: %d %q, want 200 \"hijacked\"", resp.StatusCode, b)
	}
}
