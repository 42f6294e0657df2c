package scanner_test

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"valise/internal/browser"
	"valise/web/scanner"
)

// -screenshots (or make screenshots) writes docs/screenshots/scanner-*.png
// from the flow test, at 390×844 CSS pixels.
var screenshots = flag.Bool("screenshots", false, "write docs/screenshots/scanner-*.png")

// chrome starts headless Chromium (Debian's, as internal/browser finds it)
// driven over DevTools, with a fake camera playing video (a .y4m file) when
// it is set, and returns a context for chromedp actions.
func chrome(t *testing.T, video string) context.Context {
	t.Helper()
	bin := browser.Find()
	if bin == "" {
		t.Skip("chromium not found: the scanner's browser tests need it (make test installs it: scripts/ensure-chromium.sh)")
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(390, 844),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true))
	if video != "" {
		opts = append(opts, chromedp.Flag("use-file-for-fake-video-capture", video))
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 4*time.Minute) // generous: a cold start on a busy machine is slow
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func appHandler() http.Handler { return scanner.Handler(http.NotFound) }

func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for i, step := range steps {
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err := chromedp.Do(sctx, step)
		cancel()
		if err != nil {
			dump, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.view + "\n" + document.body.innerText.slice(0, 3000)`))
			t.Fatalf("%s (step %d): %v\npage text:\n%s", what, i+1, err, dump)
		}
	}
}

// eval evaluates a JavaScript expression (promises awaited).
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// shot writes docs/screenshots/scanner-name.png when -screenshots is set.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !*screenshots {
		return
	}
	run(t, ctx, "screenshot "+name, chromedp.Sleep(300*time.Millisecond))
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scanner-"+name+".png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestJSVerifiesTheGoVectors runs static/verify.js in Chromium on every
// vector file crypto/seal's TestVectors wrote and holds it to the outcome
// the Go implementation gives.
func TestJSVerifiesTheGoVectors(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "crypto", "seal", "testdata", "vectors")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) < 8 {
		t.Fatalf("only %d vector files in %s", len(files), dir)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = filepath.Base(f)
	}
	mux := http.NewServeMux()
	mux.Handle("/app/", http.StripPrefix("/app", appHandler()))
	mux.HandleFunc("/vectors/{name...}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.PathValue("name") == "" {
			_ = json.NewEncoder(w).Encode(names)
			return
		}
		http.ServeFile(w, r, filepath.Join(dir, filepath.Base(r.PathValue("name"))))
	})
	mux.HandleFunc("/jstest/{name}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		if strings.HasSuffix(r.PathValue("name"), ".js") {
			w.Header().Set("Content-Type", "text/javascript")
		}
		http.ServeFile(w, r, filepath.Join("testdata", filepath.Base(r.PathValue("name"))))
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	ctx := chrome(t, "")
	run(t, ctx, "run the vectors", chromedp.Navigate(ts.URL+"/jstest/vectors.html"),
		chromedp.WaitReady(chromedp.CSS(`body[data-done]`)))
	results := eval[[]map[string]any](t, ctx, `window.vectorResults`)
	byFile := map[string]map[string]any{}
	for _, r := range results {
		if r["exception"] != nil {
			t.Errorf("%v: exception %v", r["file"], r["exception"])
		}
		f, _ := r["file"].(string)
		byFile[f] = r
	}
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		var want map[string]any
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		got := byFile[filepath.Base(f)]
		if got == nil {
			t.Errorf("%s: no result", f)
			continue
		}
		if strings.HasPrefix(filepath.Base(f), "receipt") {
			if got["ok"] != want["ok"] {
				t.Errorf("%s: JS ok=%v (%v), Go says ok=%v", f, got["ok"], got["error"], want["ok"])
			}
			if want["ok"] == true && (got["index"] != want["index"] || got["size"] != want["size"] || got["leaf"] != want["leaf"]) {
				t.Errorf("%s: JS index %v size %v leaf %v, want %v %v %v", f, got["index"], got["size"], got["leaf"], want["index"], want["size"], want["leaf"])
			}
			continue
		}
		if got["code"] != want["code"] {
			t.Errorf("%s: JS says %q, Go says %q", f, got["code"], want["code"])
		}
		wc, _ := json.Marshal(want["claims"])
		gc, _ := json.Marshal(got["claims"])
		if string(wc) != string(gc) {
			t.Errorf("%s: JS claims %s, Go claims %s", f, gc, wc)
		}
	}
	if tm := byFile["timing"]; tm != nil {
		t.Logf("in this Chromium: one offline seal check %.2f ms, one trust-list check %.2f ms", tm["seal_ms"], tm["trust_list_ms"])
	}
	checks, _ := byFile["codec"]["checks"].(map[string]any)
	for name, code := range checks {
		if code == false {
			t.Errorf("codec check %s: the JS decoder accepted what it must refuse", name)
		}
	}
	if len(checks) == 0 {
		t.Error("no codec checks ran")
	}
}
