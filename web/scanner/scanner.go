// Package scanner serves the courier's scanner: an installable offline web
// app (plain HTML, CSS and JavaScript modules, a service worker and a web
// app manifest, embedded in the binary) over the phone API of mobile-api.
// It enrols the phone with a WebCrypto Ed25519 key, keeps the trust bundle,
// verifies seals and receipts offline (static/verify.js, tested against
// crypto/seal and tlog on the vectors in crypto/seal/testdata/vectors),
// and signs and chains offline records as mobile-api requires.
//
// The server mounts Handler at /app (api/server.go). Every page and script
// comes from the server itself under a strict Content-Security-Policy: no
// inline script or style, nothing loaded from elsewhere.
package scanner

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/go-chi/chi/v5"
)

//go:embed static
var static embed.FS

// CSP is the app's Content-Security-Policy: scripts, styles, the manifest,
// the service worker and API calls from the server only; camera frames are
// local (a MediaStream), the release QR is drawn as DOM SVG.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"media-src 'self' blob: mediastream:; connect-src 'self'; manifest-src 'self'; worker-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

var types = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".webmanifest": "application/manifest+json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".txt":         "text/plain; charset=utf-8",
}

// Files returns the app's files (for tests).
func Files() fs.FS {
	sub, _ := fs.Sub(static, "static")
	return sub
}

// Handler serves the app: the shell at / and each file at /{file};
// notFound answers anything else (the API's problem body).
func Handler(notFound http.HandlerFunc) http.Handler {
	files := Files()
	r := chi.NewRouter()
	r.NotFound(notFound)
	serve := func(w http.ResponseWriter, r *http.Request, name string) {
		b, err := fs.ReadFile(files, name)
		ctype, known := types[path.Ext(name)]
		if err != nil || !known || strings.Contains(name, "/") {
			notFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Content-Security-Policy", CSP)
		h.Set("Permissions-Policy", "camera=(self), geolocation=(self), microphone=()")
		// The service worker decides what is fresh; the browser's own cache
		// revalidates every time (the binary's files change with the binary).
		h.Set("Cache-Control", "no-cache")
		if name == "sw.js" {
			h.Set("Service-Worker-Allowed", "/app/")
		}
		_, _ = w.Write(b)
	}
	r.Get("/", func(w http.ResponseWriter, r *http.Request) { serve(w, r, "index.html") })
	r.Get("/{file}", func(w http.ResponseWriter, r *http.Request) { serve(w, r, chi.URLParam(r, "file")) })
	return r
}
