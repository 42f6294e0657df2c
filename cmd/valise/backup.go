package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/crypto/secret"
	"valise/internal/pgcluster"
	"valise/migrations"
	"valise/tlog"
)

// backupFormat names the layout of a backup file: a tar archive holding
// manifest.json, master.key, seal-root.pub (when pinned) and database.dump
// (pg_dump's custom format).
const backupFormat = "valise-backup-1"

// manifest describes a backup. The log figures come from the same snapshot
// as the dump, so a restore can be checked against them.
type manifest struct {
	Format        string    `json:"format"`
	CreatedAt     time.Time `json:"created_at"`
	Valise        string    `json:"valise_version"`
	Migrations    []int64   `json:"migrations"`
	LogKey        string    `json:"log_key,omitempty"`
	LogSize       uint64    `json:"log_size"`
	LogRoot       string    `json:"log_root,omitempty"`
	DumpSHA256    string    `json:"dump_sha256"`
	MasterKeyHash string    `json:"master_key_sha256"` // identifies the key without revealing it
}

// pgEnv turns a connection URL into one without its password and an
// environment carrying it (PGPASSWORD), so the password never shows in a
// process list.
func pgEnv(dbURL string) (string, []string) {
	u, err := url.Parse(dbURL)
	if err != nil || u.User == nil {
		return dbURL, os.Environ()
	}
	pw, ok := u.User.Password()
	if !ok {
		return dbURL, os.Environ()
	}
	u.User = url.User(u.User.Username())
	return u.String(), append(os.Environ(), "PGPASSWORD="+pw)
}

// runPG runs a PostgreSQL client program and folds its output into the error.
func runPG(ctx context.Context, env []string, stdout io.Writer, name string, args ...string) error {
	bin, err := pgcluster.Tool(name)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if strings.Contains(msg, "server version") {
			msg += " (use the client programs of the server's version or newer: VALISE_PG_BINDIR)"
		}
		return fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return nil
}

// databaseURL is where d's pool connects (the private cluster's URL, with
// its password, or the configured one).
func (d *database) url(c *config) string {
	if d.Cluster != nil {
		return d.Cluster.URL()
	}
	return c.DatabaseURL
}

// runBackup is `valise backup [--out FILE]`.
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var out string
	c, fs, err := cli{name: "backup", synopsis: "[--out FILE] [flags]",
		about: "Writes one file (mode 0600) holding a consistent dump of the database (pg_dump of one\n" +
			"snapshot, taken while the server keeps running) and the key material every sealed private\n" +
			"key depends on: the master key and the pinned seal root key. Anyone holding the file holds\n" +
			"every key: keep it offline, encrypted, like the master key itself. Restore with valise restore.",
		settings: dbSettings,
		own: func(fs *flag.FlagSet) {
			fs.StringVar(&out, "out", "", "the backup file to create (default valise-backup-<UTC time>.tar); never overwritten")
		}}.parse(args, stderr)
	if err != nil {
		return flagExit(err, stderr)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "valise backup: unexpected argument %q (the file is --out FILE)\n", fs.Arg(0))
		return 2
	}
	if out == "" {
		out = "valise-backup-" + time.Now().UTC().Format("20060102T150405Z") + ".tar"
	}
	if err := backup(ctx, c, out, stderr); err != nil {
		fmt.Fprintln(stderr, "valise backup:", err)
		return 1
	}
	fmt.Fprintf(stdout, "backup written to %s\n", out)
	return 0
}

