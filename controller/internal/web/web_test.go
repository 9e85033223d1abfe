package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
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

// jsFiles returns the app's JavaScript modules by name.
func jsFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := fs.WalkDir(static, "static/js", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, err := static.ReadFile(p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Every string the app shows exists in both languages, and every key the
// pages ask for by name exists (a missing one would show as its key).
func TestTranslations(t *testing.T) {
	files := jsFiles(t)
	src := files["static/js/i18n.js"]
	keyRx := regexp.MustCompile(`(?m)(?:^\s*|[,{]\s*)'([a-zA-Z0-9_. -]+)':\s`)
	table := func(name string) map[string]bool {
		start := strings.Index(src, "const "+name+" = {")
		if start < 0 {
			t.Fatalf("i18n.js has no table %s", name)
		}
		end := strings.Index(src[start:], "\n};")
		keys := map[string]bool{}
		for _, m := range keyRx.FindAllStringSubmatch(src[start:start+end], -1) {
			keys[m[1]] = true
		}
		return keys
	}
	vi, en := table("vi"), table("en")
	if len(vi) < 100 {
		t.Fatalf("found only %d Vietnamese strings; the test no longer reads i18n.js right", len(vi))
	}
	for k := range vi {
		if !en[k] {
			t.Errorf("%q has no English translation", k)
		}
	}
	for k := range en {
		if !vi[k] {
			t.Errorf("%q is English only", k)
		}
	}
	useRx := regexp.MustCompile(`\bt\('([^']+)'[,)]`)
	for name, s := range files {
		if name == "static/js/i18n.js" { // its comment shows t('key', ...)
			continue
		}
		for _, m := range useRx.FindAllStringSubmatch(s, -1) {
			if !vi[m[1]] {
				t.Errorf("%s asks for the string %q, which i18n.js lacks", name, m[1])
			}
		}
	}
}

// Pages build their DOM with h(): nothing from the server is parsed as HTML.
func TestNoHTMLParsing(t *testing.T) {
	bad := regexp.MustCompile(`\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML|document\.write|setAttribute\('style'|\beval\(`)
	for name, s := range jsFiles(t) {
		if m := bad.FindString(s); m != "" {
			t.Errorf("%s uses %q; build the DOM with h() instead", name, m)
		}
	}
}
