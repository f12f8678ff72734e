package webapp

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandlerServesFiles(t *testing.T) {
	h := Handler()
	tests := []struct {
		path         string
		contentType  string
		cacheControl string
		contains     string
	}{
		{"/", "text/html; charset=utf-8", "no-cache", `<meta name="viewport"`},
		{"/index.html", "text/html; charset=utf-8", "no-cache", `data-testid="login-form"`},
		{"/app.js", "text/javascript; charset=utf-8", "no-cache", "EventSource"},
		{"/style.css", "text/css; charset=utf-8", "no-cache", ".meter-row"},
		{"/manifest.webmanifest", "application/manifest+json", "no-cache", `"start_url"`},
		{"/icon.svg", "image/svg+xml", "no-cache", "<svg"},
		{"/vendor/uplot/uPlot.iife.min.js", "text/javascript; charset=utf-8", "no-cache", "uPlot (v1.6.32)"},
		{"/vendor/uplot/uPlot.min.css", "text/css; charset=utf-8", "no-cache", ".uplot"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := get(t, h, http.MethodGet, tt.path, nil)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status: got %d, want 200", res.StatusCode)
			}
			if got := res.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type: got %q, want %q", got, tt.contentType)
			}
			if got := res.Header.Get("Cache-Control"); got != tt.cacheControl {
				t.Errorf("Cache-Control: got %q, want %q", got, tt.cacheControl)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options: got %q, want nosniff", got)
			}
			if !bytes.Contains(body, []byte(tt.contains)) {
				t.Errorf("body does not contain %q", tt.contains)
			}
		})
	}
}

func TestHandlerIndexHasSecurityPolicy(t *testing.T) {
	res := get(t, Handler(), http.MethodGet, "/", nil)
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
}

func TestHandlerNotFoundAndMethods(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/nope.js", "/vendor/", "/vendor/uplot", "/static/index.html", "/../webapp.go"} {
		if got := get(t, h, http.MethodGet, p, nil).StatusCode; got != http.StatusNotFound {
			t.Errorf("GET %s: got %d, want 404", p, got)
		}
	}
	res := get(t, h, http.MethodPost, "/", nil)
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: got %d, want 405", res.StatusCode)
	}
	if got := res.Header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow: got %q, want %q", got, "GET, HEAD")
	}
	head := get(t, h, http.MethodHead, "/app.js", nil)
	if head.StatusCode != http.StatusOK || head.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("HEAD /app.js: got %d %q", head.StatusCode, head.Header.Get("Content-Type"))
	}
}

func TestHandlerRevalidates(t *testing.T) {
	h := Handler()
	first := get(t, h, http.MethodGet, "/app.js", nil)
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := get(t, h, http.MethodGet, "/app.js", http.Header{"If-None-Match": {etag}})
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: got %d, want 304", again.StatusCode)
	}
}

// TestVendoredUPlotMatchesNPM keeps the vendored chart library identical to the npm
// package pinned in web/package-lock.json, so the copy is not edited by hand.
func TestVendoredUPlotMatchesNPM(t *testing.T) {
	vendored, err := fs.ReadFile(static, "static/vendor/uplot/uPlot.iife.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(vendored, []byte("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")) {
		t.Errorf("vendored uPlot is not v1.6.32: starts %q", vendored[:min(60, len(vendored))])
	}
	for _, name := range []string{"uPlot.min.css", "LICENSE"} {
		if _, err := fs.Stat(static, "static/vendor/uplot/"+name); err != nil {
			t.Errorf("vendor/uplot/%s: %v", name, err)
		}
	}
	npm := filepath.Join("..", "..", "web", "node_modules", "uplot", "dist", "uPlot.iife.min.js")
	want, err := os.ReadFile(npm)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s is absent (run scripts/web-test-setup.sh to install web/node_modules); not comparing the vendored copy", npm)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(vendored, want) {
		t.Errorf("static/vendor/uplot/uPlot.iife.min.js differs from %s: copy it again", npm)
	}
}
