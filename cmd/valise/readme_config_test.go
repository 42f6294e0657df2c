package main

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeConfigurationTableMatchesServeHelp: the README's configuration
// table lists exactly the settings serve --help lists (flag and default
// alike) and the environment-only ones, so the two cannot drift.
func TestReadmeConfigurationTableMatchesServeHelp(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Configuration\n")
	if !ok {
		t.Fatal("README has no Configuration section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	type row struct{ flag, def string }
	rows := map[string]row{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `VALISE_") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 4 {
			t.Fatalf("short row: %s", line)
		}
		clean := func(s string) string { return strings.Trim(strings.TrimSpace(s), "`") }
		env := clean(cells[0])
		if _, dup := rows[env]; dup {
			t.Errorf("README lists %s twice", env)
		}
		def := clean(cells[2])
		if def == "(empty)" {
			def = ""
		}
		rows[env] = row{strings.TrimPrefix(clean(cells[1]), "--"), def}
	}
	_, _, help := runCmd(t, "serve", "--help")
	for _, s := range settings {
		if !strings.Contains(help, s.env) {
			t.Errorf("serve --help lacks %s", s.env)
		}
		r, ok := rows[s.env]
		if !ok {
			t.Errorf("README's table lacks %s (--%s, default %q)", s.env, s.flag, s.def)
			continue
		}
		if r.flag != s.flag || r.def != s.def {
			t.Errorf("README says %s is --%s default %q; serve has --%s default %q", s.env, r.flag, r.def, s.flag, s.def)
		}
		delete(rows, s.env)
	}
	for _, e := range envOnly {
		if !strings.Contains(help, e.env) {
			t.Errorf("serve --help lacks the environment-only %s", e.env)
		}
		r, ok := rows[e.env]
		if !ok {
			t.Errorf("README's table lacks %s", e.env)
			continue
		}
		if r.flag != "" || r.def != e.def {
			t.Errorf("README says %s is %q default %q; want no flag, default %q", e.env, r.flag, r.def, e.def)
		}
		delete(rows, e.env)
	}
	for env := range rows {
		t.Errorf("README lists %s, which valise does not read", env)
	}
}
