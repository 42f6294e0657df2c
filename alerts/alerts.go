// Package alerts tells people about conditions that need them instead of
// leaving the conditions in a list: a bag overdue or silent in transit, a new
// incident or breach, an incident deadline about to pass, a failed seal
// check, a seal key or the trust list about to expire.
//
// A periodic scan (Scan; one process at a time, under a PostgreSQL advisory
// lock) records each condition once in the alerts table (a unique key per
// condition) and plans its deliveries in the same transaction: an e-mail to
// every subscribed user who may see the alert, a POST to every webhook whose
// creator may. Deliver sends what is due, records every attempt and retries
// failures with exponential back-off up to a bounded number of attempts.
//
// Who may see an alert is decided by the policy on the resource behind it,
// exactly as lists are: a bag alert as the bag is listed (bag.read scope), an
// incident alert as incidents are (incident.read scope on its bag), a key
// alert to whoever may manage seal keys. Nothing classified leaves by e-mail
// or webhook: a message carries a link and the alert's random id only.
package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise"
	"valise/crypto/secret"
	"valise/identity"
	"valise/internal/db"
	"valise/policy"
	"valise/pouch"
)

// Kinds of alert.
const (
	KindBagOverdue       = "bag_overdue"       // no custody event within the bag's window (custody.ListOverdue)
	KindBagPastDue       = "bag_past_due"      // in transit after its due time
	KindIncidentOpened   = "incident_opened"   // a new incident (unknown effect)
	KindBreachOpened     = "breach_opened"     // a new breach (known or likely compromise)
	KindIncidentDeadline = "incident_deadline" // an incident's notify or close deadline is near or past
	KindSealCheckFailed  = "seal_check_failed" // a hand-off or acceptance whose seals did not check
	KindSealKeyExpiring  = "seal_key_expiring" // an active office seal key stops signing soon
	KindTrustListStale   = "trust_list_stale"  // the newest trust list goes stale soon
)

// Kinds lists every kind, in a stable order.
func Kinds() []string {
	return []string{KindBagOverdue, KindBagPastDue, KindIncidentOpened, KindBreachOpened, KindIncidentDeadline,
		KindSealCheckFailed, KindSealKeyExpiring, KindTrustListStale}
}

// ChannelEmail is the only channel a user subscribes to (webhooks are endpoints, not users).
const ChannelEmail = "email"

// Options tune the service. Zero values take the defaults noted.
type Options struct {
	// PublicURL is the base of links in messages (VALISE_PUBLIC_URL), e.g.
	// https://valise.example; default http://127.0.0.1:8080.
	PublicURL string
	SMTP      SMTP
	Interval  time.Duration // pause between rounds of Run; default 30s
	// DeadlineWarning: an incident deadline closer than this raises an
	// alert; default 2h. ExpiryWarning: the same for a seal key's end of
	// signing and the trust list's staleness; default 72h.
	DeadlineWarning time.Duration
	ExpiryWarning   time.Duration
	// Lookback bounds how old a seal check failure or a new incident may be
	// to raise an alert (so a first start does not announce history);
	// default 7 days.
	Lookback time.Duration
	// RetryBase is the wait after the first failed attempt, doubled after
	// each further one up to RetryMax; default 30s and 1h. MaxAttempts
	// bounds the attempts of one delivery; default 8.
	RetryBase   time.Duration
	RetryMax    time.Duration
	MaxAttempts int
	HTTPClient  *http.Client     // webhook client; default 10s timeout, redirects not followed
	Now         func() time.Time // clock of deliveries and retries; default time.Now
	Logger      *slog.Logger
}

// SMTP is the mail relay (net/smtp). Without Addr no e-mail is sent:
// e-mail deliveries stay pending (and are recorded as failed attempts).
type SMTP struct {
	Addr     string // host:port (VALISE_SMTP_ADDR)
	From     string // envelope and header sender (VALISE_SMTP_FROM)
	Username string // optional PLAIN auth (VALISE_SMTP_USERNAME); needs TLS unless the relay is on loopback
	Password string // VALISE_SMTP_PASSWORD
	Timeout  time.Duration
}

// Service raises and delivers alerts over one database pool.
type Service struct {
	pool   *pgxpool.Pool
	authz  *policy.Authorizer
	ident  *identity.Service
	master []byte
	o      Options
	log    *slog.Logger
}

