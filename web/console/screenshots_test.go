package console_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestScreenshots writes a PNG of each desk, a bag's page and the sign-in
// page at 1366×768 and 390×844 into the directory VALISE_SCREENSHOTS names
// (make screenshots: docs/screenshots). Without it, it skips.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("VALISE_SCREENSHOTS")
	if dir == "" {
		t.Skip("set VALISE_SCREENSHOTS to a directory (make screenshots)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	var bag string
	if err := e.Pool.QueryRow(context.Background(), `SELECT bag_id FROM bag_events WHERE kind = 'planned' AND reason = 'demo:mod-berlin-stored'`).Scan(&bag); err != nil {
		t.Fatal(err)
	}
	shots := []struct{ user, path, name string }{
		{"", "/console/login", "login"},
		{"clerk.mfa", "/console/clerk", "clerk-desk"},
		{"clerk.mfa", "/console/bags/" + bag, "bag-page"},
		{"security", "/console/security", "security-desk"},
		{"personnel", "/console/personnel", "personnel-desk"},
	}
	tabs := map[string]*tab{}
	for _, s := range shots {
		b := tabs[s.user]
		if b == nil {
			b = e.tab(t)
			if s.user != "" {
				b.signIn(s.user)
			}
			tabs[s.user] = b
		}
		for _, size := range [][2]int64{{1366, 768}, {390, 844}} {
			b.do(chromedp.EmulateViewport(size[0], size[1]))
			b.open(s.path)
			png := get(b, chromedp.CaptureScreenshot())
			name := filepath.Join(dir, fmt.Sprintf("%s-%dx%d.png", s.name, size[0], size[1]))
			if err := os.WriteFile(name, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s", name)
		}
	}
}
