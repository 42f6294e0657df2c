package main

import (
	"archive/tar"
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"valise/internal/dbtest"
)

var consistentRe = regexp.MustCompile(`consistent: (\d+) leaves, (\d+) checkpoints, .* root ([0-9a-f]+);`)

// auditLine runs audit verify with args and returns its "consistent" line.
func auditLine(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := runCmd(t, append([]string{"audit", "verify"}, args...)...)
	m := consistentRe.FindString(out)
	if code != 0 || m == "" {
		t.Fatalf("audit verify %v = %d\n%s\n%s", args, code, out, errs)
	}
	return m
}

// TestBackupRestoreIntoAFreshDataDirectory backs up a running demo server
// (its private cluster, while it serves), restores the file into a fresh
// data directory and into an empty database on another server, and audits
// both: the same log key, leaves, checkpoints and root. A damaged backup, a
// used data directory and a non-empty database are refused and changed
// nothing.
func TestBackupRestoreIntoAFreshDataDirectory(t *testing.T) {
	dir := clusterDir(t)
	base, _, stop := startServe(t, "--data-dir="+dir)
	waitStatus(t, base+"/log/checkpoint", 200) // the integrator signed the demo's leaves
	res, err := http.Get(base + "/log/key")
	if err != nil {
		t.Fatal(err)
	}
	logKey, _ := io.ReadAll(res.Body)
	res.Body.Close()
	live := filepath.Join(t.TempDir(), "live.tar")
	if code, out, errs := runCmd(t, "backup", "--out", live, "--data-dir="+dir); code != 0 || !strings.Contains(out, live) {
		t.Fatalf("backup while serving = %d %s %s", code, out, errs)
	}
	if st, err := os.Stat(live); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", st, err)
	}
	if code, _, errs := runCmd(t, "backup", "--out", live, "--data-dir="+dir); code != 1 || !strings.Contains(errs, "exists") {
		t.Fatalf("a second backup onto the same file = %d %s", code, errs)
	}
	stop()
	// The backup taken while serving is one consistent snapshot: it audits.
	liveDir := clusterDir(t)
	if code, _, errs := runCmd(t, "restore", live, "--data-dir="+liveDir); code != 0 {
		t.Fatalf("restore of the live backup = %d %s", code, errs)
	}
	auditLine(t, "--data-dir="+liveDir, "--key", string(logKey))

	// Stopped, the log no longer grows: a backup now must restore to exactly it.
	want := auditLine(t, "--data-dir="+dir, "--key", string(logKey))
	file := filepath.Join(t.TempDir(), "valise.tar")
	if code, _, errs := runCmd(t, "backup", "--out", file, "--data-dir="+dir); code != 0 {
		t.Fatalf("backup = %d %s", code, errs)
	}
	master, _ := os.ReadFile(filepath.Join(dir, "master.key"))

	// Into a fresh data directory.
	fresh := clusterDir(t)
	code, out, errs := runCmd(t, "restore", file, "--data-dir="+fresh)
	if code != 0 || !strings.Contains(out, "valise audit verify --data-dir "+fresh+" --key") {
		t.Fatalf("restore = %d %s %s", code, out, errs)
	}
	if got := auditLine(t, "--data-dir="+fresh, "--key", string(logKey)); got != want {
		t.Fatalf("audit of the restored data directory:\n %s\nwant\n %s", got, want)
	}
	if got, _ := os.ReadFile(filepath.Join(fresh, "master.key")); !bytes.Equal(got, master) {
		t.Fatal("the restored master key differs")
	}
	if st, _ := os.Stat(filepath.Join(fresh, "master.key")); st.Mode().Perm() != 0o600 {
		t.Fatalf("restored master key mode %o", st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(fresh, RootKeyFile)); err != nil {
		t.Fatalf("the seal root pin was not restored: %v", err)
	}
	// The restored deployment serves: a demo login works (sealed token keys open).
	base, _, stop = startServe(t, "--data-dir="+fresh, "--demo=false")
	waitStatus(t, base+"/readyz", 200)
	var login struct {
		AccessToken string `json:"access_token"`
	}
	getJSON(t, "POST", base+"/api/v1/auth/login", "", `{"username":"security","password":"valise-demo"}`, &login)
	stop()
	if got := auditLine(t, "--data-dir="+fresh, "--key", string(logKey)); !strings.HasPrefix(got, "consistent:") {
		t.Fatal(got)
	}

	// A used data directory is refused.
	if code, _, errs := runCmd(t, "restore", file, "--data-dir="+fresh); code != 1 || !strings.Contains(errs, "fresh data directory") {
		t.Fatalf("restore over a used data directory = %d %s", code, errs)
	}

	// Into an empty database of another server (data directory for the key only).
	empty := dbtest.Empty(t)
	keyDir := t.TempDir()
	if code, _, errs := runCmd(t, "restore", file, "--database-url="+empty.URL, "--data-dir="+keyDir); code != 0 {
		t.Fatalf("restore into a database URL = %d %s", code, errs)
	}
	if got := auditLine(t, "--database-url="+empty.URL, "--data-dir="+keyDir, "--key", string(logKey)); got != want {
		t.Fatalf("audit of the restored database:\n %s\nwant\n %s", got, want)
	}
	if code, _, errs := runCmd(t, "restore", file, "--database-url="+empty.URL, "--data-dir="+t.TempDir()); code != 1 || !strings.Contains(errs, "empty database") {
		t.Fatalf("restore into a non-empty database = %d %s", code, errs)
	}

	// A damaged backup is refused before anything is written.
	damaged := filepath.Join(t.TempDir(), "damaged.tar")
	damage(t, file, damaged)
	target := clusterDir(t)
	if code, _, errs := runCmd(t, "restore", damaged, "--data-dir="+target); code != 1 || !strings.Contains(errs, "checksum") {
		t.Fatalf("restore of a damaged backup = %d %s", code, errs)
	}
	if _, err := os.Stat(target); err == nil {
		if entries, _ := os.ReadDir(target); len(entries) > 0 {
			t.Fatalf("a refused restore wrote %v", entries)
		}
	}
}

// damage copies a backup, flipping one byte in the middle of its dump.
func damage(t *testing.T, from, to string) {
	t.Helper()
	f, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, _ := os.Create(to)
	defer out.Close()
	tr, tw := tar.NewReader(f), tar.NewWriter(out)
	for {
		hd, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if hd.Name == "database.dump" {
			b[len(b)/2] ^= 0xff
		}
		hd.ModTime = time.Now()
		_ = tw.WriteHeader(hd)
		_, _ = tw.Write(b)
	}
	_ = tw.Close()
}