func backup(ctx context.Context, c *config, out string, stderr io.Writer) error {
	master, err := secret.LoadMasterKey(c.DataDir)
	if err != nil {
		return err
	}
	d, err := openDatabase(ctx, c, c.logger(stderr))
	if err != nil {
		return err
	}
	defer d.Close()
	m := manifest{Format: backupFormat, CreatedAt: time.Now().UTC(), Valise: valise.Version}
	mk := sha256.Sum256(master)
	m.MasterKeyHash = hex.EncodeToString(mk[:])

	// One snapshot for the figures and the dump: this transaction exports
	// it and stays open until pg_dump has read everything.
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadOnly, DeferrableMode: pgx.Deferrable})
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	var snapshot string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snapshot); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, "SELECT DISTINCT version_id FROM goose_db_version WHERE is_applied AND version_id > 0 ORDER BY 1")
	if err != nil {
		return fmt.Errorf("the database is not migrated: %w", err)
	}
	if m.Migrations, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return err
	}
	if m.LogKey, err = tlog.VerifierKey(ctx, tx); err != nil && valise.ErrorCode(err) != valise.ENOTFOUND {
		return err
	}
	if cp, err := tlog.LatestCheckpoint(ctx, tx); err == nil {
		m.LogSize, m.LogRoot = cp.Size, hex.EncodeToString(cp.Root)
	} else if valise.ErrorCode(err) != valise.ENOTFOUND {
		return err
	}

	dump, err := os.CreateTemp(filepath.Dir(out), ".valise-dump-*")
	if err != nil {
		return err
	}
	defer os.Remove(dump.Name())
	defer dump.Close()
	h := sha256.New()
	dsn, env := pgEnv(d.url(c))
	if err := runPG(ctx, env, io.MultiWriter(dump, h), "pg_dump", "--format=custom", "--snapshot="+snapshot,
		"--no-password", "--dbname="+dsn); err != nil {
		return err
	}
	_ = tx.Rollback(ctx)
	m.DumpSHA256 = hex.EncodeToString(h.Sum(nil))

	type entry struct {
		name string
		body io.Reader
		size int64
	}
	var files []entry
	mj, _ := json.MarshalIndent(m, "", "  ")
	add := func(name string, b []byte) { files = append(files, entry{name, bytes.NewReader(b), int64(len(b))}) }
	add("manifest.json", append(mj, '\n'))
	add(secret.KeyFile, []byte(base64.StdEncoding.EncodeToString(master)+"\n"))
	if pin, err := os.ReadFile(filepath.Join(c.DataDir, RootKeyFile)); err == nil {
		add(RootKeyFile, pin)
	}
	st, err := dump.Stat()
	if err != nil {
		return err
	}
	if _, err := dump.Seek(0, io.SeekStart); err != nil {
		return err
	}
	files = append(files, entry{"database.dump", dump, st.Size()})

	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create the backup file: %w", err)
	}
	tw := tar.NewWriter(f)
	werr := func() error {
		for _, e := range files {
			if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o600, Size: e.size, ModTime: m.CreatedAt, Typeflag: tar.TypeReg}); err != nil {
				return err
			}
			if _, err := io.Copy(tw, e.body); err != nil {
				return err
			}
		}
		return tw.Close()
	}()
	if err := f.Sync(); werr == nil {
		werr = err
	}
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		_ = os.Remove(out)
		return fmt.Errorf("write the backup file: %w", werr)
	}
	fmt.Fprintf(stderr, "backup: %d migrations, custody log at size %d, dump %s\n", len(m.Migrations), m.LogSize, humanBytes(st.Size()))
	return nil
}

func humanBytes(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", (n+1023)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// readBackup reads and checks a backup file: the manifest, the master key,
// the optional root pin, and the dump (written to a temporary file whose
// path it returns; the caller removes it).
func readBackup(path string) (m manifest, master, pin []byte, dumpPath string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return m, nil, nil, "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	h := sha256.New()
	var sawManifest bool
	for {
		hd, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return m, nil, nil, dumpPath, fmt.Errorf("%s is not a valise backup: %w", path, err)
		}
		switch hd.Name {
		case "manifest.json":
			b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
			if err != nil {
				return m, nil, nil, dumpPath, err
			}
			if err := json.Unmarshal(b, &m); err != nil || m.Format != backupFormat {
				return m, nil, nil, dumpPath, fmt.Errorf("%s: manifest is not %s", path, backupFormat)
			}
			sawManifest = true
		case secret.KeyFile:
			b, _ := io.ReadAll(io.LimitReader(tr, 4096))
			if master, err = base64.StdEncoding.DecodeString(strings.TrimSpace(string(b))); err != nil || len(master) != secret.KeySize {
				return m, nil, nil, dumpPath, fmt.Errorf("%s: the master key is damaged", path)
			}
		case RootKeyFile:
			pin, _ = io.ReadAll(io.LimitReader(tr, 4096))
		case "database.dump":
			df, err := os.CreateTemp("", ".valise-restore-*")
			if err != nil {
				return m, nil, nil, dumpPath, err
			}
			dumpPath = df.Name()
			_, err = io.Copy(io.MultiWriter(df, h), tr)
			if cerr := df.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return m, nil, nil, dumpPath, err
			}
			// pg_restore runs as this user; the file is readable by it alone.
		}
	}
	switch {
	case !sawManifest || master == nil || dumpPath == "":
		return m, nil, nil, dumpPath, fmt.Errorf("%s is incomplete: it needs manifest.json, %s and database.dump", path, secret.KeyFile)
	case hex.EncodeToString(h.Sum(nil)) != m.DumpSHA256:
		return m, nil, nil, dumpPath, fmt.Errorf("%s: the database dump does not match its checksum (damaged or altered)", path)
	}
	if mk := sha256.Sum256(master); hex.EncodeToString(mk[:]) != m.MasterKeyHash {
		return m, nil, nil, dumpPath, fmt.Errorf("%s: the master key does not match its checksum", path)
	}
	return m, master, pin, dumpPath, nil
}

