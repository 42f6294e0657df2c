package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"valise/crypto/secret"
	"valise/demo"
	"valise/internal/db"
	"valise/internal/pgcluster"
	"valise/migrations"
)

// database is an open pool and, when no URL was configured, the private
// cluster behind it.
type database struct {
	Pool     *pgxpool.Pool
	Cluster  *pgcluster.Cluster // nil with VALISE_DATABASE_URL
	Embedded bool
}

// openDatabase connects to VALISE_DATABASE_URL, or starts the private
// cluster under the data directory, or, when another valise process (a
// running serve) already runs that cluster, connects to it. It waits for
// the server with backoff, saying so, until ctx ends.
func openDatabase(ctx context.Context, c *config, log *slog.Logger) (*database, error) {
	return connect(ctx, c, log, true)
}

// connect is openDatabase; serve passes shared=false, because its cluster
// must live as long as it does.
func connect(ctx context.Context, c *config, log *slog.Logger, shared bool) (*database, error) {
	d := &database{}
	url := c.DatabaseURL
	if url == "" {
		cl, err := pgcluster.Start(ctx, pgcluster.Options{Dir: c.DataDir, Durable: true,
			Logf: func(f string, a ...any) { log.Info(fmt.Sprintf(f, a...)) }})
		if errors.Is(err, pgcluster.ErrLocked) {
			cl, err = attach(c.DataDir, err, shared, log)
		}
		if err != nil {
			return nil, err
		}
		d.Cluster, d.Embedded, url = cl, true, cl.URL()
	}
	pool, err := db.Open(ctx, url, db.Options{MaxConns: int32(c.DBMaxConns)})
	if err != nil {
		d.Close()
		return nil, err
	}
	d.Pool = pool
	backoff := 250 * time.Millisecond
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := pool.Ping(pctx)
		cancel()
		if err == nil {
			return d, nil
		}
		log.Warn("database not reachable; retrying", "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			d.Close()
			return nil, fmt.Errorf("database not reachable: %w", err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// attach connects to the cluster another valise process runs on dir; a
// serve may not (its cluster would stop with the other process).
func attach(dir string, locked error, shared bool, log *slog.Logger) (*pgcluster.Cluster, error) {
	cl, err := pgcluster.Attach(dir)
	if err != nil {
		return nil, fmt.Errorf("%w; stop that process, or connect with --database-url", err)
	}
	if !shared {
		return nil, fmt.Errorf("%w: %s (valise pid %d runs its cluster on 127.0.0.1:%d). Stop that process first; "+
			"to run several API processes, point each at one shared PostgreSQL with VALISE_DATABASE_URL (docs/operations.md)",
			pgcluster.ErrLocked, cl.Dir, cl.OwnerPID, cl.Port)
	}
	log.Info("the private cluster is run by another valise process; connecting to it", "pid", cl.OwnerPID, "port", cl.Port)
	return cl, nil
}

// Close closes the pool and stops the private cluster.
func (d *database) Close() {
	if d.Pool != nil {
		d.Pool.Close()
	}
	if d.Cluster != nil {
		_ = d.Cluster.Stop()
	}
}

func migrateUp(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	m, err := migrations.New(pool)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	return m.Up(ctx)
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// The verb may come before or after the flags (flag parsing stops at
	// the first non-flag argument).
	var verb string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	c, fs, err := cli{name: "migrate", synopsis: "up|down|status [flags]",
		about:    "up applies every embedded migration not yet applied (in any order), down rolls back the\nnewest one, status lists each with applied or pending. Works while serve runs on the\nprivate cluster (it connects to that cluster).",
		settings: dbSettings}.parse(args, stderr)
	if err != nil {
		return flagExit(err, stderr)
	}
	if verb == "" {
		verb = fs.Arg(0)
	}
	if verb != "up" && verb != "down" && verb != "status" {
		fmt.Fprintln(stderr, "usage: valise migrate up|down|status [flags]")
		return 2
	}
	log := c.logger(stderr)
	d, err := openDatabase(ctx, c, log)
	if err != nil {
		fmt.Fprintln(stderr, "valise migrate:", err)
		return 1
	}
	defer d.Close()
	m, err := migrations.New(d.Pool)
	if err != nil {
		fmt.Fprintln(stderr, "valise migrate:", err)
		return 1
	}
	defer m.Close()
	switch verb {
	case "up":
		n, err := m.Up(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "valise migrate:", err)
			return 1
		}
		fmt.Fprintf(stdout, "applied %d migrations\n", n)
	case "down":
		if err := m.Down(ctx); err != nil {
			fmt.Fprintln(stderr, "valise migrate:", err)
			return 1
		}
		fmt.Fprintln(stdout, "rolled back one migration")
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "valise migrate:", err)
			return 1
		}
		for _, s := range st {
			state := "pending"
			if s.Applied {
				state = "applied"
			}
			fmt.Fprintf(stdout, "%05d  %-8s %s\n", s.Version, state, s.Name)
		}
	}
	return 0
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, _, err := cli{name: "demo", synopsis: "[flags]",
		about:    "Loads the demo data (units, users, seal keys, mail) into the configured database;\nrunning it twice changes nothing.",
		settings: append([]string{"demo-password"}, dbSettings...)}.parse(args, stderr)
	if err != nil {
		return flagExit(err, stderr)
	}
	log := c.logger(stderr)
	d, err := openDatabase(ctx, c, log)
	if err != nil {
		fmt.Fprintln(stderr, "valise demo:", err)
		return 1
	}
	defer d.Close()
	if _, err := migrateUp(ctx, d.Pool); err != nil {
		fmt.Fprintln(stderr, "valise demo:", err)
		return 1
	}
	master, err := secret.LoadMasterKey(c.DataDir)
	if err != nil {
		fmt.Fprintln(stderr, "valise demo:", err)
		return 1
	}
	logins, err := demo.Load(ctx, d.Pool, demo.Options{Password: c.DemoPassword, MasterKey: master})
	if err != nil {
		fmt.Fprintln(stderr, "valise demo:", err)
		return 1
	}
	if err := pinServedRoot(ctx, d.Pool, c.DataDir, log); err != nil {
		fmt.Fprintln(stderr, "valise demo:", err)
		return 1
	}
	fmt.Fprintln(stdout, "demo data loaded")
	printLogins(stdout, logins)
	return 0
}

func printLogins(w io.Writer, logins []demo.Login) {
	if len(logins) == 0 {
		return
	}
	fmt.Fprintln(w, "demo logins (password from VALISE_DEMO_PASSWORD):")
	for _, l := range logins {
		fmt.Fprintf(w, "  %-12s %-18s %-8s %s\n", l.Username, l.Role, l.Unit, l.Clearance)
	}
}

// flagExit maps a flag parsing error to an exit code: 0 for --help.
func flagExit(err error, stderr io.Writer) int {
	if err == flag.ErrHelp {
		return 0
	}
	fmt.Fprintln(stderr, "valise:", err)
	return 2
}
