package personnel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Personnel alerts: every deadline the personnel features compute (term
// ending, extension decision due, return notice due, appointment overdue,
// attestation due, secondment ending, a document missing before departure,
// ...). Each feature file registers a source from init(); a source computes
// its alerts for the whole ministry as of a date on the working-day
// calendar, and Service.Alerts merges them and keeps those the caller may
// see (staff.read on the record the alert is about).
//
// How long before a deadline its alert starts is not set by the law: it is a
// setting (settings.Defs, keys "personnel.*"; LeadTime reads one).

// Alert is one deadline worth telling a personnel officer about.
type Alert struct {
	Kind      string    // e.g. posting_term_ending (stable, snake_case)
	Rule      string    // the rule or paragraph that sets the deadline, e.g. HR-19, R§10
	StaffID   string    // the staff record concerned ("" for a ministry-wide deadline, e.g. the rotation plan's)
	StaffName string    // its full name (personal data: only shown to those who may read the record)
	Subject   string    // what the deadline is about, in words
	Due       time.Time // the deadline (a date, midnight UTC)
	Ref       string    // the id of the posting, case, plan ... the alert is about
}

// MarshalJSON writes the due date as YYYY-MM-DD.
func (a Alert) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Kind      string `json:"kind"`
		Rule      string `json:"rule"`
		StaffID   string `json:"staff_id,omitempty"`
		StaffName string `json:"staff_name,omitempty"`
		Subject   string `json:"subject"`
		Due       string `json:"due"`
		Ref       string `json:"ref,omitempty"`
	}{a.Kind, a.Rule, a.StaffID, a.StaffName, a.Subject, a.Due.Format(time.DateOnly), a.Ref})
}

// Overdue reports whether the deadline has passed as of asOf.
func (a Alert) Overdue(asOf time.Time) bool { return midnight(asOf).After(a.Due) }

// AlertSource computes one feature's alerts as of asOf (every record, no
// policy: Service.Alerts filters).
type AlertSource func(ctx context.Context, q db.Querier, cal *Calendar, asOf time.Time) ([]Alert, error)

var (
	alertMu      sync.RWMutex
	alertSources = map[string]AlertSource{}
)

// RegisterAlertSource adds a source; call it from init(). A name registered
// twice is a programming error.
func RegisterAlertSource(name string, src AlertSource) {
	alertMu.Lock()
	defer alertMu.Unlock()
	if _, dup := alertSources[name]; dup {
		panic("personnel: alert source registered twice: " + name)
	}
	alertSources[name] = src
}

