package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/crypto/secret"
	"valise/internal/db"
	"valise/policy"
)

// SignatureHeader carries a webhook's signature: "t=<unix seconds>,v1=<hex
// HMAC-SHA256 of t + "." + body>", keyed with the endpoint's secret text.
const SignatureHeader = "Valise-Signature"

// plan records the deliveries of new alert id (in the scan's transaction):
// an e-mail to each active user with an address who subscribed to kind and
// may see the alert, a POST to each webhook for kind whose creator may.
func (s *Service) plan(ctx context.Context, tx pgx.Tx, id, kind string) error {
	rows, err := tx.Query(ctx, `SELECT u.id::text FROM alert_subscriptions s JOIN users u ON u.id = s.user_id
		WHERE s.kind = $1 AND s.channel = 'email' AND u.active AND u.email IS NOT NULL ORDER BY u.id`, kind)
	if err != nil {
		return fmt.Errorf("find subscribers: %w", err)
	}
	users, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("find subscribers: %w", err)
	}
	now := s.o.Now()
	for _, uid := range users {
		ok, err := s.entitled(ctx, tx, uid, id, false)
		if err != nil {
			return err
		}
		if ok {
			if _, err := tx.Exec(ctx, `INSERT INTO alert_deliveries (alert_id, channel, user_id, next_attempt_at)
				VALUES ($1, 'email', $2, $3) ON CONFLICT DO NOTHING`, id, uid, now); err != nil {
				return fmt.Errorf("plan e-mail: %w", err)
			}
		}
	}
	rows, err = tx.Query(ctx, `SELECT id::text, created_by::text FROM alert_webhooks
		WHERE deleted_at IS NULL AND $1 = ANY (kinds) ORDER BY created_at`, kind)
	if err != nil {
		return fmt.Errorf("find webhooks: %w", err)
	}
	type hook struct{ id, creator string }
	hooks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (hook, error) {
		var h hook
		return h, r.Scan(&h.id, &h.creator)
	})
	if err != nil {
		return fmt.Errorf("find webhooks: %w", err)
	}
	for _, h := range hooks {
		ok, err := s.entitled(ctx, tx, h.creator, id, true)
		if err != nil {
			return err
		}
		if ok {
			if _, err := tx.Exec(ctx, `INSERT INTO alert_deliveries (alert_id, channel, webhook_id, next_attempt_at)
				VALUES ($1, 'webhook', $2, $3) ON CONFLICT DO NOTHING`, id, h.id, now); err != nil {
				return fmt.Errorf("plan webhook: %w", err)
			}
		}
	}
	return nil
}

// entitled reports whether the user with id is active and may see alert;
// a webhook's creator must also still hold alerts.manage (webhook true).
func (s *Service) entitled(ctx context.Context, q db.Querier, userID, alert string, webhook bool) (bool, error) {
	u, err := s.ident.GetUser(ctx, userID)
	if valise.ErrorCode(err) == valise.ENOTFOUND {
		return false, nil
	}
	if err != nil || !u.Active {
		return false, err
	}
	if webhook {
		d, err := s.authz.Decide(ctx, u.Subject(), policy.ActAlertsManage, policy.Resource{Kind: "alert_webhook"})
		if err != nil || !d.Allow {
			return false, err
		}
	}
	return s.visible(ctx, q, u.Subject(), alert)
}

// due is a delivery claimed for an attempt.
type due struct {
	id, alert, kind, channel, user, webhook string
	attempts                                int
}

// claimLease is how long a claimed delivery is left to its process before
// another may try it (a process that died mid-send).
const claimLease = 5 * time.Minute