// New returns the service. master seals webhook secrets (crypto/secret).
func New(pool *pgxpool.Pool, authz *policy.Authorizer, ident *identity.Service, master []byte, o Options) (*Service, error) {
	if len(master) != secret.KeySize {
		return nil, fmt.Errorf("alerts: master key is %d bytes, want %d", len(master), secret.KeySize)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Interval, 30*time.Second)
	def(&o.DeadlineWarning, 2*time.Hour)
	def(&o.ExpiryWarning, 72*time.Hour)
	def(&o.Lookback, 7*24*time.Hour)
	def(&o.RetryBase, 30*time.Second)
	def(&o.RetryMax, time.Hour)
	def(&o.SMTP.Timeout, 30*time.Second)
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.PublicURL == "" {
		o.PublicURL = "http://127.0.0.1:8080"
	}
	o.PublicURL = strings.TrimRight(o.PublicURL, "/")
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{pool: pool, authz: authz, ident: ident, master: master, o: o, log: o.Logger}, nil
}

// Run scans and delivers every Interval until ctx ends. Errors are logged
// and the next round tries again.
func (s *Service) Run(ctx context.Context) {
	for {
		if _, err := s.Scan(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("alert scan failed; retrying", "err", err)
		}
		if _, err := s.Deliver(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("alert delivery failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.o.Interval):
		}
	}
}

// Alert is one recorded condition, as its viewers see it.
type Alert struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Resource   string     `json:"resource"` // bag, incident or keys
	BagID      string     `json:"bag_id,omitempty"`
	IncidentID string     `json:"incident_id,omitempty"`
	Subject    string     `json:"subject,omitempty"` // keys: the kid, or the trust list's sequence
	DueAt      *time.Time `json:"due_at,omitempty"`
	RaisedAt   time.Time  `json:"raised_at"`
	// Link is this alert's address (what messages carry); Path the API
	// path of the resource behind it.
	Link string `json:"link"`
	Path string `json:"path"`
}

const alertColumns = `a.id, a.kind, a.resource, coalesce(a.bag_id::text, ''), coalesce(a.incident_id::text, ''),
	a.subject, a.due_at, a.raised_at, a.seq`

func (s *Service) scanAlert(row pgx.Row) (Alert, int64, error) {
	var a Alert
	var seq int64
	err := row.Scan(&a.ID, &a.Kind, &a.Resource, &a.BagID, &a.IncidentID, &a.Subject, &a.DueAt, &a.RaisedAt, &seq)
	a.Link = s.link(a.ID)
	switch a.Resource {
	case "bag":
		a.Path = "/api/v1/bags/" + a.BagID
	case "incident":
		a.Path = "/api/v1/incidents/" + a.IncidentID
	default:
		a.Path = "/api/v1/trust-list"
	}
	return a, seq, err
}

// link is the only thing about an alert a message carries besides its id.
func (s *Service) link(id string) string { return s.o.PublicURL + "/api/v1/alerts/" + id }

// visibleWhere is the SQL condition (on alerts a, arguments numbered from n)
// that selects the alerts sub may see: the policy's list scopes of bags and
// incidents applied to the alert's bag, and for key alerts the policy's
// answer to keys.manage.
func (s *Service) visibleWhere(ctx context.Context, sub policy.Subject, n int) (string, []any, error) {
	bags, err := s.authz.ListScope(ctx, sub, "bag")
	if err != nil {
		return "", nil, err
	}
	incidents, err := s.authz.ListScope(ctx, sub, "incident")
	if err != nil {
		return "", nil, err
	}
	keys, err := s.authz.Decide(ctx, sub, policy.ActKeysManage, policy.Resource{Kind: "seal_key"})
	if err != nil {
		return "", nil, err
	}
	bw, args := pouch.ScopeWhere(bags, sub.UserID, n)
	iw, iargs := pouch.ScopeWhere(incidents, sub.UserID, n+len(args))
	cond := fmt.Sprintf(`((a.resource = 'bag' AND EXISTS (SELECT 1 FROM bags b WHERE b.id = a.bag_id AND %s))
		OR (a.resource = 'incident' AND EXISTS (SELECT 1 FROM bags b WHERE b.id = a.bag_id AND %s))
		OR (a.resource = 'keys' AND %t))`, bw, iw, keys.Allow)
	return cond, append(args, iargs...), nil
}

