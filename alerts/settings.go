package alerts

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/crypto/secret"
	"valise/identity"
	"valise/internal/db"
	"valise/policy"
)

// Subscription is one kind of alert a user receives on one channel.
type Subscription struct {
	Kind    string `json:"kind"`
	Channel string `json:"channel"`
}

// Subscriptions is what a user receives, and where.
type Subscriptions struct {
	Email         string         `json:"email"` // "" when the user has none
	Subscriptions []Subscription `json:"subscriptions"`
}

// SubscriptionsInput replaces a user's subscriptions. Email, when present,
// sets the address too ("" clears it); absent, the address stays.
type SubscriptionsInput struct {
	Email         *string        `json:"email,omitempty"`
	Subscriptions []Subscription `json:"subscriptions"`
}

// Subscriptions returns what the user with id receives.
func (s *Service) Subscriptions(ctx context.Context, userID string) (*Subscriptions, error) {
	email, err := s.ident.Email(ctx, userID)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT kind, channel FROM alert_subscriptions WHERE user_id = $1
		ORDER BY kind, channel`, userID)
	if err != nil {
		return nil, db.Classify(fmt.Errorf("read subscriptions: %w", err))
	}
	subs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Subscription, error) {
		var x Subscription
		return x, r.Scan(&x.Kind, &x.Channel)
	})
	if err != nil {
		return nil, db.Classify(fmt.Errorf("read subscriptions: %w", err))
	}
	if subs == nil {
		subs = []Subscription{}
	}
	return &Subscriptions{Email: email, Subscriptions: subs}, nil
}

// SetSubscriptions replaces what the user with id receives, all or nothing:
// an unknown kind or channel, a repeat, or e-mail without an address is
// refused (422) and changes nothing. A user may subscribe to any kind; they
// are sent only the alerts the policy lets them see.
func (s *Service) SetSubscriptions(ctx context.Context, userID string, in SubscriptionsInput) (*Subscriptions, error) {
	var fs []valise.FieldError
	if in.Subscriptions == nil {
		fs = append(fs, valise.FieldError{Field: "subscriptions", Reason: "is required (an empty list receives nothing)"})
	}
	seen := map[Subscription]bool{}
	for i, x := range in.Subscriptions {
		field := fmt.Sprintf("subscriptions[%d]", i)
		fs = append(fs, validKinds(field+".kind", []string{x.Kind})...)
		if x.Channel != ChannelEmail {
			fs = append(fs, valise.FieldError{Field: field + ".channel", Reason: `must be "email"`})
		}
		if seen[x] {
			fs = append(fs, valise.FieldError{Field: field, Reason: "is listed twice"})
		}
		seen[x] = true
	}
	if in.Email != nil {
		if f := identity.ValidEmail(*in.Email); f != nil {
			fs = append(fs, *f)
		}
	}
	if len(fs) > 0 {
		return nil, valise.Invalid("the subscriptions are not valid", fs...)
	}
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if in.Email != nil {
			if err := identity.SetEmail(ctx, tx, userID, *in.Email); err != nil {
				return err
			}
		}
		var email string
		if err := tx.QueryRow(ctx, `SELECT coalesce(email, '') FROM users WHERE id = $1`, userID).Scan(&email); err != nil {
			return err
		}
		if email == "" && len(in.Subscriptions) > 0 {
			return valise.Invalid("the subscriptions are not valid",
				valise.FieldError{Field: "email", Reason: "e-mail subscriptions need an e-mail address: set one"})
		}
		if _, err := tx.Exec(ctx, `DELETE FROM alert_subscriptions WHERE user_id = $1`, userID); err != nil {
			return err
		}
		for _, x := range in.Subscriptions {
			if _, err := tx.Exec(ctx, `INSERT INTO alert_subscriptions (user_id, kind, channel) VALUES ($1, $2, $3)`,
				userID, x.Kind, x.Channel); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if valise.ErrorCode(err) != valise.EINTERNAL {
			return nil, err
		}
		return nil, db.Classify(fmt.Errorf("set subscriptions: %w", err))
	}
	return s.Subscriptions(ctx, userID)
}

// Webhook is a registered endpoint. Secret is set only in the answer to its
// creation: it is the HMAC key of SignatureHeader and is never shown again.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Kinds     []string  `json:"kinds"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	Secret    string    `json:"secret,omitempty"`
}

