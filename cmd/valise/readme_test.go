package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"valise/internal/dbtest"
)

// shBlock is a fenced shell block of the documentation: ```sh blocks are
// commands a reader runs, and TestDocumentedCommandsRun runs them; blocks
// fenced otherwise (```console, ```text) are examples that are not run
// (a production install, output).
var shBlock = regexp.MustCompile("(?ms)^```sh\n(.*?)^```")

// docBlocks returns the runnable shell blocks of the README and docs/, in
// order, except the quick start's set-up commands (make run and make test,
// which a person runs once; the test runs what comes after them).
func docBlocks(t *testing.T) []string {
	t.Helper()
	files := []string{"../../README.md"}
	more, _ := filepath.Glob("../../docs/*.md")
	files = append(files, more...)
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range shBlock.FindAllStringSubmatch(string(b), -1) {
			if strings.Contains(m[1], "make run") || strings.Contains(m[1], "make test") {
				continue
			}
			out = append(out, "# --- "+filepath.Base(f)+"\n"+m[1])
		}
	}
	return out
}

// TestDocumentedCommandsRun runs every shell block of the README and docs/
// as written, twice in a row, against a server with the demo data, from a
// directory laid out like a checkout after `make run` (bin/valise, .valise/),
// and checks what a reader is told they will see. Only the address is
// changed: the documentation says 127.0.0.1:8080, the test's server listens
// on a free port.
func TestDocumentedCommandsRun(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "date"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the documentation's commands need %s, which this machine lacks", tool)
		}
	}
	d := dbtest.New(t)
	dir := t.TempDir()
	addr, _, stop := startServe(t, "--database-url="+d.URL, "--demo=true", "--data-dir="+filepath.Join(dir, ".valise"))
	defer stop()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(dir, "bin", "valise")); err != nil {
		t.Fatal(err)
	}
	script := "set -euo pipefail\n" + strings.Join(docBlocks(t), "\n")
	hostPort := strings.TrimPrefix(addr, "http://")
	script = strings.NewReplacer("127.0.0.1:8080", hostPort, "localhost:8080", hostPort).Replace(script)
	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-c", script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "VALISE_TEST_AS_CLI=1", "VALISE_DATABASE_URL="+d.URL, "VALISE_DATA_DIR=.valise")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("run %d: the documented commands failed: %v\n%s", run, err, out)
		}
		for _, want := range []string{
			`"state":"sealed","version":3`,                     // assemble, seal: the version counts the bag's events
			"you are not allowed to do this",                   // the destination may not seal
			"no issued, unrevoked and currently valid courier", // DM-01
			"412",
			"Idempotent-Replayed: true",
			`{"state":"sealed","custodian":{"kind":"registry","unit":"MFA"}}`,
			`{"status":"completed","seals_ok":true}`,
			`{"kind":"checkpoint_scan","from_state":"dispatched","to_state":"in_transit"}`,
			"not_custodian",
			`"state":"delivered"`,
			`{"state":"accepted","custodian":{"kind":"registry","unit":"DE-BER"},"incident":null}`,
			`{"state":"stored","custodian":{"kind":"registry","unit":"DE-BER"}}`,
			"handoff_accepted\tsealed\tdispatched\tperson\tcourier",
			"handoff_accepted\tdelivered\taccepted\tregistry\tDE-BER",
			"valid: entry",
			`"custodian":{"document":"passport KZ N1234567","kind":"bearer","name":"Capt. Nurlan Abenov",`,
			`{"state":"accepted","custodian":{"kind":"registry","unit":"DE-BER"}}`,
			"VALID",
			`"d001_eligible":false`, `"d001_eligible":true`, // the personnel walkthrough: one day short, then eligible
			"HR-06: before the minimum 2 years in rank",
			`["spouse",true]`, `["parent",false]`,
			"security officer: 404",
			`["Aigerim Nurlanovna Deputy","dl_21","Deputy of the Mazhilis"]`, `"diplomatic":{"destroyed":2,`, // passports outside the service, the blank ledger (issue 15)
			`"posting_term_ending","HR-19"`, `"attestation_due","HR-25"`, "HR-20: a posting of category other is extended by at most one year", // rotation (issue 14)
		} {
			if !strings.Contains(string(out), want) {
				t.Errorf("run %d: the output lacks %q:\n%s", run, want, out)
			}
		}
		if t.Failed() {
			return
		}
	}
}
