// Package browser renders pages in headless Chromium for tests of what
// people print: a screenshot at a given resolution, a PDF, or the DOM after
// the page's scripts ran. It runs Debian's chromium as a command (no
// DevTools client); tests that need it call Need, which skips them with a
// clear message on a machine without chromium (make test installs it:
// scripts/ensure-chromium.sh).
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Find returns the Chromium binary: VALISE_CHROMIUM, else chromium or
// chromium-browser on PATH; "" when there is none.
func Find() string {
	if p := os.Getenv("VALISE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser runs one Chromium binary with a private profile directory.
type Browser struct {
	bin, profile string
}

// Need returns a browser for t, or skips t when the machine has no Chromium.
func Need(t testing.TB) *Browser {
	t.Helper()
	bin := Find()
	if bin == "" {
		t.Skip("chromium not found: this test renders a printed page in headless Chromium " +
			"(apt-get install chromium, or set VALISE_CHROMIUM; make test installs it)")
	}
	return &Browser{bin: bin, profile: t.TempDir()}
}

// DPI150 is the device scale factor that renders CSS pixels (96 per inch)
// at 150 dots per inch.
const DPI150 = 150.0 / 96.0

// A4 is the size of an A4 page in CSS pixels (210 × 297 mm at 96 per inch).
const A4Width, A4Height = 794, 1123

func (b *Browser) run(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute) // generous: a cold start on a busy machine is slow
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
		"--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
		"--run-all-compositor-stages-before-draw", // a screenshot shows the page fully painted, however slow the machine
		"--user-data-dir=" + b.profile}
	cmd := exec.CommandContext(ctx, b.bin, append(base, args...)...)
	var stderr limited
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("chromium %v: %w: %s", args, err, stderr.b)
	}
	return out, nil
}

// Screenshot renders url in a viewport of w × h CSS pixels at scale
// (device pixels per CSS pixel) and returns the path of the PNG, in dir.
func (b *Browser) Screenshot(ctx context.Context, url, dir string, w, h int, scale float64) (string, error) {
	out := filepath.Join(dir, "screenshot.png")
	_, err := b.run(ctx, "--screenshot="+out, "--window-size="+strconv.Itoa(w)+","+strconv.Itoa(h),
		"--force-device-scale-factor="+strconv.FormatFloat(scale, 'f', -1, 64), url)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(out); err != nil {
		return "", errors.New("chromium wrote no screenshot")
	}
	return out, nil
}

// PDF prints url as the browser's print dialog would (the page's @page
// rules, no header or footer) and returns the path of the PDF, in dir.
func (b *Browser) PDF(ctx context.Context, url, dir string) (string, error) {
	out := filepath.Join(dir, "printed.pdf")
	if _, err := b.run(ctx, "--print-to-pdf="+out, "--no-pdf-header-footer", url); err != nil {
		return "", err
	}
	if _, err := os.Stat(out); err != nil {
		return "", errors.New("chromium wrote no PDF")
	}
	return out, nil
}

// DOM returns the page's DOM as serialized after it loaded and its scripts
// ran (under the page's own Content-Security-Policy).
func (b *Browser) DOM(ctx context.Context, url string) (string, error) {
	out, err := b.run(ctx, "--dump-dom", url)
	return string(out), err
}

// limited keeps the first 8 KiB written to it (chromium's stderr).
type limited struct{ b []byte }

func (l *limited) Write(p []byte) (int, error) {
	if room := 8192 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
