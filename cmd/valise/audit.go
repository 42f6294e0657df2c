package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/note"

	"valise/crypto/secret"
	"valise/custody"
	"valise/pouch"
	"valise/tlog"
)

// startCustodyLog loads (or on first start creates) the log's signing key
// and runs the integrator until ctx ends; the returned function waits for it
// to stop. Every serve process runs one: they take turns through an
// advisory lock.
func startCustodyLog(ctx context.Context, c *config, pool *pgxpool.Pool, log *slog.Logger) (func(), error) {
	master, err := secret.LoadMasterKey(c.DataDir)
	if err != nil {
		return nil, err
	}
	key, err := tlog.LoadOrCreateKey(ctx, pool, c.LogOrigin, master)
	if err != nil {
		return nil, err
	}
	g := tlog.NewIntegrator(pool, key, tlog.IntegratorOptions{Logger: log})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); g.Run(ctx) }()
	log.Info("custody log integrator running", "origin", c.LogOrigin, "key", key.VerifierKey)
	return wg.Wait, nil
}

// runAudit is `valise audit verify` and `valise audit receipt FILE`.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usage = "Usage: valise audit verify [--key KEY|FILE] [--progress] [--statement-timeout 30s] [flags]\n       valise audit receipt FILE --key KEY|FILE [--leaf FILE] [--witness KEY|FILE]..."
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	switch args[0] {
	case "verify":
		return auditVerify(ctx, args[1:], stdout, stderr)
	case "receipt":
		return auditReceipt(args[1:], stdout, stderr)
	case "generate": // hidden: fills a scratch database for measuring the audit
		return auditGenerate(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, usage)
		return 0
	}
	fmt.Fprintln(stderr, usage)
	return 2
}

// auditVerify recomputes the whole log and every bag's history, and exits 1
// naming the first inconsistency of the log or of a chain, or every row of
// the current-state tables that disagrees with the history. The log key is
// --key when given (pin it: a key read from the audited database proves
// less), else the one stored in the database. Progress goes to stderr when
// it is a terminal, or with --progress. Everything is read in one
// REPEATABLE READ, read-only transaction (one moment of a live database), in
// bounded keyset pages, each page a statement well under
// --statement-timeout.
func auditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		keyArg       string
		showProgress bool
		timeout      time.Duration
	)
	c, _, err := cli{name: "audit verify", synopsis: "[--key KEY|FILE] [--progress] [--statement-timeout 30s] [flags]",
		about: "Recomputes the custody log from its entries, checks every bag's hash chain and replays its history\n" +
			"against bags and bag_custody; exit 1 naming the first broken log entry or chain, or every row that\n" +
			"disagrees with the history. Reads in bounded pages, in one snapshot. Works while serve runs on the\n" +
			"private cluster.",
		settings: dbSettings,
		own: func(fs *flag.FlagSet) {
			fs.StringVar(&keyArg, "key", "", "the log's verifier key (text or a file holding it); default: the key stored in the audited database")
			fs.BoolVar(&showProgress, "progress", false, "show progress on stderr even when it is not a terminal")
			fs.DurationVar(&timeout, "statement-timeout", 30*time.Second, "the longest one statement (one page) of the audit may take")
		}}.parse(args, stderr)
	if err != nil {
		return flagExit(err, stderr)
	}
	if timeout < time.Millisecond {
		fmt.Fprintln(stderr, "valise audit: --statement-timeout must be a duration like 30s")
		return 2
	}
	log := c.logger(stderr)
	d, err := openDatabase(ctx, c, log)
	if err != nil {
		fmt.Fprintln(stderr, "valise audit:", err)
		return 1
	}
	defer d.Close()
	if keyArg == "" {
		if keyArg, err = tlog.VerifierKey(ctx, d.Pool); err != nil {
			fmt.Fprintln(stderr, "valise audit:", err)
			return 1
		}
		fmt.Fprintln(stderr, "note: checking signatures with the key stored in the audited database; pin it with --key")
	}
	v, err := verifierArg(keyArg)
	if err != nil {
		fmt.Fprintln(stderr, "valise audit:", err)
		return 2
	}
	tx, err := d.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		fmt.Fprintln(stderr, "valise audit:", err)
		return 1
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", timeout.Milliseconds())); err != nil {
		fmt.Fprintln(stderr, "valise audit:", err)
		return 1
	}
	opts, finish := tlog.AuditOptions{Leaves: pouch.LeafSource}, func() {}
	if showProgress || isTerminal(stderr) {
		p := newProgress(stderr, isTerminal(stderr))
		opts.Progress, finish = p.report, p.done
	}
	r, err := tlog.AuditWith(ctx, tx, v, opts)
	if err != nil || !r.OK() {
		finish()
	}
	if err != nil {
		fmt.Fprintln(stderr, "valise audit:", err)
		return 1
	}
	if !r.OK() && r.Problem.Regenerated {
		// The leaf is a bag event's row (stored once): the chain audit
		// names the event and its bag.
		if cr, err := custody.AuditChainsWith(ctx, tx, tlog.AuditOptions{Leaves: opts.Leaves}); err == nil && cr.Problem != nil {
			fmt.Fprintf(stdout, "INCONSISTENT: %s\n", cr.Problem.Message)
			fmt.Fprintf(stdout, "first entry at fault: event %d of bag %s (log entry %d, index %d)\n", cr.Problem.EventID, cr.Problem.BagID, cr.Problem.LogEntry, r.Problem.Index)
			return 1
		}
	}
	if !r.OK() {
		fmt.Fprintf(stdout, "INCONSISTENT: %s\n", r.Problem.Message)
		if r.Problem.Index >= 0 {
			fmt.Fprintf(stdout, "first entry at fault: index %d\n", r.Problem.Index)
		}
		return 1
	}
	// Then each bag's hash chain against the log, and its replayed history
	// against the current-state tables (custody.AuditChains).
	cr, err := custody.AuditChainsWith(ctx, tx, opts)
	finish()
	if err != nil {
		fmt.Fprintln(stderr, "valise audit:", err)
		return 1
	}
	if cr.Problem != nil {
		fmt.Fprintf(stdout, "INCONSISTENT: %s\n", cr.Problem.Message)
		fmt.Fprintf(stdout, "first entry at fault: event %d of bag %s (log entry %d)\n", cr.Problem.EventID, cr.Problem.BagID, cr.Problem.LogEntry)
		return 1
	}
	if cr.Disagreed > 0 {
		fmt.Fprintf(stdout, "INCONSISTENT: %d rows disagree with the bags' history:\n", cr.Disagreed)
		for _, dg := range cr.Disagreements {
			fmt.Fprintf(stdout, "  %s\n", dg.Message)
		}
		if more := cr.Disagreed - len(cr.Disagreements); more > 0 {
			fmt.Fprintf(stdout, "  ... and %d more\n", more)
		}
		return 1
	}
	fmt.Fprintf(stdout, "consistent: %d leaves, %d checkpoints, %d interior nodes checked; root %x; %d bag chains, %d events linked and replayed\n",
		r.Leaves, r.Checkpoints, r.Nodes, r.Root, cr.Bags, cr.Events)
	return 0
}

