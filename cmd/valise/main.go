// Command valise is the one Valise binary: the server and its tools.
//
//	valise serve            run the HTTP API (starts a private PostgreSQL when no database is configured)
//	valise migrate up|down|status
//	valise demo             load the demo data into the configured database (idempotent)
//	valise users create-admin --username NAME   (password on stdin)
//	valise keys ...         seal-signing keys and the trust list
//	valise seal verify      verify a seal offline
//	valise backup           one file: a consistent database dump and the key material
//	valise restore FILE     into a fresh data directory or an empty database
//	valise bench            measure custody throughput on a scratch database
//	valise version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"valise"
)

func main() {
	collectLessOften()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// collectLessOften sets the garbage collector's target to 400 % (heap may
// grow to five times what is live before a collection) unless GOGC says
// otherwise. The server's live heap is a few tens of megabytes, and at the
// default 100 % the collector took about a tenth of a busy server's CPU
// (`valise bench --cpuprofile`); a soft memory limit of 1 GiB
// (unless GOMEMLIMIT is set) keeps a larger heap from growing unbounded.
func collectLessOften() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

// command is one subcommand; it returns the process exit code.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the HTTP API", runServe},
		{"migrate", "apply, roll back or list database migrations (up|down|status)", runMigrate},
		{"demo", "load the demo data into the configured database", runDemo},
		{"users", "create the first administrator (create-admin --username NAME; password on stdin)", runUsers},
		{"keys", "manage seal-signing keys and the trust list (init-root|issue|rotate|retire|revoke|list|trust-list)", runKeys},
		{"seal", "verify a seal offline against a saved trust list (verify)", runSeal},
		{"audit", "verify the custody log (verify) or a receipt offline (receipt FILE)", runAudit},
		{"backup", "write one file with a consistent database dump and the key material (--out FILE)", runBackup},
		{"restore", "restore a backup into a fresh data directory or an empty database (FILE)", runRestore},
		{"bench", "measure hand-offs, log appends and raw inserts on a scratch database (--duration, --clients)", runBench},
		{"version", "print the version, commit and Go version", runVersion},
	}
}

// run dispatches to a subcommand; tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "valise: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: valise <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'valise <command> --help' for a command's flags and environment variables.")
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "Usage: valise version\n\nPrints the version, commit and Go version (no flags).")
		if isHelp(args[0]) {
			return 0
		}
		return 2
	}
	fmt.Fprintf(stdout, "valise %s (commit %s, %s %s/%s)\n", valise.Version, valise.Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}