// AlertSources names the registered sources, sorted.
func AlertSources() []string {
	alertMu.RLock()
	defer alertMu.RUnlock()
	names := make([]string, 0, len(alertSources))
	for n := range alertSources {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// AllAlerts runs every source on one snapshot (a read-only transaction)
// and returns every alert as of asOf, by due date; no policy applies (the
// metrics count them; Service.Alerts filters them for a caller).
func AllAlerts(ctx context.Context, q db.Querier, asOf time.Time) ([]Alert, error) {
	cal, err := LoadCalendar(ctx, q)
	if err != nil {
		return nil, err
	}
	var out []Alert
	for _, name := range AlertSources() {
		alertMu.RLock()
		src := alertSources[name]
		alertMu.RUnlock()
		as, err := src(ctx, q, cal, asOf)
		if err != nil {
			return nil, fmt.Errorf("alert source %s: %w", name, err)
		}
		out = append(out, as...)
	}
	slices.SortStableFunc(out, func(a, b Alert) int {
		if c := a.Due.Compare(b.Due); c != 0 {
			return c
		}
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.StaffName, b.StaffName)
	})
	return out, nil
}

// Alerts returns the alerts as of asOf that actor may see: those about a
// staff record they may read (staff.read), and the ministry-wide ones when
// they may read the personnel reference data.
func (s *Service) Alerts(ctx context.Context, actor policy.Subject, check Check, asOf time.Time) ([]Alert, error) {
	var all []Alert
	facts := map[string]resource{}
	snapshot := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := db.InTxOpts(ctx, s.pool, snapshot, func(tx pgx.Tx) error {
		var err error
		if all, err = AllAlerts(ctx, tx, asOf); err != nil {
			return err
		}
		var ids []string
		for _, a := range all {
			if a.StaffID != "" {
				ids = append(ids, a.StaffID)
			}
		}
		refs := map[string][]string{}
		for _, a := range all {
			if prefix, id, ok := strings.Cut(a.Ref, "/"); ok && a.StaffID == "" && alertRefFacts[prefix] != nil {
				refs[prefix] = append(refs[prefix], id)
			}
		}
		for prefix, ids := range refs {
			fs, err := alertRefFacts[prefix](ctx, tx, ids)
			if err != nil {
				return err
			}
			for id, r := range fs {
				facts[prefix+"/"+id] = r
			}
		}
		rows, err := tx.Query(ctx, `SELECT s.id::text, u.code, coalesce(s.user_id::text, '')
			FROM staff s JOIN units u ON u.id = s.unit_id WHERE s.id = ANY($1::uuid[])`, ids)
		if err != nil {
			return err
		}
		var r resource
		_, err = pgx.ForEachRow(rows, []any{&r.id, &r.unit, &r.userID}, func() error {
			facts[r.id] = r
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	// The personnel policy decides a staff record by its unit and by whether
	// it is the caller's own; one decision per (unit, own) is asked on the
	// first record of each, so a list costs a few decisions (and a caller
	// outside a unit's scope leaves one denial in the log, not one per alert).
	type key struct {
		unit string
		own  bool
	}
	seen := map[key]bool{}
	allowed := func(r resource) (bool, error) {
		k := key{r.unit, r.userID != "" && r.userID == actor.UserID}
		if ok, done := seen[k]; done {
			return ok, nil
		}
		err := check(ctx, policy.ActStaffRead, r.policy())
		ok, err := denied(err)
		seen[k] = ok
		return ok, err
	}
	var ministryOK *bool
	out := []Alert{}
	for _, a := range all {
		var ok bool
		if prefix, _, _ := strings.Cut(a.Ref, "/"); a.StaffID == "" && alertRefFacts[prefix] != nil {
			if r, found := facts[a.Ref]; found {
				if ok, err = allowed(r); err != nil {
					return nil, err
				}
			}
		} else if a.StaffID == "" {
			if ministryOK == nil {
				v, err := denied(check(ctx, actRefRead, calendarResource))
				if err != nil {
					return nil, err
				}
				ministryOK = &v
			}
			ok = *ministryOK
		} else if r, found := facts[a.StaffID]; found {
			if ok, err = allowed(r); err != nil {
				return nil, err
			}
		}
		if ok {
			out = append(out, a)
		}
	}
	return out, nil
}

// alertRefFacts gives, by the prefix of an alert's Ref ("secondment/…"),
// the policy facts of personal data that is not a staff record (a secondee
// from another body), so those alerts are kept like a staff record's and
// not shown as ministry-wide ones.
var alertRefFacts = map[string]func(ctx context.Context, q db.Querier, ids []string) (map[string]resource, error){}

// denied turns a policy answer into allowed (true) or not; an error that is
// not a denial (the policy engine failing) is returned.
func denied(err error) (bool, error) {
	if err == nil {
		return true, nil
	}
	var ve *valise.Error
	if errors.As(err, &ve) && (ve.Code == valise.ENOTFOUND || ve.Code == valise.EFORBIDDEN) {
		return false, nil
	}
	return false, err
}

// LeadTime reads a personnel lead-time setting (pouch_settings, an
// interval): how long before a deadline its alert starts.
func LeadTime(ctx context.Context, q db.Querier, key string) (time.Duration, error) {
	var secs int64
	err := q.QueryRow(ctx, `SELECT extract(epoch FROM value)::bigint FROM pouch_settings WHERE key = $1`, key).Scan(&secs)
	if err != nil {
		return 0, fmt.Errorf("lead time %s: %w", key, err)
	}
	return time.Duration(secs) * time.Second, nil
}

// Within reports whether due is no later than asOf + lead, i.e. whether its
// alert has started (an overdue deadline is within any lead).
func Within(due, asOf time.Time, lead time.Duration) bool {
	return !midnight(due).After(midnight(asOf).Add(lead))
}