// auditReceipt verifies a C2SP tlog-proof offline: no database, no network.
func auditReceipt(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("valise audit receipt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	key := fs.String("key", "", "the log's verifier key (name+hash+key text) or a file holding it (required)")
	leafFile := fs.String("leaf", "", "file with the entry's bytes (default: the receipt's extra data)")
	var witnesses []string
	fs.Func("witness", "a witness verifier key (or file) whose cosignature is required; repeatable", func(s string) error {
		witnesses = append(witnesses, s)
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: valise audit receipt FILE --key KEY|FILE [--leaf FILE] [--witness KEY|FILE]...\n\nVerifies a custody receipt (C2SP tlog-proof) offline.\n\nFlags:")
		fs.PrintDefaults()
	}
	// Allow the FILE before or after the flags.
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return flagExit(err, stderr)
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	if file == "" || *key == "" {
		fmt.Fprintln(stderr, "usage: valise audit receipt FILE --key KEY|FILE [--leaf FILE] [--witness KEY|FILE]...")
		return 2
	}
	v, err := verifierArg(*key)
	if err != nil {
		fmt.Fprintln(stderr, "valise audit receipt:", err)
		return 2
	}
	var ws []note.Verifier
	for _, w := range witnesses {
		wv, err := verifierArg(w)
		if err != nil {
			fmt.Fprintln(stderr, "valise audit receipt:", err)
			return 2
		}
		ws = append(ws, wv)
	}
	rec, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(stderr, "valise audit receipt:", err)
		return 2
	}
	var leaf []byte
	if *leafFile != "" {
		if leaf, err = os.ReadFile(*leafFile); err != nil {
			fmt.Fprintln(stderr, "valise audit receipt:", err)
			return 2
		}
	}
	got, err := tlog.VerifyReceipt(rec, leaf, v, ws...)
	if err != nil {
		fmt.Fprintf(stdout, "INVALID: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "valid: entry %d is in %s at tree size %d (root %x)", got.Index, got.Checkpoint.Origin, got.Checkpoint.Size, got.Checkpoint.Root)
	if len(got.Witnesses) > 0 {
		fmt.Fprintf(stdout, ", cosigned by %s", strings.Join(got.Witnesses, ", "))
	}
	fmt.Fprintln(stdout)
	return 0
}

// verifierArg parses a note verifier key given as text or as a file path.
func verifierArg(s string) (note.Verifier, error) {
	text := strings.TrimSpace(s)
	if b, err := os.ReadFile(s); err == nil {
		text = strings.TrimSpace(string(b))
	}
	v, err := note.NewVerifier(text)
	if err != nil {
		return nil, fmt.Errorf("bad verifier key %q: %w", s, err)
	}
	return v, nil
}

// takeFlag removes --name VALUE / --name=VALUE from args and returns VALUE.
func takeFlag(args []string, name string) (string, []string) {
	var val string
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--"+name || a == "-"+name:
			if i+1 < len(args) {
				val = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--"+name+"=") || strings.HasPrefix(a, "-"+name+"="):
			val = a[strings.Index(a, "=")+1:]
		default:
			rest = append(rest, a)
		}
	}
	return val, rest
}
