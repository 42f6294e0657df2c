package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"valise/identity"
)

// config is every setting of `valise serve` and the database tools. Each
// comes from an environment variable and can be overridden by a flag.
type config struct {
	Addr            string
	DatabaseURL     string
	DataDir         string
	Demo            string
	DemoPassword    string
	LogLevel        string
	LogFormat       string
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration
	MaxBodyBytes    int64
	DBMaxConns      int64
	LogOrigin       string
	TrustStale      time.Duration // trust list stale-after period (crypto/keyring)
	SealLifetime    time.Duration // expiry minus issued-at of new seals
	Alerts          alertConfig   // alert delivery (cmd/valise/alerts.go)
	TLSCert         string
	TLSKey          string
	AllowPlainHTTP  bool
	MetricsAddr     string
	// Login throttling (identity.Config, api.Config.LoginRate).
	LoginRate           int64
	LoginFreeFailures   int64
	LoginBackoffBase    time.Duration
	LoginBackoffMax     time.Duration
	LoginAccountCeiling int64
	LoginAccountWindow  time.Duration
}

// setting documents one variable; the table drives flags, --help and the README.
type setting struct {
	env, flag, def, help string
	bind                 func(fs *flag.FlagSet, c *config, name, usage string)
}

func str(p func(*config) *string) func(*flag.FlagSet, *config, string, string) {
	return func(fs *flag.FlagSet, c *config, name, usage string) { fs.StringVar(p(c), name, "", usage) }
}

func dur(p func(*config) *time.Duration) func(*flag.FlagSet, *config, string, string) {
	return func(fs *flag.FlagSet, c *config, name, usage string) { fs.DurationVar(p(c), name, 0, usage) }
}

func boolean(p func(*config) *bool) func(*flag.FlagSet, *config, string, string) {
	return func(fs *flag.FlagSet, c *config, name, usage string) { fs.BoolVar(p(c), name, false, usage) }
}

func num(p func(*config) *int64) func(*flag.FlagSet, *config, string, string) {
	return func(fs *flag.FlagSet, c *config, name, usage string) { fs.Int64Var(p(c), name, 0, usage) }
}