// Deliver attempts every delivery that is due (at most 100 a call) and
// records each attempt. Several processes may deliver at once: each claims
// its deliveries (FOR UPDATE SKIP LOCKED, then a lease). It returns how many
// attempts it made.
func (s *Service) Deliver(ctx context.Context) (int, error) {
	now := s.o.Now()
	rows, err := s.pool.Query(ctx, `
		UPDATE alert_deliveries d SET next_attempt_at = $2
		WHERE d.id IN (SELECT id FROM alert_deliveries WHERE status = 'pending' AND next_attempt_at <= $1
		               ORDER BY next_attempt_at LIMIT 100 FOR UPDATE SKIP LOCKED)
		RETURNING d.id, d.alert_id, (SELECT kind FROM alerts a WHERE a.id = d.alert_id), d.channel,
		          coalesce(d.user_id::text, ''), coalesce(d.webhook_id::text, ''), d.attempts`, now, now.Add(claimLease))
	if err != nil {
		return 0, fmt.Errorf("claim deliveries: %w", err)
	}
	claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (due, error) {
		var d due
		return d, r.Scan(&d.id, &d.alert, &d.kind, &d.channel, &d.user, &d.webhook, &d.attempts)
	})
	if err != nil {
		return 0, fmt.Errorf("claim deliveries: %w", err)
	}
	n := 0
	for _, d := range claimed {
		if ctx.Err() != nil {
			break
		}
		if err := s.attempt(ctx, d); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// errNoLongerEntitled cancels a delivery whose recipient may no longer have it.
var errNoLongerEntitled = errors.New("the recipient no longer receives this alert")

// attempt sends one delivery and records the outcome. The recipient is
// checked again first: a user suspended, unsubscribed or no longer cleared
// since the alert was raised (or a deleted webhook) gets nothing.
func (s *Service) attempt(ctx context.Context, d due) error {
	var sendErr error
	switch d.channel {
	case ChannelEmail:
		sendErr = s.attemptEmail(ctx, d)
	default:
		sendErr = s.attemptWebhook(ctx, d)
	}
	if errors.Is(sendErr, errNoLongerEntitled) {
		_, err := s.pool.Exec(ctx, `UPDATE alert_deliveries SET status = 'cancelled', last_error = $2,
			next_attempt_at = NULL WHERE id = $1`, d.id, sendErr.Error())
		return err
	}
	if sendErr != nil && ctx.Err() != nil {
		return ctx.Err() // shutting down: the lease lets the next round retry
	}
	if sendErr != nil && db.Unavailable(sendErr) {
		return sendErr // the database is down: nothing can be recorded; the lease brings it back
	}
	return s.record(ctx, d, sendErr)
}

// record writes attempt number d.attempts+1 and moves the delivery on:
// delivered, failed for good after MaxAttempts, or due again after the
// back-off.
func (s *Service) record(ctx context.Context, d due, sendErr error) error {
	now := s.o.Now()
	n := d.attempts + 1
	msg := ""
	if sendErr != nil {
		msg = truncate(sendErr.Error(), 500)
		s.log.Warn("alert delivery attempt failed", "delivery", d.id, "channel", d.channel, "attempt", n, "err", msg)
	}
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO alert_delivery_attempts (delivery_id, attempt, at, ok, error)
			VALUES ($1, $2, $3, $4, nullif($5, ''))`, d.id, n, now, sendErr == nil, msg); err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
		var err error
		switch {
		case sendErr == nil:
			_, err = tx.Exec(ctx, `UPDATE alert_deliveries SET status = 'delivered', attempts = $2, delivered_at = $3,
				next_attempt_at = NULL, last_error = NULL WHERE id = $1`, d.id, n, now)
		case n >= s.o.MaxAttempts:
			_, err = tx.Exec(ctx, `UPDATE alert_deliveries SET status = 'failed', attempts = $2, last_error = $3,
				next_attempt_at = NULL WHERE id = $1`, d.id, n, msg)
		default:
			_, err = tx.Exec(ctx, `UPDATE alert_deliveries SET attempts = $2, last_error = $3, next_attempt_at = $4
				WHERE id = $1`, d.id, n, msg, now.Add(s.backoff(n)))
		}
		return err
	})
}

// backoff is the wait after failed attempt n (1-based): RetryBase doubled
// n-1 times, at most RetryMax.
func (s *Service) backoff(n int) time.Duration {
	d := s.o.RetryBase
	for i := 1; i < n && d < s.o.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.o.RetryMax)
}

func (s *Service) attemptEmail(ctx context.Context, d due) error {
	var email string
	err := s.pool.QueryRow(ctx, `SELECT coalesce(u.email, '') FROM users u JOIN alert_subscriptions s ON s.user_id = u.id
		AND s.kind = $2 AND s.channel = 'email' WHERE u.id = $1`, d.user, d.kind).Scan(&email)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && email == "") {
		return errNoLongerEntitled // unsubscribed, or no address any more
	}
	if err != nil {
		return err
	}
	if ok, err := s.entitled(ctx, s.pool, d.user, d.alert, false); err != nil || !ok {
		return orElse(err, errNoLongerEntitled)
	}
	return s.sendMail(ctx, email, d)
}

// orElse returns err when it is not nil, else alt.
func orElse(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

// Message is what an e-mail says: a link and the alert's id, nothing about
// the bag, its level, route or units (so a mailbox holds nothing classified).
func (s *Service) Message(alertID string) (subject, body string) {
	return "Valise: a new alert", "A new alert is waiting for you in Valise.\r\n\r\n" +
		"Open it (sign in first): " + s.link(alertID) + "\r\n" +
		"Alert id: " + alertID + "\r\n\r\n" +
		"This message says nothing more on purpose: what the alert is about is shown only to people\r\n" +
		"allowed to see it, after they sign in.\r\n"
}

func (s *Service) sendMail(ctx context.Context, to string, d due) error {
	cfg := s.o.SMTP
	if cfg.Addr == "" || cfg.From == "" {
		return errors.New("no mail relay is configured (set VALISE_SMTP_ADDR and VALISE_SMTP_FROM)")
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("VALISE_SMTP_ADDR %q: %w", cfg.Addr, err)
	}
	subject, body := s.Message(d.alert)
	var msg bytes.Buffer
	for _, h := range [][2]string{
		{"From", cfg.From}, {"To", to}, {"Subject", subject},
		{"Date", s.o.Now().UTC().Format(time.RFC1123Z)},
		{"Message-ID", "<" + d.id + "@valise>"},
		{"Auto-Submitted", "auto-generated"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "7bit"},
	} {
		msg.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	msg.WriteString("\r\n" + body)

	dialer := net.Dialer{Timeout: cfg.Timeout}
	conn, err := dialer.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("connect to the mail relay: %w", err)
	}
	_ = conn.SetDeadline(time.Now().Add(cfg.Timeout))
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail relay greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello("valise.localhost"); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if cfg.Username != "" {
		// PlainAuth refuses to send the password without TLS except to a relay on loopback.
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, host)); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(cfg.From); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg.Bytes()); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	return c.Quit()
}

// WebhookBody is what a webhook receives: the alert's id and link, and the
// delivery's id (the same on every retry, so a receiver can drop repeats).
type WebhookBody struct {
	Type       string `json:"type"` // always "valise.alert"
	AlertID    string `json:"alert_id"`
	Link       string `json:"link"`
	DeliveryID string `json:"delivery_id"`
}

func (s *Service) attemptWebhook(ctx context.Context, d due) error {
	var target, creator string
	var sealed []byte
	var deleted bool
	err := s.pool.QueryRow(ctx, `SELECT url, secret, created_by::text, deleted_at IS NOT NULL FROM alert_webhooks
		WHERE id = $1`, d.webhook).Scan(&target, &sealed, &creator, &deleted)
	if err != nil {
		return fmt.Errorf("load webhook: %w", err)
	}
	if deleted {
		return errNoLongerEntitled
	}
	if ok, err := s.entitled(ctx, s.pool, creator, d.alert, true); err != nil || !ok {
		return orElse(err, errNoLongerEntitled)
	}
	key, err := secret.Open(s.master, sealed, webhookAD(d.webhook))
	if err != nil {
		return fmt.Errorf("open the webhook secret: %w", err)
	}
	body, err := json.Marshal(WebhookBody{Type: "valise.alert", AlertID: d.alert, Link: s.link(d.alert), DeliveryID: d.id})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Valise-Alerts/1")
	req.Header.Set(SignatureHeader, Sign(key, s.o.Now().Unix(), body))
	res, err := s.o.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry the receiver's own token: keep it out of records and logs
		}
		return fmt.Errorf("POST: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("the receiver answered %d", res.StatusCode)
	}
	return nil
}

// Sign is the SignatureHeader value for body sent at unix time t.
func Sign(key []byte, t int64, body []byte) string {
	ts := strconv.FormatInt(t, 10)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
