package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveProcess starts `valise serve` as a separate process (this test
// binary run as main) and returns its base URL, its output so far and a
// stop function (SIGTERM, then the exit code).
func serveProcess(t *testing.T, env []string, args ...string) (string, *syncBuffer, func() int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr=127.0.0.1:0"}, args...)...)
	cmd.Env = append(append(os.Environ(), "VALISE_TEST_AS_CLI=1"), env...)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		_ = cmd.Wait()
		done <- cmd.ProcessState.ExitCode()
	}()
	stopped, code := false, 0
	stop := func() int {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
			code = <-done
		}
		return code
	}
	t.Cleanup(func() { stop() })
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if m := listenRe.FindStringSubmatch(out.String()); m != nil {
			return m[1], &errb, stop
		}
		select {
		case code := <-done:
			stopped = true
			t.Fatalf("serve exited with %d: %s", code, errb.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not start: %s", errb.String())
	return "", nil, nil
}

// TestToolsReachTheClusterOfARunningServe: while `valise serve` runs on the
// private cluster, the database commands on the same data directory connect
// to that cluster instead of failing on its lock; a second serve is refused
// with what to do instead.
func TestToolsReachTheClusterOfARunningServe(t *testing.T) {
	dir := clusterDir(t)
	base, _, stop := serveProcess(t, nil, "--data-dir="+dir)
	waitStatus(t, base+"/readyz", 200)

	for _, args := range [][]string{
		{"keys", "root"},
		{"keys", "list"},
		{"migrate", "status"},
		{"audit", "verify"},
	} {
		code, out, errs := runCmd(t, append(args, "--data-dir="+dir)...)
		if code != 0 {
			t.Fatalf("valise %s while serve runs = %d\n%s\n%s", strings.Join(args, " "), code, out, errs)
		}
		if !strings.Contains(errs, "connecting to it") {
			t.Errorf("valise %s did not say it used the running cluster: %s", strings.Join(args, " "), errs)
		}
	}
	code, _, errs := runCmd(t, "serve", "--addr=127.0.0.1:0", "--data-dir="+dir)
	if code == 0 || !strings.Contains(errs, "in use by another valise process") || !strings.Contains(errs, "VALISE_DATABASE_URL") {
		t.Fatalf("second serve = %d %q", code, errs)
	}
	// The tools left the server's cluster running.
	waitStatus(t, base+"/readyz", 200)
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	// With nobody running it, a tool starts the cluster itself.
	if code, out, errs := runCmd(t, "migrate", "status", "--data-dir="+dir); code != 0 || !strings.Contains(out, "applied") {
		t.Fatalf("migrate status alone = %d %s %s", code, out, errs)
	}
}
