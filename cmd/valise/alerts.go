package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"valise/alerts"
	"valise/api"
	"valise/identity"
)

// alertConfig is the alert delivery part of the settings. The SMTP password
// comes only from the environment (VALISE_SMTP_PASSWORD): a flag would show
// it in the process list.
type alertConfig struct {
	PublicURL, SMTPAddr, SMTPFrom, SMTPUsername string
	Interval                                    time.Duration
}

// validate refuses settings that would make every alert undeliverable.
func (a alertConfig) validate() error {
	if u, err := url.Parse(a.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("public-url must be an absolute http(s) URL, not %q", a.PublicURL)
	}
	if a.SMTPAddr != "" {
		if _, _, err := net.SplitHostPort(a.SMTPAddr); err != nil {
			return fmt.Errorf("smtp-addr must be host:port, not %q", a.SMTPAddr)
		}
		if identity.ValidEmail(a.SMTPFrom) != nil || a.SMTPFrom == "" {
			return fmt.Errorf("smtp-from must be a plain address such as valise@example.org when smtp-addr is set")
		}
	}
	if a.Interval < time.Second {
		return fmt.Errorf("alert-interval must be at least 1s")
	}
	return nil
}

// options turns the settings into the alert service's options.
func (a alertConfig) options() alerts.Options {
	return alerts.Options{PublicURL: a.PublicURL, Interval: a.Interval,
		SMTP: alerts.SMTP{Addr: a.SMTPAddr, From: a.SMTPFrom, Username: a.SMTPUsername, Password: os.Getenv("VALISE_SMTP_PASSWORD")}}
}

// startAlerts runs the alert scan and delivery rounds of srv until ctx ends;
// the returned function waits for them to stop. Every serve process runs
// them: scans take turns through an advisory lock, deliveries are claimed.
func startAlerts(ctx context.Context, c *config, srv *api.Server, log *slog.Logger) func() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Alerts().Run(ctx) }()
	if c.Alerts.SMTPAddr == "" {
		log.Warn("alerts running without a mail relay: set VALISE_SMTP_ADDR and VALISE_SMTP_FROM to send e-mail")
	} else {
		log.Info("alerts running", "smtp", c.Alerts.SMTPAddr, "public_url", c.Alerts.PublicURL)
	}
	return wg.Wait
}