// WebhookInput registers an endpoint for some kinds of alert.
type WebhookInput struct {
	URL   string   `json:"url"`
	Kinds []string `json:"kinds"`
}

func webhookAD(id string) []byte { return []byte("alert_webhook:" + id) }

// validURL accepts https URLs, and http only to a loopback address (a
// receiver on the same host); no credentials in the URL.
func validURL(raw string) *valise.FieldError {
	bad := func(reason string) *valise.FieldError { return &valise.FieldError{Field: "url", Reason: reason} }
	if len(raw) > 2000 {
		return bad("must be at most 2000 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return bad("must be an absolute https URL")
	}
	if u.User != nil {
		return bad("must not carry a user name or password")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return bad("must use https (plain http only to a loopback address)")
	}
	return bad("must be an absolute https URL")
}

// CreateWebhook registers an endpoint for actor (who must hold
// alerts.manage: the caller checks) and returns it with its secret, once.
// The webhook receives the alerts of its kinds that actor may see.
func (s *Service) CreateWebhook(ctx context.Context, actor policy.Subject, in WebhookInput) (*Webhook, error) {
	var fs []valise.FieldError
	if f := validURL(in.URL); f != nil {
		fs = append(fs, *f)
	}
	if len(in.Kinds) == 0 {
		fs = append(fs, valise.FieldError{Field: "kinds", Reason: "at least one kind is required"})
	}
	fs = append(fs, validKinds("kinds", in.Kinds)...)
	if len(fs) > 0 {
		return nil, valise.Invalid("the webhook is not valid", fs...)
	}
	kinds := slices.Clone(in.Kinds)
	slices.Sort(kinds)
	kinds = slices.Compact(kinds)
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	text := "whsec_" + base64.RawURLEncoding.EncodeToString(raw[:])
	// The id is chosen first so that the sealed secret's associated data names it.
	var id string
	if err := s.pool.QueryRow(ctx, `SELECT gen_random_uuid()::text`).Scan(&id); err != nil {
		return nil, db.Classify(fmt.Errorf("create webhook: %w", err))
	}
	sealed, err := secret.Seal(s.master, []byte(text), webhookAD(id))
	if err != nil {
		return nil, err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO alert_webhooks (id, url, kinds, secret, created_by) VALUES ($1, $2, $3, $4, $5)`,
		id, in.URL, kinds, sealed, actor.UserID)
	if err != nil {
		return nil, db.Classify(fmt.Errorf("create webhook: %w", err))
	}
	s.log.InfoContext(ctx, "alert webhook registered", "webhook", id, "by", actor.Username, "kinds", kinds)
	w, err := s.webhook(ctx, id)
	if err != nil {
		return nil, err
	}
	w.Secret = text
	return w, nil
}

const webhookColumns = `w.id::text, w.url, w.kinds, u.username, w.created_at`

func scanWebhook(row pgx.Row) (*Webhook, error) {
	var w Webhook
	return &w, row.Scan(&w.ID, &w.URL, &w.Kinds, &w.CreatedBy, &w.CreatedAt)
}

func (s *Service) webhook(ctx context.Context, id string) (*Webhook, error) {
	w, err := scanWebhook(s.pool.QueryRow(ctx, `SELECT `+webhookColumns+` FROM alert_webhooks w
		JOIN users u ON u.id = w.created_by WHERE w.id = $1 AND w.deleted_at IS NULL`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such webhook")
	}
	if err != nil {
		return nil, db.Classify(fmt.Errorf("load webhook: %w", err))
	}
	return w, nil
}

// Webhooks lists the registered endpoints (without secrets), oldest first.
func (s *Service) Webhooks(ctx context.Context) ([]*Webhook, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+webhookColumns+` FROM alert_webhooks w
		JOIN users u ON u.id = w.created_by WHERE w.deleted_at IS NULL ORDER BY w.created_at, w.id`)
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list webhooks: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Webhook, error) { return scanWebhook(r) })
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list webhooks: %w", err))
	}
	if out == nil {
		out = []*Webhook{}
	}
	return out, nil
}

// DeleteWebhook removes an endpoint: it receives nothing more (its pending
// deliveries are cancelled); its delivery records stay.
func (s *Service) DeleteWebhook(ctx context.Context, actor policy.Subject, id string) error {
	if !db.ValidUUID(id) {
		return valise.Errorf(valise.ENOTFOUND, "no such webhook")
	}
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE alert_webhooks SET deleted_at = now(), deleted_by = $2
			WHERE id = $1 AND deleted_at IS NULL`, id, actor.Username)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return valise.Errorf(valise.ENOTFOUND, "no such webhook")
		}
		_, err = tx.Exec(ctx, `UPDATE alert_deliveries SET status = 'cancelled', next_attempt_at = NULL,
			last_error = 'the webhook was deleted' WHERE webhook_id = $1 AND status = 'pending'`, id)
		return err
	})
	if err != nil {
		if valise.ErrorCode(err) != valise.EINTERNAL {
			return err
		}
		return db.Classify(fmt.Errorf("delete webhook: %w", err))
	}
	s.log.InfoContext(ctx, "alert webhook deleted", "webhook", id, "by", actor.Username)
	return nil
}