// runRestore is `valise restore FILE`: into a fresh data directory's
// private cluster, or into the empty database of --database-url.
func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	c, fs, err := cli{name: "restore", synopsis: "FILE [flags]",
		about: "Restores a backup made by valise backup: the database into the private cluster of a fresh\n" +
			"data directory (none of master.key, postgres/ there yet), or into the empty database named by\n" +
			"--database-url; the master key and the seal root pin into the data directory. Nothing is\n" +
			"overwritten: a data directory or database that holds anything is refused. Then run\n" +
			"valise audit verify --key <the log key it prints> against the result.",
		settings: dbSettings}.parse(args, stderr)
	if err != nil {
		return flagExit(err, stderr)
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	if file == "" || fs.NArg() > 1 {
		fmt.Fprintln(stderr, "Usage: valise restore FILE [flags]  (valise restore --help)")
		return 2
	}
	m, err := restore(ctx, c, file, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "valise restore:", err)
		return 1
	}
	fmt.Fprintf(stdout, "restored %s (made %s): %d migrations, custody log at size %d (root %s)\n", file,
		m.CreatedAt.Format(time.RFC3339), len(m.Migrations), m.LogSize, m.LogRoot)
	if m.LogKey != "" {
		target := "--data-dir " + c.DataDir
		if c.DatabaseURL != "" {
			target = "--database-url URL " + target
		}
		fmt.Fprintf(stdout, "verify it: valise audit verify %s --key '%s'\n", target, m.LogKey)
	}
	return 0
}

func restore(ctx context.Context, c *config, file string, stderr io.Writer) (manifest, error) {
	m, master, pin, dumpPath, err := readBackup(file)
	if dumpPath != "" {
		defer os.Remove(dumpPath)
	}
	if err != nil {
		return m, err
	}
	// Where the master key will come from must be the backup's key.
	if v := os.Getenv(secret.EnvVar); v != "" {
		if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v)); err != nil || !bytes.Equal(k, master) {
			return m, fmt.Errorf("%s is set and is not the backup's master key: unset it (the key is restored to %s) or set the backup's",
				secret.EnvVar, filepath.Join(c.DataDir, secret.KeyFile))
		}
	}
	keyPath := filepath.Join(c.DataDir, secret.KeyFile)
	if old, err := os.ReadFile(keyPath); err == nil {
		if k, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(old))); !bytes.Equal(k, master) {
			return m, fmt.Errorf("%s holds another master key: restore into a fresh data directory (--data-dir)", keyPath)
		}
	}
	if c.DatabaseURL == "" {
		if _, err := os.Stat(filepath.Join(c.DataDir, "postgres")); !errors.Is(err, fs.ErrNotExist) {
			return m, fmt.Errorf("%s already has a private cluster: restore into a fresh data directory (--data-dir), or move it aside", c.DataDir)
		}
	}
	d, err := openDatabase(ctx, c, c.logger(stderr))
	if err != nil {
		return m, err
	}
	defer d.Close()
	var tables int
	if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&tables); err != nil {
		return m, err
	}
	if tables > 0 {
		return m, fmt.Errorf("the target database already holds %d tables: restore into an empty database", tables)
	}
	if known := migrations.Versions(); len(m.Migrations) > 0 && m.Migrations[len(m.Migrations)-1] > known[len(known)-1] {
		fmt.Fprintf(stderr, "note: the backup has migration %d, newer than this binary's %d: serve it with a valise at least as new\n",
			m.Migrations[len(m.Migrations)-1], known[len(known)-1])
	}
	dsn, env := pgEnv(d.url(c))
	if err := runPG(ctx, env, io.Discard, "pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
		"--single-transaction", "--no-password", "--dbname="+dsn, dumpPath); err != nil {
		return m, err
	}
	if err := secret.WriteKeyFile(c.DataDir, master); err != nil && !errors.Is(err, fs.ErrExist) {
		return m, err
	}
	if pin != nil {
		if err := os.WriteFile(filepath.Join(c.DataDir, RootKeyFile), pin, 0o644); err != nil {
			return m, err
		}
	}
	return m, nil
}
