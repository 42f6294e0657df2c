// Package pgcluster runs a private PostgreSQL cluster under a data directory
// with the machine's own initdb and pg_ctl. It is how `valise serve` works
// with no database configured, and how tests get a server on a machine that
// has none running.
//
// PostgreSQL refuses to run as root, and these machines run everything as
// root: when the caller is root, the cluster's files belong to an
// unprivileged user (VALISE_PG_USER, default "postgres") and initdb, pg_ctl
// and the server run under that user's uid and gid.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries means initdb/pg_ctl could not be found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found: install them " +
	"(Debian/Ubuntu: apt-get install postgresql), set VALISE_PG_BINDIR to their directory, " +
	"or set VALISE_DATABASE_URL to use an existing server")

// ErrLocked means another process already runs a cluster on the data directory.
var ErrLocked = errors.New("data directory is in use by another valise process")

// PasswordFile is the file in the data directory holding the password of
// the cluster's only role (valise), generated on first start with mode 0600
// like master.key. The cluster accepts nothing but that password (SCRAM)
// over loopback TCP: no trust, no Unix socket.
const PasswordFile = "postgres.password"

// Options configure Start.
type Options struct {
	// Dir is the data directory; the cluster lives in Dir/postgres.
	Dir string
	// Durable keeps fsync on (the default for serve). Tests turn it off for speed.
	Durable bool
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Cluster is a running private cluster.
type Cluster struct {
	Dir    string // the data directory given to Start
	PGData string // Dir/postgres/data
	Port   int
	// Attached: the cluster belongs to another process (Attach); Stop
	// leaves it running.
	Attached bool
	// OwnerPID is the process that runs the cluster (this one unless Attached).
	OwnerPID int
	password string
	bin      string
	cred     *syscall.Credential
	lock     *os.File
	logf     func(string, ...any)
}

// Database is the name of the database Start creates for Valise.
const Database = "valise"

// URL is a connection string for the cluster's valise database. It holds
// the password: never log it.
func (c *Cluster) URL() string { return c.urlFor(Database) }

// AdminURL connects to the cluster's postgres maintenance database.
func (c *Cluster) AdminURL() string { return c.urlFor("postgres") }

func (c *Cluster) urlFor(db string) string {
	return fmt.Sprintf("postgres://valise:%s@127.0.0.1:%d/%s?sslmode=disable", c.password, c.Port, db)
}

// FindBinDir locates the directory holding initdb and pg_ctl: VALISE_PG_BINDIR,
// then PATH, then the newest /usr/lib/postgresql/*/bin (Debian's layout).
func FindBinDir() (string, error) {
	if d := os.Getenv("VALISE_PG_BINDIR"); d != "" {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
		return "", fmt.Errorf("VALISE_PG_BINDIR=%s has no initdb and pg_ctl: %w", d, ErrNoBinaries)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

// Tool returns the path of a PostgreSQL program (postgres, pg_dump,
// pg_restore) of the same installation as FindBinDir's initdb: in that
// directory, or where its pg_ctl really lives (FindBinDir may be a
// directory of symlinks, such as /usr/local/bin), else on PATH.
func Tool(name string) (string, error) {
	if d, err := FindBinDir(); err == nil {
		dirs := []string{d}
		if real, err := filepath.EvalSymlinks(filepath.Join(d, "pg_ctl")); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		for _, dir := range dirs {
			if isExec(filepath.Join(dir, name)) {
				return filepath.Join(dir, name), nil
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found: install the PostgreSQL client programs (Debian/Ubuntu: apt-get install "+
		"postgresql-client) or set VALISE_PG_BINDIR to their directory", name)
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Start locks the data directory, creates the cluster on first use, starts
// it on a free loopback port and makes sure the valise database exists.
// A second Start on the same directory, from any process, fails with ErrLocked.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	bin, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	c := &Cluster{Dir: dir, PGData: filepath.Join(dir, "postgres", "data"), bin: bin, logf: logf}
	if err := c.acquireLock(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			c.releaseLock()
		}
	}()
	if os.Geteuid() == 0 {
		if c.cred, err = unprivileged(); err != nil {
			return nil, err
		}
		// The data directory is ours: let the PostgreSQL user pass through it
		// (not list it) even if it was created 0700, e.g. for the master key.
		if st, err := os.Stat(dir); err == nil && st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(dir, st.Mode().Perm()|0o011); err != nil {
				return nil, fmt.Errorf("open the data directory to the PostgreSQL user: %w", err)
			}
		}
		if err := traversable(dir); err != nil {
			return nil, err
		}
	}
	if err := c.initOnce(o.Durable); err != nil {
		return nil, err
	}
	// A previous valise that was killed leaves its server running; stop it
	// (we hold the lock, so it is ours) and start afresh on a new port.
	if c.run(nil, "pg_ctl", "-D", c.PGData, "status") == nil {
		logf("stopping a cluster left running by an earlier process")
		_ = c.run(nil, "pg_ctl", "-D", c.PGData, "-m", "fast", "-w", "stop")
	}
	// Every start writes the access rules and sets the role's password
	// (a data directory made before passwords gets both here).
	if c.password, err = loadOrCreatePassword(dir); err != nil {
		return nil, err
	}
	if err := c.secure(); err != nil {
		return nil, err
	}
	if c.Port, err = freePort(); err != nil {
		return nil, err
	}
	logPath := filepath.Join(filepath.Dir(c.PGData), "postgres.log")
	logf("starting PostgreSQL (%s) on 127.0.0.1:%d, log %s", bin, c.Port, logPath)
	if err := c.run(nil, "pg_ctl", "-D", c.PGData, "-l", logPath, "-w", "-t", "60",
		"-o", fmt.Sprintf("-p %d", c.Port), "start"); err != nil {
		return nil, fmt.Errorf("start PostgreSQL: %w (see %s)", err, logPath)
	}
	if err := c.ensureDatabase(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	// Other valise commands on this data directory find the port here (Attach).
	c.OwnerPID = os.Getpid()
	_ = c.lock.Truncate(0)
	_, _ = c.lock.WriteAt([]byte(fmt.Sprintf("%d\n%d\n", c.OwnerPID, c.Port)), 0)
	ok = true
	return c, nil
}

// Attach returns the cluster that another process runs on the data
// directory dir (it holds the lock): the port it recorded in the lock file
// and the password in PasswordFile. Stop on the result leaves the cluster
// running. It fails when nobody runs the cluster or it is still starting.
func Attach(dir string) (*Cluster, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, PGData: filepath.Join(dir, "postgres", "data"), Attached: true}
	b, err := os.ReadFile(filepath.Join(dir, "valise.lock"))
	if err != nil {
		return nil, fmt.Errorf("read the lock file of %s: %w", dir, err)
	}
	f := strings.Fields(string(b))
	if len(f) > 0 {
		c.OwnerPID, _ = strconv.Atoi(f[0])
	}
	if len(f) < 2 {
		return nil, fmt.Errorf("%w: %s (valise pid %s is still starting its cluster; try again in a moment)", ErrLocked, dir, strings.Join(f, ""))
	}
	if c.Port, err = strconv.Atoi(f[1]); err != nil || c.Port <= 0 || c.Port > 65535 {
		return nil, fmt.Errorf("lock file of %s: bad port %q", dir, f[1])
	}
	pw, err := os.ReadFile(filepath.Join(dir, PasswordFile))
	if err != nil {
		return nil, fmt.Errorf("read the cluster's password: %w", err)
	}
	c.password = strings.TrimSpace(string(pw))
	return c, nil
}

// Stop shuts the server down (fast mode: open transactions roll back,
// committed data is safe) and releases the data directory lock.
func (c *Cluster) Stop() error {
	if c.Attached {
		return nil
	}
	defer c.releaseLock()
	if err := c.run(nil, "pg_ctl", "-D", c.PGData, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("stop PostgreSQL: %w", err)
	}
	return nil
}

// Kill stops the server immediately (immediate mode, as after a crash),
// without releasing the lock: tests use it to take the database away.
func (c *Cluster) Kill() error {
	return c.run(nil, "pg_ctl", "-D", c.PGData, "-m", "immediate", "-w", "stop")
}

// Restart starts a stopped server again on the same port.
func (c *Cluster) Restart() error {
	logPath := filepath.Join(filepath.Dir(c.PGData), "postgres.log")
	return c.run(nil, "pg_ctl", "-D", c.PGData, "-l", logPath, "-w", "-t", "60",
		"-o", fmt.Sprintf("-p %d", c.Port), "start")
}

func (c *Cluster) acquireLock() error {
	f, err := os.OpenFile(filepath.Join(c.Dir, "valise.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(f.Name())
		f.Close()
		return fmt.Errorf("%w: %s (held by pid %s)", ErrLocked, c.Dir, strings.TrimSpace(string(b)))
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	c.lock = f
	return nil
}

func (c *Cluster) releaseLock() {
	if c.lock != nil {
		_ = syscall.Flock(int(c.lock.Fd()), syscall.LOCK_UN)
		c.lock.Close()
		c.lock = nil
	}
}

// initOnce runs initdb unless the cluster already exists, and writes the
// settings Valise depends on: loopback only, no Unix socket (paths under a
// data directory may exceed the socket path limit). secure then replaces
// initdb's trust rules before the server first starts.
func (c *Cluster) initOnce(durable bool) error {
	if _, err := os.Stat(filepath.Join(c.PGData, "PG_VERSION")); err == nil {
		return nil
	}
	root := filepath.Dir(c.PGData)
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	if c.cred != nil {
		if err := os.Chown(root, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("give the cluster directory to the PostgreSQL user: %w", err)
		}
	}
	c.logf("creating a PostgreSQL cluster in %s", c.PGData)
	if err := c.run(nil, "initdb", "-D", c.PGData, "-U", "valise", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-instructions"); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	conf := "\n# written by valise\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n" +
		"max_connections = 200\nlog_min_messages = warning\n"
	if !durable {
		conf += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
	}
	f, err := os.OpenFile(filepath.Join(c.PGData, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(conf)
	return err
}

func (c *Cluster) ensureDatabase(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.AdminURL())
	if err != nil {
		return fmt.Errorf("connect to the new cluster: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", Database).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+Database); err != nil {
			return fmt.Errorf("create database: %w", err)
		}
	}
	return nil
}

// run executes a PostgreSQL program from the bin directory, as the
// unprivileged user when we are root, and folds its output into the error.
func (c *Cluster) run(env []string, name string, args ...string) error {
	return c.runInput(nil, env, name, args...)
}

// runInput is run with stdin.
func (c *Cluster) runInput(stdin io.Reader, env []string, name string, args ...string) error {
	path := filepath.Join(c.bin, name)
	if !isExec(path) {
		if p, err := Tool(name); err == nil {
			path = p
		}
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin = stdin
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Env = append(cmd.Env, env...)
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// The server must not die with us on Ctrl-C before we stop it cleanly.
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return nil
}

// unprivileged returns the credentials of the user the cluster runs as
// when we are root.
func unprivileged() (*syscall.Credential, error) {
	name := os.Getenv("VALISE_PG_USER")
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs an unprivileged user to run as; "+
			"user %q not found (create it, e.g. `useradd --system %s`, or set VALISE_PG_USER): %w", name, name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == 0 {
		return nil, fmt.Errorf("VALISE_PG_USER=%s is root; PostgreSQL needs an unprivileged user", name)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// traversable checks that the unprivileged user can reach dir: every
// ancestor must be searchable by others.
func traversable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("the PostgreSQL user cannot reach %s: %s is not searchable by others "+
				"(chmod o+x it, or choose another VALISE_DATA_DIR)", dir, d)
		}
		if d == "/" || d == filepath.Dir(d) {
			return nil
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