var settings = []setting{
	{"VALISE_ADDR", "addr", "127.0.0.1:8080", "address the HTTP server listens on", str(func(c *config) *string { return &c.Addr })},
	{"VALISE_DATABASE_URL", "database-url", "", "PostgreSQL URL; empty starts a private cluster under the data directory", str(func(c *config) *string { return &c.DatabaseURL })},
	{"VALISE_DATA_DIR", "data-dir", "./.valise", "data directory (private cluster, generated keys)", str(func(c *config) *string { return &c.DataDir })},
	{"VALISE_DEMO", "demo", "auto", "load demo data at start: auto (only with the private cluster), true, false", str(func(c *config) *string { return &c.Demo })},
	{"VALISE_DEMO_PASSWORD", "demo-password", "valise-demo", "password of every demo account", str(func(c *config) *string { return &c.DemoPassword })},
	{"VALISE_LOG_LEVEL", "log-level", "info", "debug, info, warn or error", str(func(c *config) *string { return &c.LogLevel })},
	{"VALISE_LOG_FORMAT", "log-format", "text", "text or json", str(func(c *config) *string { return &c.LogFormat })},
	{"VALISE_REQUEST_TIMEOUT", "request-timeout", "30s", "longest time one request may take", dur(func(c *config) *time.Duration { return &c.RequestTimeout })},
	{"VALISE_SHUTDOWN_TIMEOUT", "shutdown-timeout", "15s", "how long shutdown waits for requests to drain", dur(func(c *config) *time.Duration { return &c.ShutdownTimeout })},
	{"VALISE_MAX_BODY_BYTES", "max-body-bytes", "1048576", "largest request body accepted, in bytes", num(func(c *config) *int64 { return &c.MaxBodyBytes })},
	{"VALISE_DB_MAX_CONNS", "db-max-conns", "16", "database pool size", num(func(c *config) *int64 { return &c.DBMaxConns })},
	{"VALISE_LOG_ORIGIN", "log-origin", "valise.example/custody", "origin line of the custody log's checkpoints (the log's identity)", str(func(c *config) *string { return &c.LogOrigin })},
	{"VALISE_TRUST_STALE_AFTER", "trust-stale-after", "168h", "how long after issue a seal trust list is stale (phones refuse it without --allow-stale)", dur(func(c *config) *time.Duration { return &c.TrustStale })},
	{"VALISE_SEAL_LIFETIME", "seal-lifetime", "720h", "how long a bag's seals stay valid after issue (at most 8784h)", dur(func(c *config) *time.Duration { return &c.SealLifetime })},
	{"VALISE_PUBLIC_URL", "public-url", "http://127.0.0.1:8080", "base URL people reach Valise at; alert e-mails and webhooks link to <public-url>/api/v1/alerts/<id>", str(func(c *config) *string { return &c.Alerts.PublicURL })},
	{"VALISE_SMTP_ADDR", "smtp-addr", "", "mail relay (host:port) for alert e-mails; empty sends none (deliveries are recorded as failed)", str(func(c *config) *string { return &c.Alerts.SMTPAddr })},
	{"VALISE_SMTP_FROM", "smtp-from", "", "sender address of alert e-mails", str(func(c *config) *string { return &c.Alerts.SMTPFrom })},
	{"VALISE_SMTP_USERNAME", "smtp-username", "", "optional SMTP PLAIN auth user (the password only from the environment: VALISE_SMTP_PASSWORD); needs STARTTLS unless the relay is on loopback", str(func(c *config) *string { return &c.Alerts.SMTPUsername })},
	{"VALISE_ALERT_INTERVAL", "alert-interval", "30s", "pause between alert scans and delivery rounds", dur(func(c *config) *time.Duration { return &c.Alerts.Interval })},
	{"VALISE_LOGIN_RATE", "login-rate", "20", "failed logins one address may make per minute, over all usernames (successes do not count)", num(func(c *config) *int64 { return &c.LoginRate })},
	{"VALISE_LOGIN_FREE_FAILURES", "login-free-failures", "3", "failed logins one address may make on one username before it is backed off", num(func(c *config) *int64 { return &c.LoginFreeFailures })},
	{"VALISE_LOGIN_BACKOFF_BASE", "login-backoff-base", "1s", "first back-off of an address on a username; doubles with each further failure", dur(func(c *config) *time.Duration { return &c.LoginBackoffBase })},
	{"VALISE_LOGIN_BACKOFF_MAX", "login-backoff-max", "15m", "longest back-off of an address on a username", dur(func(c *config) *time.Duration { return &c.LoginBackoffMax })},
	{"VALISE_LOGIN_ACCOUNT_CEILING", "login-account-ceiling", "50", "failed logins on one username from all addresses within the window that lock it (a security officer can lift the lock)", num(func(c *config) *int64 { return &c.LoginAccountCeiling })},
	{"VALISE_LOGIN_ACCOUNT_WINDOW", "login-account-window", "1h", "window of the account ceiling, and how long its lock lasts", dur(func(c *config) *time.Duration { return &c.LoginAccountWindow })},
	{"VALISE_TLS_CERT", "tls-cert", "", "PEM certificate chain; with tls-key the server speaks HTTPS only (TLS 1.2+) and sends HSTS", str(func(c *config) *string { return &c.TLSCert })},
	{"VALISE_TLS_KEY", "tls-key", "", "PEM private key of tls-cert", str(func(c *config) *string { return &c.TLSKey })},
	{"VALISE_ALLOW_PLAIN_HTTP", "allow-plain-http", "false", "serve plain HTTP on a non-loopback address (TLS ends at a proxy in front; responses then carry HSTS for it to pass on)", boolean(func(c *config) *bool { return &c.AllowPlainHTTP })},
	{"VALISE_METRICS_ADDR", "metrics-addr", "", "serve /metrics on this address only, not on the API's", str(func(c *config) *string { return &c.MetricsAddr })},
}

// envOnly are settings read from the environment only (no flag): secrets
// stay out of process lists, and the PostgreSQL ones are read by
// internal/pgcluster. serve --help lists them; the README's table too.
var envOnly = []struct{ env, def, help string }{
	{"VALISE_MASTER_KEY", "<data-dir>/master.key", "base64 of the 32-byte master key that seals every private key at rest; when unset, the key file is created (0600) on first start"},
	{"VALISE_PG_BINDIR", "(search)", "where initdb, pg_ctl, postgres and pg_dump are; else PATH, else the newest /usr/lib/postgresql/*/bin"},
	{"VALISE_PG_USER", "postgres", "when run as root, the unprivileged user the private cluster runs as"},
	{"VALISE_SMTP_PASSWORD", "(none)", "password of smtp-username for the alert mail relay"},
	{"VALISE_METRICS_TOKEN", "(none)", "bearer token /metrics requires (Authorization: Bearer TOKEN); unset, /metrics is open to whoever reaches its address"},
}

// dbSettings are the settings of every command that opens the database.
var dbSettings = []string{"database-url", "data-dir", "log-level", "log-format"}

