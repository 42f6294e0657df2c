package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"valise/api"
	"valise/crypto/keyring"
	"valise/crypto/secret"
	"valise/demo"
)

// runServe starts the database (or connects to it), migrates, loads the
// demo data when asked, serves until ctx ends, then drains requests and
// stops the private cluster.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, _, err := parseConfig("serve", args, stderr)
	if err != nil {
		return flagExit(err, stderr)
	}
	log := c.logger(stderr)
	d, err := openDatabase(ctx, c, log)
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
	srv := api.New(d.Pool, api.Config{RequestTimeout: c.RequestTimeout, MaxBodyBytes: c.MaxBodyBytes, Logger: log,
		MasterKey: master, Seals: keyring.Options{StaleAfter: c.TrustStale, SealLifetime: c.SealLifetime},
		Identity: c.identity(), LoginRate: int(c.LoginRate)})
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		fmt.Fprintln(stderr, "valise serve:", err)
		return 1
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: nil}
	fmt.Fprintf(stdout, "Valise listening on http://%s\n", ln.Addr())
	if d.Embedded {
		fmt.Fprintf(stdout, "private PostgreSQL in %s on 127.0.0.1:%d\n", d.Cluster.PGData, d.Cluster.Port)
	}
	printLogins(stdout, logins)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintln(stderr, "valise serve:", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("shutdown did not drain in time", "err", err)
	}
	if err := srv.Close(sctx); err != nil {
		log.Error("shutdown: the decision log queue was not written in time; its rows are logged above as lost", "err", err)
	}
	stopLog()
	waitLog()
	log.Info("stopped")
	return 0
}
