package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"valise/api"
	"valise/crypto/keyring"
	"valise/crypto/secret"
	"valise/demo"
	"valise/internal/pgcluster"
)

// runServe starts the database (or connects to it), migrates, loads the
// demo data when asked, serves until ctx ends, then drains requests and
// stops the private cluster.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, _, err := parseConfig("serve", args, stderr)
	if err != nil {
		return flagExit(err, stderr)
	}
	tlsConf, err := c.tlsConfig()
	if err != nil {
		fmt.Fprintln(stderr, "valise serve:", err)
		return 2
	}
	log := c.logger(stderr)
	d, err := connect(ctx, c, log, false)
	if err != nil {
		fmt.Fprintln(stderr, "valise serve:", err)
		return 1
	}
	defer d.Close()
	n, err := migrateUp(ctx, d.Pool)
	if err != nil {
		fmt.Fprintln(stderr, "valise serve:", err)
		return 1
	}
	if n > 0 {
		log.Info("migrated the database", "applied", n)
	}
	// The master key seals token and seal signing keys at rest
	// (VALISE_MASTER_KEY or <data dir>/master.key).
	master, err := secret.LoadMasterKey(c.DataDir)
	if err != nil {
		fmt.Fprintln(stderr, "valise serve:", err)
		return 1
	}
	var logins []demo.Login
	if c.Demo == "true" || (c.Demo == "auto" && d.Embedded) {
		if logins, err = demo.Load(ctx, d.Pool, demo.Options{Password: c.DemoPassword, MasterKey: master}); err != nil {
			fmt.Fprintln(stderr, "valise serve:", err)
			return 1
		}
	}
	if err := pinServedRoot(ctx, d.Pool, c.DataDir, log); err != nil {
		fmt.Fprintln(stderr, "valise serve:", err)
		return 1
	}
	// The custody log integrator outlives the HTTP server by a little, so
	// leaves appended by draining requests still get integrated.
	logCtx, stopLog := context.WithCancel(context.Background())
	defer stopLog()
	waitLog, err := startCustodyLog(logCtx, c, d.Pool, log)
	if err != nil {
		fmt.Fprintln(stderr, "valise serve:", err)
		return 1
	}
	defer func() { stopLog(); waitLog() }()
	metricsToken := os.Getenv("VALISE_METRICS_TOKEN")
	srv := api.New(d.Pool, api.Config{RequestTimeout: c.RequestTimeout, MaxBodyBytes: c.MaxBodyBytes, Logger: log,
		MasterKey: master, Seals: keyring.Options{StaleAfter: c.TrustStale, SealLifetime: c.SealLifetime},
		HSTS: tlsConf == nil && !loopback(c.Addr), MetricsToken: metricsToken, MetricsElsewhere: c.MetricsAddr != "",
		Alerts: c.Alerts.options(), Identity: c.identity(), LoginRate: int(c.LoginRate)})
	alertCtx, stopAlerts := context.WithCancel(ctx)
	waitAlerts := startAlerts(alertCtx, c, srv, log)
	defer func() { stopAlerts(); waitAlerts() }()
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		fmt.Fprintln(stderr, "valise serve:", err)
		return 1
	}
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, TLSConfig: tlsConf}
	servers := []*http.Server{hs}
	errc := make(chan error, 2)
	if c.MetricsAddr != "" {
		mln, err := net.Listen("tcp", c.MetricsAddr)
		if err != nil {
			ln.Close()
			fmt.Fprintln(stderr, "valise serve: metrics address:", err)
			return 1
		}
		ms := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, ms)
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", mln.Addr())
		go func() { errc <- ms.Serve(mln) }()
	}
	fmt.Fprintf(stdout, "Valise listening on %s://%s\n", scheme, ln.Addr())
	if d.Embedded {
		fmt.Fprintf(stdout, "private PostgreSQL in %s on 127.0.0.1:%d (password in %s; other valise commands on this data directory connect to it)\n",
			d.Cluster.PGData, d.Cluster.Port, filepath.Join(d.Cluster.Dir, pgcluster.PasswordFile))
	}
	printLogins(stdout, logins)
	go func() {
		if tlsConf != nil {
			errc <- hs.ServeTLS(ln, "", "") // certificates from TLSConfig; HTTP/2 on
			return
		}
		errc <- hs.Serve(ln)
	}()
	select {
	case err := <-errc:
		fmt.Fprintln(stderr, "valise serve:", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("shutdown did not drain in time", "err", err)
		}
	}
	if err := srv.Close(sctx); err != nil {
		log.Error("shutdown: the decision log queue was not written in time; its rows are logged above as lost", "err", err)
	}
	stopLog()
	waitLog()
	log.Info("stopped")
	return 0
}

// tlsConfig loads the TLS certificate when one is configured (nil: plain
// HTTP), and refuses plain HTTP on an address other machines can reach
// unless allow-plain-http says TLS ends at a proxy in front.
func (c *config) tlsConfig() (*tls.Config, error) {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, errors.New("set both VALISE_TLS_CERT and VALISE_TLS_KEY (--tls-cert, --tls-key), or neither")
	}
	if c.TLSCert == "" {
		if !loopback(c.Addr) && !c.AllowPlainHTTP {
			return nil, fmt.Errorf("refusing plain HTTP on %s, which other machines can reach: set VALISE_TLS_CERT and "+
				"VALISE_TLS_KEY, or VALISE_ALLOW_PLAIN_HTTP=true when a TLS-terminating proxy is in front", c.Addr)
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// loopback reports whether addr (host:port) listens only on this machine:
// a loopback IP, or localhost. An empty host means every interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
