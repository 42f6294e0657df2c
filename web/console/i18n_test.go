package console

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"valise/policy"
	"valise/pouch"
)

// TestCatalogComplete: every message a template or handler names, and every
// state and level, reads in Kazakh, Russian and English.
func TestCatalogComplete(t *testing.T) {
	keys := map[string]bool{}
	lit := regexp.MustCompile(`\.T "([a-zA-Z_.]+)"`)
	goKey := regexp.MustCompile(`"((?:clerk|desk|title|error|login|password|security|home)\.[a-z_]+(?:\.[a-z_]+)*)"`)
	_ = fs.WalkDir(files, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(files, p)
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			keys[m[1]] = true
		}
		return nil
	})
	goFiles, _ := filepath.Glob("*.go")
	for _, f := range goFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, _ := os.ReadFile(f)
		for _, m := range goKey.FindAllStringSubmatch(string(b), -1) {
			keys[m[1]] = true
		}
	}
	for _, s := range pouch.States() {
		keys["state."+string(s)] = true
	}
	for _, l := range policy.Levels() {
		keys["level."+l.String()] = true
	}
	for _, a := range []string{"assemble", "seal", "sheet", "dispatch", "accept", "store", "examine"} {
		keys["done."+a] = true
	}
	if len(keys) < 100 {
		t.Fatalf("found only %d message keys", len(keys))
	}
	for k := range keys {
		for _, lang := range langs {
			if catalog[lang][k] == "" {
				t.Errorf("%s: no %s message", k, lang)
			}
		}
	}
}

func TestAcceptLanguage(t *testing.T) {
	for h, want := range map[string]string{"": "en", "ru-RU,ru;q=0.9": "ru", "kk-KZ, ru;q=0.8": "kk", "de, fr": "en", "fr, ru": "ru"} {
		if got := acceptLanguage(h); got != want {
			t.Errorf("Accept-Language %q: %s, want %s", h, got, want)
		}
	}
}
