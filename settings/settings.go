// Package settings is the one place where the settings people change are
// defined, validated, changed and remembered: what the law leaves to
// by-laws (incident, breach and loss deadlines, the default transit time,
// the silence window), which a security officer sets, and what an operator
// tunes (login limits, seal lifetime, trust-list staleness), which an
// administrator sets. Values live in pouch_settings, read where they act
// (pouch, custody, identity, crypto/keyring); every change is a row of
// setting_changes (who, when, why, old and new value).
package settings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise"
	"valise/crypto/seal"
	"valise/internal/db"
	"valise/policy"
)

// Types of setting values.
const (
	TypeDuration = "duration" // JSON string: "4h", "90m", "30d"
	TypeCount    = "count"    // JSON integer
)

// Policy actions that change settings (policy/authz.rego, "settings").
const (
	ActRead       = "settings.read"
	ActBylaw      = "settings.bylaw"      // security officers: durations the law leaves to by-laws
	ActOperations = "settings.operations" // administrators: how the system runs
	ActPersonnel  = "settings.personnel"  // personnel officers: alert lead times the personnel law does not set
)

// Def defines one setting: its type, its range, and who changes it.
type Def struct {
	Key         string
	Type        string
	Min, Max    int64  // seconds for durations, the count for counts
	Action      string // ActBylaw or ActOperations
	Description string
	// Configured: the value may be null, meaning the process's configured
	// value (flag, environment variable or built-in default).
	Configured bool
}

const (
	minute = int64(time.Minute / time.Second)
	hour   = 60 * minute
	day    = 24 * hour
)

// Defs lists every setting, in the order GET /settings shows them.
var Defs = []Def{
	{"breach.notify_within", TypeDuration, 15 * minute, 7 * day, ActBylaw, "how soon after a breach opens the security service must be notified", false},
	{"breach.close_within", TypeDuration, 1 * day, 365 * day, ActBylaw, "how long a breach may stay open before its investigation is overdue", false},
	{"incident.notify_within", TypeDuration, 15 * minute, 7 * day, ActBylaw, "how soon after an incident opens the security service must be notified", false},
	{"incident.close_within", TypeDuration, 1 * day, 365 * day, ActBylaw, "how long an incident may stay open", false},
	{"loss.notify_within", TypeDuration, 15 * minute, 7 * day, ActBylaw, "how soon a reported loss must be notified (deadline of the breach a loss report opens)", false},
	{"loss.close_within", TypeDuration, 1 * day, 365 * day, ActBylaw, "how long the search for lost mail may stay open (deadline of the breach a loss report opens)", false},
	{"bag.due_after_dispatch", TypeDuration, 1 * hour, 90 * day, ActBylaw, "expected transit time of a bag whose plan gives no arrival", false},
	{"custody.silence_window", TypeDuration, 15 * minute, 30 * day, ActBylaw, "longest gap between custody events of a bag in transit before it is overdue (a plan may set its own)", false},
	{"login.max_failures", TypeCount, 3, 20, ActOperations, "consecutive failed logins that lock a username", true},
	{"login.lock_for", TypeDuration, 1 * minute, 1 * day, ActOperations, "how long such a lock lasts", true},
	{"seal.lifetime", TypeDuration, 1 * hour, int64(seal.MaxLifetime / time.Second), ActOperations, "how long new bag seals stay valid after issue; retired keys stay listed at least this long", true},
	// Personnel alert lead times (issue 14): the law sets the deadlines, not
	// how early an officer is warned. One line per key, grouped by feature.
	{"personnel.alert_lead", TypeDuration, 1 * day, 365 * day, ActPersonnel, "how long before a personnel deadline (rotation, posting, attestation, secondment, passport) its alert starts, unless a more specific personnel.* lead time applies", false},
	{"trust_list.stale_after", TypeDuration, 1 * hour, 30 * day, ActOperations, "how long after issue a seal trust list is stale", true},
}

// Lookup returns the definition of key.
func Lookup(key string) (Def, bool) {
	for _, d := range Defs {
		if d.Key == key {
			return d, true
		}
	}
	return Def{}, false
}

