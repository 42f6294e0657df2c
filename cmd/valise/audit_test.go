package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"valise/internal/db"
	"valise/internal/dbtest"
	"valise/tlog"
)

// TestAuditCommands runs `valise audit verify` on an honest and then a
// tampered log, and `valise audit receipt` on a good and a forged receipt.
func TestAuditCommands(t *testing.T) {
	d := dbtest.New(t)
	ctx := context.Background()
	m := make([]byte, 32)
	_, _ = rand.Read(m)
	key, err := tlog.LoadOrCreateKey(ctx, d.Pool, tlog.DefaultOrigin, m)
	if err != nil {
		t.Fatal(err)
	}
	g := tlog.NewIntegrator(d.Pool, key, tlog.IntegratorOptions{})
	for i := 0; i < 12; i++ {
		err := db.InTx(ctx, d.Pool, func(tx pgx.Tx) error {
			_, err := tlog.Append(ctx, tx, []byte(fmt.Sprintf("event %d", i)))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := g.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	dbFlag := "--database-url=" + d.URL

	code, out, errs := runCmd(t, "audit", "verify", dbFlag, "--key", key.VerifierKey)
	if code != 0 || !strings.Contains(out, "consistent: 12 leaves") {
		t.Fatalf("verify honest log = %d %q %q", code, out, errs)
	}

	dir := t.TempDir()
	rec, err := tlog.Receipt(ctx, d.Pool, 7, []byte("event 7"))
	if err != nil {
		t.Fatal(err)
	}
	recFile, keyFile := filepath.Join(dir, "h.tlog-proof"), filepath.Join(dir, "log.pub")
	_ = os.WriteFile(recFile, rec, 0o600)
	_ = os.WriteFile(keyFile, []byte(key.VerifierKey+"\n"), 0o600)
	code, out, errs = runCmd(t, "audit", "receipt", recFile, "--key", keyFile)
	if code != 0 || !strings.Contains(out, "valid: entry 7") {
		t.Fatalf("receipt = %d %q %q", code, out, errs)
	}
	forged := strings.Replace(string(rec), "index 7", "index 6", 1)
	_ = os.WriteFile(recFile, []byte(forged), 0o600)
	if code, out, _ = runCmd(t, "audit", "receipt", recFile, "--key", key.VerifierKey); code != 1 || !strings.Contains(out, "INVALID") {
		t.Fatalf("forged receipt = %d %q", code, out)
	}
	if code, _, _ = runCmd(t, "audit", "receipt", recFile); code != 2 {
		t.Fatalf("receipt without --key = %d", code)
	}

	// An administrator rewrites entry 5 behind the trigger's back.
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`SET session_replication_role = replica`,
		`UPDATE tlog_entries SET leaf = 'event 5 (forged)' FROM tlog_index i WHERE i.entry_id = tlog_entries.id AND i.idx = 5`,
		`RESET session_replication_role`} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	conn.Release()
	code, out, errs = runCmd(t, "audit", "verify", dbFlag)
	if code != 1 || !strings.Contains(out, "first entry at fault: index 5") {
		t.Fatalf("verify tampered log = %d %q %q", code, out, errs)
	}
}