// Attempt is one try of a delivery.
type Attempt struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	OK      bool      `json:"ok"`
	Error   string    `json:"error,omitempty"`
}

// Delivery is the record of one alert sent to one recipient.
type Delivery struct {
	ID            string     `json:"id"`
	Channel       string     `json:"channel"`
	Recipient     string     `json:"recipient,omitempty"` // e-mail: the username
	WebhookID     string     `json:"webhook_id,omitempty"`
	Status        string     `json:"status"` // pending, delivered, failed, cancelled
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	DeliveredAt   *time.Time `json:"delivered_at,omitempty"`
	AttemptLog    []Attempt  `json:"attempt_log"`
}

// Deliveries lists the deliveries of an alert sub may see (else "not
// found"), each with its attempts. The caller checks alerts.manage.
func (s *Service) Deliveries(ctx context.Context, sub policy.Subject, alertID string) ([]*Delivery, error) {
	if _, err := s.Get(ctx, sub, alertID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT d.id::text, d.channel, coalesce(u.username, ''), coalesce(d.webhook_id::text, ''),
		d.status, d.attempts, d.next_attempt_at, coalesce(d.last_error, ''), d.created_at, d.delivered_at
		FROM alert_deliveries d LEFT JOIN users u ON u.id = d.user_id
		WHERE d.alert_id = $1 ORDER BY d.created_at, d.id`, alertID)
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list deliveries: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Delivery, error) {
		d := &Delivery{AttemptLog: []Attempt{}}
		return d, r.Scan(&d.ID, &d.Channel, &d.Recipient, &d.WebhookID, &d.Status, &d.Attempts, &d.NextAttemptAt,
			&d.LastError, &d.CreatedAt, &d.DeliveredAt)
	})
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list deliveries: %w", err))
	}
	byID := map[string]*Delivery{}
	ids := make([]string, len(out))
	for i, d := range out {
		byID[d.ID], ids[i] = d, d.ID
	}
	rows, err = s.pool.Query(ctx, `SELECT delivery_id::text, attempt, at, ok, coalesce(error, '')
		FROM alert_delivery_attempts WHERE delivery_id = ANY ($1::uuid[]) ORDER BY delivery_id, attempt`, ids)
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list attempts: %w", err))
	}
	var did string
	var a Attempt
	_, err = pgx.ForEachRow(rows, []any{&did, &a.Attempt, &a.At, &a.OK, &a.Error}, func() error {
		byID[did].AttemptLog = append(byID[did].AttemptLog, a)
		return nil
	})
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list attempts: %w", err))
	}
	if out == nil {
		out = []*Delivery{}
	}
	return out, nil
}
