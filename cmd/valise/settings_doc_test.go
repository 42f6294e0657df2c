package main

import (
	"os"
	"regexp"
	"testing"
)

// TestReadmeTableListsEverySetting: the README's configuration table has a
// row for every flag of `serve --help`, with its variable and default, and
// no row for a flag that does not exist.
func TestReadmeTableListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(VALISE_[A-Z_]+)` \\| (?:`--([a-z-]+)`)? \\| ([^|]+) \\|")
	type doc struct{ env, def string }
	documented := map[string]doc{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		if m[2] != "" {
			documented[m[2]] = doc{m[1], m[3]}
		}
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.flag] = true
		d, ok := documented[s.flag]
		want := "`" + s.def + "`"
		if s.def == "" {
			want = "(empty)"
		}
		switch {
		case !ok:
			t.Errorf("README lacks a row for --%s (%s)", s.flag, s.env)
		case d.env != s.env || d.def != want:
			t.Errorf("README row of --%s: %s default %s, want %s default %s", s.flag, d.env, d.def, s.env, want)
		}
	}
	for f := range documented {
		if !known[f] {
			t.Errorf("README documents --%s, which serve does not have", f)
		}
	}
}