// Setting is a setting's current value with its definition.
type Setting struct {
	Key         string          `json:"key"`
	Type        string          `json:"type"`
	Value       json.RawMessage `json:"value"` // null: the configured value applies
	Min         json.RawMessage `json:"min"`
	Max         json.RawMessage `json:"max"`
	ChangedBy   string          `json:"changed_by"` // the role whose action changes it
	Description string          `json:"description"`
	Basis       string          `json:"basis"`
	Version     int             `json:"version"`
	UpdatedBy   string          `json:"updated_by"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// Change is one entry of a setting's history.
type Change struct {
	Version       int             `json:"version"`
	OldValue      json.RawMessage `json:"old_value"`
	NewValue      json.RawMessage `json:"new_value"`
	Reason        string          `json:"reason"`
	ChangedBy     string          `json:"changed_by"`
	ChangedByName string          `json:"changed_by_name,omitempty"`
	ChangedAt     time.Time       `json:"changed_at"`
}

// Input changes a setting: the new value (null for a configured setting:
// back to the configuration) and why (an order, a by-law, an incident).
type Input struct {
	Value  json.RawMessage `json:"value"`
	Reason string          `json:"reason"`
}

// Check authorizes action on a setting (the caller's policy check).
type Check func(ctx context.Context, action string, r policy.Resource) error

// Service reads and changes settings over one pool.
type Service struct{ pool *pgxpool.Pool }

// New returns the service.
func New(pool *pgxpool.Pool) *Service { return &Service{pool: pool} }

func resource(key string) policy.Resource { return policy.Resource{Kind: "setting", ID: key} }

// roleOf names who changes a setting, for people reading the list.
func roleOf(action string) string {
	switch action {
	case ActBylaw:
		return policy.RoleSecurityOfficer
	case ActPersonnel:
		return policy.RolePersonnelOfficer
	}
	return policy.RoleAdmin
}

// List returns every setting after check authorizes reading settings.
func (s *Service) List(ctx context.Context, check Check) ([]Setting, error) {
	if err := check(ctx, ActRead, resource("")); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+columns+` FROM pouch_settings`)
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list settings: %w", err))
	}
	got := map[string]Setting{}
	_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		st, err := scan(r)
		if err == nil && st != nil {
			got[st.Key] = *st
		}
		return struct{}{}, err
	})
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list settings: %w", err))
	}
	out := make([]Setting, 0, len(Defs))
	for _, d := range Defs {
		if st, ok := got[d.Key]; ok {
			out = append(out, st)
		}
	}
	return out, nil
}

// Get returns one setting after check authorizes reading settings.
func (s *Service) Get(ctx context.Context, key string, check Check) (*Setting, error) {
	if err := check(ctx, ActRead, resource(key)); err != nil {
		return nil, err
	}
	return get(ctx, s.pool, key, "")
}

const columns = `key, extract(epoch FROM value)::bigint, count, basis, version, updated_by, updated_at`

// scan reads a row of columns; nil for a key that has no definition.
func scan(r pgx.Row) (*Setting, error) {
	var key, basis, by string
	var secs, count *int64
	var st Setting
	if err := r.Scan(&key, &secs, &count, &basis, &st.Version, &by, &st.UpdatedAt); err != nil {
		return nil, err
	}
	d, ok := Lookup(key)
	if !ok {
		return nil, nil
	}
	v := secs
	if d.Type == TypeCount {
		v = count
	}
	st.Key, st.Type, st.Basis, st.UpdatedBy, st.Description = key, d.Type, basis, by, d.Description
	st.Value, st.Min, st.Max, st.ChangedBy = d.format(v), d.format(&d.Min), d.format(&d.Max), roleOf(d.Action)
	return &st, nil
}

func get(ctx context.Context, q db.Querier, key, lock string) (*Setting, error) {
	if _, ok := Lookup(key); !ok {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such setting: %s", key)
	}
	st, err := scan(q.QueryRow(ctx, `SELECT `+columns+` FROM pouch_settings WHERE key = $1`+lock, key))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && st == nil) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such setting: %s", key)
	}
	if err != nil {
		return nil, db.Classify(fmt.Errorf("load setting: %w", err))
	}
	return st, nil
}

// Set changes a setting: check authorizes the setting's action, the value
// must have the setting's type and lie in its range, a reason is required,
// ifMatch (0: not given) must be the current version. The old and new
// values, who and why are recorded in the same transaction.
func (s *Service) Set(ctx context.Context, actor policy.Subject, key string, ifMatch int, in Input, check Check) (*Setting, error) {
	d, ok := Lookup(key)
	if !ok {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such setting: %s", key)
	}
	if err := check(ctx, d.Action, resource(key)); err != nil {
		return nil, err
	}
	v, err := d.Parse(in.Value)
	var fe []valise.FieldError
	if err != nil {
		fe = append(fe, valise.FieldError{Field: "value", Reason: err.Error()})
	}
	if r := strings.TrimSpace(in.Reason); r == "" || len(r) > 1000 {
		fe = append(fe, valise.FieldError{Field: "reason", Reason: "required (up to 1000 characters): the order, by-law or cause of the change"})
	}
	if fe != nil {
		return nil, valise.Invalid("the setting cannot take this value", fe...)
	}
	var out *Setting
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := get(ctx, tx, key, " FOR UPDATE")
		if err != nil {
			return err
		}
		if ifMatch != 0 && ifMatch != cur.Version {
			return &valise.Error{Code: valise.EPRECONDITION,
				Message: fmt.Sprintf("the setting changed since you read it (your version %d, now %d); reload it and retry", ifMatch, cur.Version),
				Extra:   map[string]any{"current_version": cur.Version}}
		}
		var secs, count *int64
		if d.Type == TypeCount {
			count = v
		} else {
			secs = v
		}
		_, err = tx.Exec(ctx, `UPDATE pouch_settings SET value = make_interval(secs => $2), count = $3, basis = $4,
			version = version + 1, updated_by = $5, updated_at = now() WHERE key = $1`,
			key, secs, count, strings.TrimSpace(in.Reason), actor.Username)
		if err != nil {
			return fmt.Errorf("update setting: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO setting_changes (key, old_value, new_value, reason, changed_by, changed_by_name, version)
			VALUES ($1, $2, $3, $4, $5, coalesce((SELECT full_name FROM users WHERE id::text = $6), ''), $7)`,
			key, string(cur.Value), string(d.format(v)), strings.TrimSpace(in.Reason), actor.Username, actor.UserID, cur.Version+1)
		if err != nil {
			return fmt.Errorf("record setting change: %w", err)
		}
		out, err = get(ctx, tx, key, "")
		return err
	})
	return out, err
}

