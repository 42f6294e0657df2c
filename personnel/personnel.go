// Package personnel is the personnel core behind the mail (issue 13): staff
// records and admission (Art. 9), positions held and the staff kind they set
// (Art. 1(8)-(9)), service periods and time in rank (Art. 12), diplomatic
// ranks (Art. 10-13), discipline and termination (Art. 18, 22), family
// members (Art. 1(11)), the personnel reserve (Art. 9-1) and Art. 17 study.
//
// Every change is one row of staff_events (who, when, why, and the legal act
// it rests on) written in the same transaction as the projection tables the
// rules read; corrections are new events. Values the law leaves to by-laws
// are reference data (reference.go), never constants. Rule ids (HR-xx) are
// those of law-digest.md §3.2; docs/personnel.md maps each to code and test.
package personnel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Check asks the policy whether the caller may do action to r (the api
// package passes the authorizer bound to the caller).
type Check func(ctx context.Context, action string, r policy.Resource) error

// Service is the personnel domain over one database pool.
type Service struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// New returns the service.
func New(pool *pgxpool.Pool) *Service { return &Service{pool: pool, now: time.Now} }

// Date is a calendar date (no time, no zone), "YYYY-MM-DD" in JSON.
type Date struct{ time.Time }

// D builds a date.
func D(y int, m time.Month, d int) Date { return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)} }

// ParseDate reads "YYYY-MM-DD".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("must be a date YYYY-MM-DD")
	}
	return Date{t}, nil
}

// Today is the current date in UTC.
func Today(now time.Time) Date {
	y, m, d := now.UTC().Date()
	return D(y, m, d)
}

func (d Date) String() string { return d.Format(time.DateOnly) }

// AddDate is time.AddDate on dates.
func (d Date) AddDate(y, m, days int) Date { return Date{d.Time.AddDate(y, m, days)} }

// Before, After and Equal compare dates.
func (d Date) Before(o Date) bool { return d.Time.Before(o.Time) }
func (d Date) After(o Date) bool  { return d.Time.After(o.Time) }
func (d Date) Equal(o Date) bool  { return d.Time.Equal(o.Time) }

// MarshalJSON writes "YYYY-MM-DD" (null for the zero date).
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(d.String())
}

// UnmarshalJSON reads "YYYY-MM-DD".
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = Date{}
		return nil
	}
	// A wrong date is a type error, so the decoder names the field at fault.
	bad := &json.UnmarshalTypeError{Value: "string " + string(b) + " (want YYYY-MM-DD)", Type: reflect.TypeOf(Date{})}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return bad
	}
	v, err := ParseDate(s)
	if err != nil {
		return bad
	}
	*d = v
	return nil
}

// ScanDate lets pgx read a date column into a Date.
func (d *Date) ScanDate(v pgtype.Date) error {
	if !v.Valid {
		*d = Date{}
		return nil
	}
	*d = Date{v.Time.UTC()}
	return nil
}

// DateValue lets pgx write a Date (the zero date is NULL).
func (d Date) DateValue() (pgtype.Date, error) {
	if d.IsZero() {
		return pgtype.Date{}, nil
	}
	return pgtype.Date{Time: d.Time, Valid: true}, nil
}

// Act is the legal act a change rests on: its number and date.
type Act struct {
	Number string `json:"number"`
	Date   Date   `json:"date"`
}

// Change is what every change request carries: why, and on which act.
type Change struct {
	Reason string `json:"reason"`
	Act    Act    `json:"act"`
}

func (c Change) fields() []valise.FieldError {
	var fs []valise.FieldError
	if strings.TrimSpace(c.Reason) == "" {
		fs = append(fs, valise.FieldError{Field: "reason", Reason: "say why (every change is an event with its reason)"})
	}
	if strings.TrimSpace(c.Act.Number) == "" {
		fs = append(fs, valise.FieldError{Field: "act.number", Reason: "name the legal act (order, decree) the change rests on"})
	}
	if c.Act.Date.IsZero() {
		fs = append(fs, valise.FieldError{Field: "act.date", Reason: "give the date of the legal act"})
	}
	return fs
}

// Event is one entry of a staff record's history.
type Event struct {
	ID         string          `json:"id"`
	Seq        int64           `json:"seq"`
	Kind       string          `json:"kind"`
	Data       json.RawMessage `json:"data"`
	Reason     string          `json:"reason"`
	Act        Act             `json:"act"`
	Corrects   string          `json:"corrects,omitempty"`
	RecordedBy string          `json:"recorded_by"`
	RecordedAt time.Time       `json:"recorded_at"`
}

