package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, tc := range []struct {
		path, wantType, wantBody string
		wantStatus               int
	}{
		{"/", "text/html", `<script type="module" src="js/app.js">`, 200},
		{"/index.html", "text/html", `<script type="module" src="js/app.js">`, 200},
		{"/some/deep/link", "text/html", `id="main"`, 200},
		{"/js/app.js", "javascript", "function route()", 200},
		{"/app.css", "text/css", ":root", 200},
		{"/favicon.svg", "image/svg+xml", "<svg", 200},
		{"/api/v1/nope", "application/json", `"code":"not_found"`, 404},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if got := resp.Header.Get("Content-Type"); !strings.Contains(got, tc.wantType) {
				t.Errorf("Content-Type %q, want %q", got, tc.wantType)
			}
			if !strings.Contains(string(b), tc.wantBody) {
				t.Errorf("body lacks %q", tc.wantBody)
			}
			for k, want := range map[string]string{"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			csp := resp.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'self'", "img-src 'self' data:", "media-src 'self' blob:"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP allows inline code: %q", csp)
			}
		})
	}
}

// index.html must hold no inline script or style: the CSP would block it.
func TestIndexHasNoInlineCode(t *testing.T) {
	b, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Contains(s, "<script>") || strings.Contains(s, "<style") || strings.Contains(s, " style=") || strings.Contains(s, " onclick=") {
		t.Error("index.html has inline script or style, which the Content-Security-Policy blocks")
	}
}
