// Package webapp serves the head-end's mobile-first web app: one HTML page, a plain ES
// module (no build step), a style sheet, a web-app manifest and the vendored uPlot chart
// library (MIT, vendor/uplot). The files are embedded in the binary.
//
// The app talks only to the REST API under /api/v1 (login, meters, readings, and the
// Server-Sent Events stream); the API package mounts this handler for every other path.
//
// Content types come from a fixed table rather than the host's mime database, so the
// answer does not depend on /etc/mime.types. Every file is sent with "Cache-Control:
// no-cache" and a strong ETag: the browser revalidates on each load (a 304 costs one round
// trip) and so never runs a stale app.js against a newer API.
package webapp

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// contentType maps the extension of an embedded file to its media type.
func contentType(ext string) string {
	switch ext {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".webmanifest":
		return "application/manifest+json"
	case ".json":
		return "application/json"
	}
	return "application/octet-stream"
}

// contentSecurityPolicy allows only this origin. Inline styles are allowed because uPlot
// positions its elements through style attributes.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; manifest-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

type file struct {
	body        []byte
	contentType string
	etag        string
}

type handler struct {
	files map[string]file // by URL path, "/" for index.html
}

// Handler returns an http.Handler serving the web app: "/" is index.html, other paths
// name embedded files. It answers GET and HEAD only; directories and unknown paths are 404.
func Handler() http.Handler {
	h := &handler{files: map[string]file{}}
	err := fs.WalkDir(static, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(name)
		if err != nil {
			return err
		}
		ct := contentType(path.Ext(name))
		sum := sha256.Sum256(body)
		urlPath := strings.TrimPrefix(name, "static")
		h.files[urlPath] = file{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to read them is a build defect.
		panic("webapp: reading embedded files: " + err.Error())
	}
	h.files["/"] = h.files["/index.html"]
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, ok := h.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", f.etag)
	hdr.Set("X-Content-Type-Options", "nosniff")
	if path.Ext(r.URL.Path) == ".html" || r.URL.Path == "/" {
		hdr.Set("Content-Security-Policy", contentSecurityPolicy)
		hdr.Set("Referrer-Policy", "same-origin")
	}
	// ServeContent answers If-None-Match with 304 and handles Range and HEAD.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
