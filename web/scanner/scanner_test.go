package scanner_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"valise/web/scanner"
)

// TestServesTheApp: the shell and every file come with their type and the
// strict CSP; anything else is a 404 problem.
func TestServesTheApp(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.StripPrefix("/app", appHandler()))
	t.Cleanup(ts.Close)
	for path, ctype := range map[string]string{
		"/app/":                     "text/html",
		"/app/app.js":               "text/javascript",
		"/app/verify.js":            "text/javascript",
		"/app/qrcode.mjs":           "text/javascript",
		"/app/sw.js":                "text/javascript",
		"/app/app.css":              "text/css",
		"/app/manifest.webmanifest": "application/manifest+json",
		"/app/icon.svg":             "image/svg+xml",
		"/app/icon-192.png":         "image/png",
		"/app/jsqr.LICENSE.txt":     "text/plain",
	} {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s = %d %s, want 200 %s", path, res.StatusCode, res.Header.Get("Content-Type"), ctype)
		}
		csp := res.Header.Get("Content-Security-Policy")
		if csp != scanner.CSP || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
	}
	for _, path := range []string{"/app/nope.js", "/app/static", "/app/VENDOR.md", "/app/x/../scanner.go"} {
		res, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", path, res.StatusCode)
		}
	}
}

// TestLoadsNothingFromElsewhere: no file of the app refers to another
// origin for anything it loads or calls, and the HTML has no inline script,
// style or event handler (the CSP would block them anyway).
func TestLoadsNothingFromElsewhere(t *testing.T) {
	t.Parallel()
	files := scanner.Files()
	load := regexp.MustCompile(`(?i)(?:src|href)\s*=\s*"([^"]*)"|(?:fetch|import|register|importScripts)\s*\(\s*["'` + "`" + `]([^"'` + "`" + `]*)|from\s+["']([^"']+)["']|url\(\s*["']?([^)"']+)`)
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(name, ".txt") || strings.HasSuffix(name, ".png") {
			return err
		}
		b, _ := fs.ReadFile(files, name)
		if name == "jsqr.js" || name == "qrcode.mjs" {
			// The vendored libraries load nothing: no fetch, import or XHR.
			for _, bad := range []string{"fetch(", "XMLHttpRequest", "import(", "importScripts"} {
				if strings.Contains(string(b), bad) {
					t.Errorf("%s contains %s", name, bad)
				}
			}
			return nil
		}
		for _, m := range load.FindAllStringSubmatch(string(b), -1) {
			ref := m[1] + m[2] + m[3] + m[4]
			if strings.Contains(ref, "//") || strings.HasPrefix(strings.ToLower(ref), "http") {
				t.Errorf("%s refers to %q outside the server", name, ref)
			}
		}
		if strings.HasSuffix(name, ".html") {
			if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).Match(b) || strings.Contains(string(b), "<style") ||
				regexp.MustCompile(`\son[a-z]+\s*=`).Match(b) || strings.Contains(string(b), "style=") {
				t.Errorf("%s has inline script, style or an event handler attribute", name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestVendoredFiles: the vendored libraries are the pinned npm releases
// VENDOR.md names, unchanged, each with its licence.
func TestVendoredFiles(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("VENDOR.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ name, licence string }{{"jsqr.js", "jsqr.LICENSE.txt"}, {"qrcode.mjs", "qrcode.LICENSE.txt"}} {
		b, err := fs.ReadFile(scanner.Files(), f.name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if !strings.Contains(string(doc), hex.EncodeToString(sum[:])) {
			t.Errorf("%s (SHA-256 %x) is not the file VENDOR.md pins", f.name, sum)
		}
		if _, err := fs.Stat(scanner.Files(), f.licence); err != nil {
			t.Errorf("%s has no licence file: %v", f.name, err)
		}
	}
}
