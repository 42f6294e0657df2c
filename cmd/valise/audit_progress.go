package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"valise/crypto/secret"
	"valise/demo"
	"valise/internal/historygen"
	"valise/tlog"
)

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress prints an audit's progress to w: one line redrawn in place on a
// terminal, else a line every few seconds (and at each new phase).
type progress struct {
	w       io.Writer
	tty     bool
	start   time.Time
	last    time.Time
	phase   string
	pending string
}

func newProgress(w io.Writer, tty bool) *progress {
	return &progress{w: w, tty: tty, start: time.Now()}
}

func (p *progress) report(r tlog.Progress) {
	now := time.Now()
	line := fmt.Sprintf("audit: %s %d", r.Phase, r.Done)
	if r.Total > 0 {
		line += fmt.Sprintf(" of ~%d (%d%%)", r.Total, min(100, 100*r.Done/r.Total))
	}
	line += fmt.Sprintf(", %s", now.Sub(p.start).Round(time.Second))
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	if r.Phase == p.phase && now.Sub(p.last) < every {
		p.pending = line
		return
	}
	if p.phase != "" && r.Phase != p.phase && p.pending != "" {
		p.print(p.pending) // the last figure of the phase that ended
		if p.tty {
			fmt.Fprintln(p.w)
		}
	} else if p.tty && p.phase != "" && r.Phase != p.phase {
		fmt.Fprintln(p.w)
	}
	p.phase, p.last, p.pending = r.Phase, now, ""
	p.print(line)
}

func (p *progress) print(line string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		return
	}
	fmt.Fprintln(p.w, line)
}

func (p *progress) done() {
	if p.pending != "" {
		p.print(p.pending)
	}
	if p.tty && p.phase != "" {
		fmt.Fprintln(p.w)
	}
}

// takeBool removes --name / --name=true|false from args and reports it.
func takeBool(args []string, name string) (bool, []string) {
	val := false
	var rest []string
	for _, a := range args {
		switch {
		case a == "--"+name || a == "-"+name:
			val = true
		case strings.HasPrefix(a, "--"+name+"=") || strings.HasPrefix(a, "-"+name+"="):
			val, _ = strconv.ParseBool(a[strings.Index(a, "=")+1:])
		default:
			rest = append(rest, a)
		}
	}
	return val, rest
}

// auditGenerate is the hidden `valise audit generate --events N [--per-bag
// 10] [--append]`: it fills a database whose custody log is still empty
// (--append: or was filled by this command) with a synthetic history (internal/historygen) so `valise audit verify` can be
// measured on millions of events. It loads the demo units when missing and
// signs with the log key of --data-dir's master key.
func auditGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		events, perBag int
		appendTo       bool
	)
	c, _, err := cli{name: "audit generate", synopsis: "--events N [--per-bag 10] [--append] [flags]",
		about:    "Fills a scratch database with a synthetic custody history, for measuring audit verify.",
		settings: dbSettings,
		own: func(fs *flag.FlagSet) {
			fs.IntVar(&events, "events", 0, "events to generate")
			fs.IntVar(&perBag, "per-bag", 0, "events per bag (default 10)")
			fs.BoolVar(&appendTo, "append", false, "add to a log this command generated")
		}}.parse(args, stderr)
	if err != nil {
		return flagExit(err, stderr)
	}
	if events < 1 || perBag < 0 {
		fmt.Fprintln(stderr, "usage: valise audit generate --events N [--per-bag 10] [--append] [flags] (a scratch database only)")
		return 2
	}
	log := c.logger(stderr)
	d, err := openDatabase(ctx, c, log)
	if err != nil {
		fmt.Fprintln(stderr, "valise audit generate:", err)
		return 1
	}
	defer d.Close()
	// Refuse before anything is written, migrations included.
	var used bool
	err = d.Pool.QueryRow(ctx, `SELECT to_regclass('tlog_entries') IS NOT NULL`).Scan(&used)
	if err == nil && used {
		err = d.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tlog_entries)`).Scan(&used)
	}
	if err != nil || used && !appendTo {
		fmt.Fprintln(stderr, "valise audit generate: refused: the database's custody log is not empty (use a scratch database)", err)
		return 1
	}
	if !appendTo { // appending: the schema is the one the first run left
		if _, err := migrateUp(ctx, d.Pool); err != nil {
			fmt.Fprintln(stderr, "valise audit generate: migrate:", err)
			return 1
		}
	}
	if err := demo.LoadUnits(ctx, d.Pool); err != nil {
		fmt.Fprintln(stderr, "valise audit generate: units:", err)
		return 1
	}
	master, err := secret.LoadMasterKey(c.DataDir)
	if err != nil {
		fmt.Fprintln(stderr, "valise audit generate:", err)
		return 1
	}
	key, err := tlog.LoadOrCreateKey(ctx, d.Pool, c.LogOrigin, master)
	if err != nil {
		fmt.Fprintln(stderr, "valise audit generate:", err)
		return 1
	}
	start := time.Now()
	r, err := historygen.Generate(ctx, d.Pool, historygen.Options{Events: events, PerBag: perBag, Key: key,
		Progress: func(n int) {
			fmt.Fprintf(stderr, "generated %d events, %s\n", n, time.Since(start).Round(time.Second))
		}})
	if err != nil {
		fmt.Fprintln(stderr, "valise audit generate:", err)
		return 1
	}
	fmt.Fprintf(stdout, "generated %d events of %d bags (v2 leaves: %v) in %s; log key %s\n",
		r.Events, r.Bags, r.V2, time.Since(start).Round(time.Second), key.VerifierKey)
	return 0
}