// History returns a setting's changes, newest first, after check authorizes
// reading settings.
func (s *Service) History(ctx context.Context, key string, check Check) ([]Change, error) {
	if err := check(ctx, ActRead, resource(key)); err != nil {
		return nil, err
	}
	if _, ok := Lookup(key); !ok {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such setting: %s", key)
	}
	rows, err := s.pool.Query(ctx, `SELECT version, coalesce(old_value, 'null'), coalesce(new_value, 'null'), reason,
		changed_by, changed_by_name, changed_at FROM setting_changes WHERE key = $1 ORDER BY version DESC LIMIT 500`, key)
	if err != nil {
		return nil, db.Classify(fmt.Errorf("setting history: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Change, error) {
		var c Change
		var oldV, newV string
		err := r.Scan(&c.Version, &oldV, &newV, &c.Reason, &c.ChangedBy, &c.ChangedByName, &c.ChangedAt)
		c.OldValue, c.NewValue = json.RawMessage(oldV), json.RawMessage(newV)
		return c, err
	})
	if err != nil {
		return nil, db.Classify(fmt.Errorf("setting history: %w", err))
	}
	if out == nil {
		out = []Change{}
	}
	return out, nil
}

var daysRE = regexp.MustCompile(`^([0-9]{1,4})d$`)

// ParseDuration reads a duration as people write it: Go's form ("4h",
// "90m", "1h30m") or whole days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	if m := daysRE.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New(`a duration like "4h", "90m" or "30d"`)
	}
	return d, nil
}

// FormatDuration writes d as ParseDuration reads it: whole days as "30d",
// anything else in Go's form without zero units ("4h", "1h30m").
func FormatDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Parse reads a JSON value of the setting's type within its range (seconds
// for a duration, the number for a count); nil for null, which only a
// configured setting accepts.
func (d Def) Parse(raw json.RawMessage) (*int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		if d.Configured {
			return nil, nil
		}
		return nil, errors.New("required: this setting always has a value")
	}
	var n int64
	switch d.Type {
	case TypeDuration:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, errors.New(`a duration string like "4h", "90m" or "30d"`)
		}
		dur, err := ParseDuration(s)
		if err != nil {
			return nil, err
		}
		if dur%time.Second != 0 {
			return nil, errors.New("whole seconds")
		}
		n = int64(dur / time.Second)
	case TypeCount:
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, errors.New("a whole number")
		}
	}
	if n < d.Min || n > d.Max {
		return nil, fmt.Errorf("must be between %s and %s", d.format(&d.Min), d.format(&d.Max))
	}
	return &n, nil
}

// format writes a stored value (seconds or a count; nil for null) as JSON.
func (d Def) format(v *int64) json.RawMessage {
	if v == nil {
		return json.RawMessage("null")
	}
	if d.Type == TypeCount {
		return json.RawMessage(strconv.FormatInt(*v, 10))
	}
	b, _ := json.Marshal(FormatDuration(time.Duration(*v) * time.Second))
	return b
}