// cli describes one command line: its synopsis, what it does, which
// settings it reads (their flags are its flags) and its own flags.
type cli struct {
	name     string // "migrate", "keys issue"
	synopsis string // after "valise <name> "
	about    string
	settings []string // flag names of the settings shown; nil means every setting
	own      func(fs *flag.FlagSet)
}

// parseConfig parses the flags of a command that reads every setting (serve).
func parseConfig(name string, args []string, stderr io.Writer) (*config, *flag.FlagSet, error) {
	return cli{name: name, synopsis: "[flags]"}.parse(args, stderr)
}

// help prints the command's usage, as --help does.
func (s cli) help(w io.Writer) { _, _, _ = s.parse([]string{"--help"}, w) }

// usage prints the command's synopsis, description and flags.
func (s cli) usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "Usage: valise %s %s\n", s.name, s.synopsis)
	if s.about != "" {
		fmt.Fprintf(w, "\n%s\n", s.about)
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nFlags (a setting's flag can also be set by the environment variable named with it):")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if s.settings == nil {
		fmt.Fprintln(w, "\nEnvironment only:")
		for _, e := range envOnly {
			fmt.Fprintf(w, "  %s (default %s)\n    \t%s\n", e.env, e.def, e.help)
		}
	}
}

// parse applies, in order, each setting's default, its environment
// variable, then the flags in args. A bad value names where it came from.
// Settings the command does not show still take their default and
// environment value.
func (s cli) parse(args []string, stderr io.Writer) (*config, *flag.FlagSet, error) {
	c := &config{}
	fs := flag.NewFlagSet("valise "+s.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	hidden := flag.NewFlagSet("hidden", flag.ContinueOnError)
	shown := map[string]bool{}
	for _, n := range s.settings {
		shown[n] = true
	}
	for _, st := range settings {
		set := hidden
		if s.settings == nil || shown[st.flag] {
			set = fs
		}
		st.bind(set, c, st.flag, fmt.Sprintf("%s (env %s, default %q)", st.help, st.env, st.def))
		if err := set.Set(st.flag, st.def); err != nil {
			return nil, fs, fmt.Errorf("default of %s: %w", st.flag, err)
		}
		if v, ok := os.LookupEnv(st.env); ok {
			if err := set.Set(st.flag, v); err != nil {
				return nil, fs, fmt.Errorf("%s=%q: %w", st.env, v, err)
			}
		}
	}
	if s.own != nil {
		s.own(fs)
	}
	fs.Usage = func() { s.usage(fs, stderr) }
	if err := fs.Parse(args); err != nil {
		return nil, fs, err
	}
	if c.DBMaxConns < 1 || c.DBMaxConns > 1000 {
		return nil, fs, fmt.Errorf("db-max-conns must be between 1 and 1000")
	}
	if c.MaxBodyBytes < 1024 {
		return nil, fs, fmt.Errorf("max-body-bytes must be at least 1024")
	}
	for _, n := range []struct {
		name string
		v    int64
	}{{"login-rate", c.LoginRate}, {"login-free-failures", c.LoginFreeFailures}, {"login-account-ceiling", c.LoginAccountCeiling}} {
		if n.v < 1 || n.v > 1_000_000 {
			return nil, fs, fmt.Errorf("%s must be between 1 and 1000000", n.name)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"login-backoff-base", c.LoginBackoffBase}, {"login-backoff-max", c.LoginBackoffMax}, {"login-account-window", c.LoginAccountWindow}} {
		if d.v <= 0 {
			return nil, fs, fmt.Errorf("%s must be a positive duration", d.name)
		}
	}
	if err := c.Alerts.validate(); err != nil {
		return nil, fs, err
	}
	switch c.Demo {
	case "auto", "true", "false":
	default:
		return nil, fs, fmt.Errorf("demo must be auto, true or false, not %q", c.Demo)
	}
	return c, fs, nil
}

// identity is the identity service's login throttling from the settings.
func (c *config) identity() identity.Config {
	return identity.Config{MaxFailures: int(c.LoginAccountCeiling), LockFor: c.LoginAccountWindow,
		FreeFailures: int(c.LoginFreeFailures), BackoffBase: c.LoginBackoffBase, BackoffMax: c.LoginBackoffMax}
}

func (c *config) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(strings.ToUpper(c.LogLevel)))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// defaultDataDir is the data directory of the commands without the
// setting (seal verify): VALISE_DATA_DIR, else the setting's default.
func defaultDataDir() string {
	if d := os.Getenv("VALISE_DATA_DIR"); d != "" {
		return d
	}
	for _, s := range settings {
		if s.env == "VALISE_DATA_DIR" {
			return s.def
		}
	}
	return ""
}
