package main

import (
	"context"
	"strings"
	"testing"

	"valise/internal/dbtest"
	"valise/internal/historygen"
	"valise/tlog"
)

// scaleEvents is the history the scale test audits; `valise audit generate`
// makes millions for the measurement in docs/decisions.md.
const scaleEvents = 50000

// generated is a test database holding a synthetic history of n events
// (ten per bag, in chunks of 10,000, so the log has several checkpoints).
// The planner's statistics are taken when the first fifth is loaded and
// autovacuum is off: they describe a log five times smaller, whose keys end
// early, which is what misleads a planner into merge or hash joins over
// whole tables.
func generated(t *testing.T, n int) (*dbtest.Database, *tlog.Key) {
	t.Helper()
	d := dbtest.New(t)
	ctx := context.Background()
	key, err := historygen.Prepare(ctx, d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	first := max(10, n/50*10)
	if _, err := historygen.Generate(ctx, d.Pool, historygen.Options{Events: first, Chunk: 10000, Key: key}); err != nil {
		t.Fatal(err)
	}
	for _, tb := range []string{"tlog_entries", "tlog_index", "tlog_nodes", "tlog_checkpoints", "bags", "bag_custody", "bag_events"} {
		if _, err := d.Pool.Exec(ctx, `ALTER TABLE `+tb+` SET (autovacuum_enabled = false); ANALYZE `+tb); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := historygen.Generate(ctx, d.Pool, historygen.Options{Events: n - first, Chunk: 10000, Key: key, StaleStatistics: true}); err != nil {
		t.Fatal(err)
	}
	return d, key
}

// TestAuditVerifyInBoundedStatements: `valise audit verify` on a log of
// 50,000 events with stale statistics passes under a 2 s statement timeout
// (every statement reads one page, so none grows with the log), shows its
// progress with --progress, and stays quiet on stderr without it (not a
// terminal).
func TestAuditVerifyInBoundedStatements(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 50,000 events")
	}
	d, key := generated(t, scaleEvents)
	args := []string{"audit", "verify", "--database-url=" + d.URL, "--key", key.VerifierKey, "--statement-timeout", "2s"}
	code, out, errs := runCmd(t, append(args, "--progress")...)
	if code != 0 || !strings.Contains(out, "consistent: 50000 leaves, 5 checkpoints") ||
		!strings.Contains(out, "5000 bag chains, 50000 events linked") {
		t.Fatalf("verify = %d %q %q", code, out, errs)
	}
	for _, phase := range []string{"log leaves", "tree nodes", "unindexed entries", "events against the log", "bag histories"} {
		if !strings.Contains(errs, "audit: "+phase+" ") {
			t.Errorf("progress lacks %q: %q", phase, errs)
		}
	}
	if _, _, errs := runCmd(t, args...); strings.Contains(errs, "audit:") {
		t.Errorf("progress printed without --progress to a non-terminal: %q", errs)
	}
	if code, _, errs := runCmd(t, append(args[:len(args)-2], "--statement-timeout", "soon")...); code != 2 || !strings.Contains(errs, "statement-timeout") {
		t.Errorf("bad --statement-timeout = %d %q", code, errs)
	}
	// The generator refuses a database that already has a log, and bad counts.
	if code, _, errs := runCmd(t, "audit", "generate", "--events", "10", "--database-url="+d.URL); code != 1 || !strings.Contains(errs, "refused") {
		t.Errorf("generate into a used database = %d %q", code, errs)
	}
	if code, _, _ := runCmd(t, "audit", "generate", "--events", "many", "--database-url="+d.URL); code != 2 {
		t.Errorf("generate --events many = %d", code)
	}
}
