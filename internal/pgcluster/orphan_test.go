package pgcluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestStartAdoptsAClusterLeftByAKilledProcess: a valise killed with SIGKILL
// leaves its PostgreSQL running but its lock released (the kernel drops a
// dead process's flock). The next Start must stop that server, start it
// again under its own lock, and find the data intact.
func TestStartAdoptsAClusterLeftByAKilledProcess(t *testing.T) {
	if _, err := FindBinDir(); err != nil {
		t.Skipf("no PostgreSQL binaries: %v", err)
	}
	ctx := context.Background()
	d := t.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(d, "data")
	first, err := Start(ctx, Options{Dir: dir, Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, first.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('acknowledged')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	orphan := postmasterPID(t, first)
	first.releaseLock() // the owner dies; its server keeps running

	second, err := Start(ctx, Options{Dir: dir, Durable: true})
	if err != nil {
		_ = first.Kill()
		t.Fatalf("start after a killed owner: %v", err)
	}
	defer second.Stop()
	if pid := postmasterPID(t, second); pid == orphan {
		t.Fatalf("the orphaned server (pid %s) was not replaced", orphan)
	}
	conn, err = pgx.Connect(ctx, second.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "acknowledged" {
		t.Fatalf("data after adoption: %q %v", v, err)
	}
}

// postmasterPID reads the running server's pid from postmaster.pid.
func postmasterPID(t *testing.T, c *Cluster) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.PGData, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _, _ := strings.Cut(string(b), "\n")
	return pid
}
