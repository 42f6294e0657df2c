package main

import (
	"strings"
	"testing"
)

// TestEveryCommandHasItsOwnHelp runs --help for every command and verb: each
// exits 0, names itself, lists its own flags and none of the server's
// (only serve has -addr).
func TestEveryCommandHasItsOwnHelp(t *testing.T) {
	cases := []struct {
		args  []string
		flags []string // each must appear as -name
	}{
		{[]string{"serve"}, []string{"addr", "database-url", "seal-lifetime", "trust-stale-after"}},
		{[]string{"migrate"}, []string{"database-url", "data-dir"}},
		{[]string{"migrate", "status"}, []string{"database-url"}},
		{[]string{"demo"}, []string{"demo-password", "database-url"}},
		{[]string{"users"}, []string{"username", "unit", "full-name"}},
		{[]string{"users", "create-admin"}, []string{"username", "unit", "full-name", "database-url"}},
		{[]string{"keys"}, nil},
		{[]string{"seal"}, []string{"trust", "root-key-file", "png"}},
		{[]string{"seal", "verify"}, []string{"trust", "root-key-file", "png", "allow-stale"}},
		{[]string{"audit"}, nil},
		{[]string{"audit", "verify"}, []string{"key", "database-url"}},
		{[]string{"audit", "receipt"}, []string{"key", "leaf", "witness"}},
		{[]string{"bench"}, []string{"duration", "clients", "db-max-conns"}},
		{[]string{"backup"}, []string{"out", "database-url", "data-dir"}},
		{[]string{"restore"}, []string{"database-url", "data-dir"}},
		{[]string{"version"}, nil},
	}
	own := map[string][]string{"issue": {"office", "not-before"}, "rotate": {"office", "overlap"},
		"retire": {"kid", "overlap"}, "revoke": {"kid", "reason"}, "trust-list": {"out"}}
	for _, v := range keyVerbs {
		cases = append(cases, struct {
			args  []string
			flags []string
		}{[]string{"keys", v.verb}, append([]string{"database-url", "seal-lifetime"}, own[v.verb]...)})
	}
	names := map[string]bool{}
	for _, c := range cases {
		names[c.args[0]] = true
		for _, help := range []string{"--help", "-h"} {
			args := append(append([]string{}, c.args...), help)
			code, out, errs := runCmd(t, args...)
			text := out + errs
			name := c.args[0] // `users --help` shows create-admin, `seal --help` verify
			if c.args[0] == "keys" || c.args[0] == "audit" {
				name = strings.Join(c.args, " ") // each verb has its own flags
			}
			if code != 0 {
				t.Errorf("valise %s: exit %d\n%s", strings.Join(args, " "), code, text)
				continue
			}
			if !strings.Contains(text, "Usage: valise "+name) {
				t.Errorf("valise %s: no usage line naming the command:\n%s", strings.Join(args, " "), text)
			}
			for _, f := range c.flags {
				if !strings.Contains(text, "-"+f) {
					t.Errorf("valise %s: lacks its flag -%s:\n%s", strings.Join(args, " "), f, text)
				}
			}
			if c.args[0] != "serve" && strings.Contains(text, "-addr") {
				t.Errorf("valise %s: shows the server's -addr flag:\n%s", strings.Join(args, " "), text)
			}
		}
	}
	for _, c := range commands() {
		if !names[c.name] {
			t.Errorf("command %s has no --help case here", c.name)
		}
	}
}