// visible reports whether sub may see alert id (in q).
func (s *Service) visible(ctx context.Context, q db.Querier, sub policy.Subject, id string) (bool, error) {
	where, args, err := s.visibleWhere(ctx, sub, 2)
	if err != nil {
		return false, err
	}
	var ok bool
	err = q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM alerts a WHERE a.id = $1 AND `+where+`)`,
		append([]any{id}, args...)...).Scan(&ok)
	return ok, err
}

// List returns the alerts sub may see, newest first, at most limit (default
// 50, at most 200), after the alert whose id is after (the previous page's
// cursor: an alert id, which reveals nothing the caller has not seen).
func (s *Service) List(ctx context.Context, sub policy.Subject, after string, limit int) ([]Alert, string, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	where, args, err := s.visibleWhere(ctx, sub, 1)
	if err != nil {
		return nil, "", err
	}
	if after != "" {
		if !db.ValidUUID(after) {
			return nil, "", valise.Invalid("bad cursor", valise.FieldError{Field: "after", Reason: "not a cursor from a previous page"})
		}
		args = append(args, after)
		where += fmt.Sprintf(` AND a.seq < coalesce((SELECT seq FROM alerts WHERE id = $%d), 0)`, len(args))
	}
	rows, err := s.pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts a WHERE `+where+
		fmt.Sprintf(` ORDER BY a.seq DESC LIMIT %d`, limit+1), args...)
	if err != nil {
		return nil, "", db.Classify(fmt.Errorf("list alerts: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Alert, error) {
		a, _, err := s.scanAlert(r)
		return a, err
	})
	if err != nil {
		return nil, "", db.Classify(fmt.Errorf("list alerts: %w", err))
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	if out == nil {
		out = []Alert{}
	}
	return out, next, nil
}

// Get returns one alert sub may see; any other id is "not found".
func (s *Service) Get(ctx context.Context, sub policy.Subject, id string) (*Alert, error) {
	notFound := valise.Errorf(valise.ENOTFOUND, "no such alert")
	if !db.ValidUUID(id) {
		return nil, notFound
	}
	where, args, err := s.visibleWhere(ctx, sub, 2)
	if err != nil {
		return nil, err
	}
	a, _, err := s.scanAlert(s.pool.QueryRow(ctx, `SELECT `+alertColumns+` FROM alerts a WHERE a.id = $1 AND `+where,
		append([]any{id}, args...)...))
	if errors.Is(err, pgx.ErrNoRows) {
		s.recordDenial(ctx, sub, id)
		return nil, notFound
	}
	if err != nil {
		return nil, db.Classify(fmt.Errorf("get alert: %w", err))
	}
	return &a, nil
}

// recordDenial writes the decision log entry of sub asking for an alert that
// exists but that they may not see, by asking the policy about the resource
// behind it (which records the deny with its full reason). The caller
// answers "not found" whatever this finds.
func (s *Service) recordDenial(ctx context.Context, sub policy.Subject, id string) {
	var resource, bagID, incidentID string
	err := s.pool.QueryRow(ctx, `SELECT resource, coalesce(bag_id::text, ''), coalesce(incident_id::text, '')
		FROM alerts WHERE id = $1`, id).Scan(&resource, &bagID, &incidentID)
	if err != nil {
		return // no such alert (or no answer): nothing was denied
	}
	check := func(ctx context.Context, action string, r policy.Resource) error {
		return s.authz.Authorize(ctx, sub, action, r)
	}
	switch resource {
	case "bag":
		_, err = pouch.New(s.pool).Get(ctx, bagID, check)
	case "incident":
		_, err = pouch.New(s.pool).GetIncident(ctx, incidentID, check)
	default:
		err = check(ctx, policy.ActKeysManage, policy.Resource{Kind: "seal_key"})
	}
	if err == nil { // the list scope is narrower than the decision here (a custodian not on a sheet)
		s.log.WarnContext(ctx, "alert hidden by its list scope though the policy allows its resource", "alert", id, "user", sub.Username)
	}
}

// validKinds checks a list of kinds (field names the input field at fault).
func validKinds(field string, kinds []string) []valise.FieldError {
	var fs []valise.FieldError
	for _, k := range kinds {
		if !slices.Contains(Kinds(), k) {
			fs = append(fs, valise.FieldError{Field: field, Reason: fmt.Sprintf("unknown kind %q (want one of %s)", k, strings.Join(Kinds(), ", "))})
		}
	}
	return fs
}