// record appends an event in tx and returns its id.
func record(ctx context.Context, tx pgx.Tx, staffID, kind string, data any, c Change, corrects string, by policy.Subject) (string, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return "", err
	}
	var id string
	err = tx.QueryRow(ctx, `
		INSERT INTO staff_events (staff_id, kind, data, reason, act_number, act_date, corrects, recorded_by)
		VALUES ($1, $2, $3, $4, $5, $6, nullif($7, '')::uuid, $8) RETURNING id`,
		staffID, kind, b, c.Reason, c.Act.Number, c.Act.Date, corrects, by.Username).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("record %s event: %w", kind, err)
	}
	_, err = tx.Exec(ctx, `UPDATE staff SET version = version + 1 WHERE id = $1`, staffID)
	return id, err
}

// refusal is a rule saying no: 422 naming the rule and the failed condition.
func refusal(msg string, fs ...valise.FieldError) error {
	return &valise.Error{Code: valise.EINVALID, Message: msg, Fields: fs}
}

// conflict is a refusal that depends on the record's state (409).
func conflict(rule, format string, args ...any) error {
	return &valise.Error{Code: valise.ECONFLICT, Message: rule + ": " + fmt.Sprintf(format, args...),
		Extra: map[string]any{"rule": rule}}
}

func fe(field, reason string) valise.FieldError {
	return valise.FieldError{Field: field, Reason: reason}
}

// resource is the staff record as the policy sees it: the unit whose
// personnel officers keep it, and the account of the person it describes.
type resource struct {
	id, unit, userID string
	holder           bool // a passport holder outside the service (passport_holder.go)
}

func (r resource) policy() policy.Resource {
	return policy.Resource{Kind: "staff", ID: r.id, Origin: r.unit, Person: r.userID}
}

// lockStaff loads (and for a change, locks) a staff record's policy facts,
// and asks check. An unknown id and a forbidden one answer alike (not found).
func lockStaff(ctx context.Context, tx pgx.Tx, id string, check Check, action string) (resource, error) {
	r := resource{id: id}
	if !db.ValidUUID(id) {
		return r, valise.Errorf(valise.ENOTFOUND, "not found")
	}
	lock := ""
	if action != policy.ActStaffRead {
		lock = " FOR UPDATE OF s"
	}
	var uid *string
	err := tx.QueryRow(ctx, `SELECT u.code, s.user_id FROM staff s JOIN units u ON u.id = s.unit_id
		WHERE s.id = $1`+lock, id).Scan(&r.unit, &uid)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, valise.Errorf(valise.ENOTFOUND, "not found")
	}
	if err != nil {
		return r, err
	}
	if uid != nil {
		r.userID = *uid
	}
	return r, check(ctx, action, r.policy())
}

// lockStaffRead is lockStaff for a read (no lock, action staff.read).
func lockStaffRead(ctx context.Context, tx pgx.Tx, id string, check Check) (resource, error) {
	return lockStaff(ctx, tx, id, check, policy.ActStaffRead)
}

// write runs fn in a transaction on a locked, authorized staff record.
func (s *Service) write(ctx context.Context, id string, check Check, fn func(tx pgx.Tx, r resource) error) error {
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := lockStaff(ctx, tx, id, check, policy.ActStaffManage)
		if err != nil {
			return err
		}
		return fn(tx, r)
	})
}

// Events returns a staff record's history, oldest first.
func (s *Service) Events(ctx context.Context, check Check, id string) ([]Event, error) {
	var out []Event
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockStaffRead(ctx, tx, id, check); err != nil {
			return err
		}
		var err error
		out, err = historyOf(ctx, tx, "staff_events", "staff_id", id)
		return err
	})
	return out, err
}

// historyOf reads the events of one record from an event table (table and
// key are the code's own names: staff_events by staff_id,
// passport_holder_events by holder_id), oldest first.
func historyOf(ctx context.Context, tx pgx.Tx, table, key, id string) ([]Event, error) {
	rows, err := tx.Query(ctx, `SELECT id, seq, kind, data, reason, act_number, act_date, coalesce(corrects::text, ''),
		recorded_by, recorded_at FROM `+table+` WHERE `+key+` = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		var e Event
		err := row.Scan(&e.ID, &e.Seq, &e.Kind, &e.Data, &e.Reason, &e.Act.Number, &e.Act.Date, &e.Corrects, &e.RecordedBy, &e.RecordedAt)
		return e, err
	})
}
