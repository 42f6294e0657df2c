package pouch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Sender is one version of an organization's entry on the authorized
// senders list (Art. 6(27-11), 7-1(3); DM-07). A change is a new version;
// nothing is edited.
type Sender struct {
	ID         string       `json:"id"`
	Unit       string       `json:"unit"`
	UnitName   string       `json:"unit_name"`
	Version    int          `json:"version"`
	Status     string       `json:"status"` // active or withdrawn
	LegalBasis string       `json:"legal_basis"`
	ValidFrom  string       `json:"valid_from"` // YYYY-MM-DD
	ValidTo    string       `json:"valid_to,omitempty"`
	Ceiling    policy.Level `json:"ceiling"`
	Submitters []string     `json:"submitters"`
	ApprovedBy string       `json:"approved_by"`
	Note       string       `json:"note,omitempty"`
	RecordedBy string       `json:"recorded_by"`
	RecordedAt time.Time    `json:"recorded_at"`
}

// SenderInput is a new version of an organization's entry.
type SenderInput struct {
	Unit       string        `json:"unit"`
	Status     string        `json:"status,omitempty"` // default active
	LegalBasis string        `json:"legal_basis"`
	ValidFrom  string        `json:"valid_from"`
	ValidTo    string        `json:"valid_to,omitempty"`
	Ceiling    *policy.Level `json:"ceiling"`
	Submitters []string      `json:"submitters"`
	ApprovedBy string        `json:"approved_by"`
	Note       string        `json:"note,omitempty"`
}

// senderResource is the list as the policy sees it.
var senderResource = policy.Resource{Kind: "sender_list"}

// RecordSender appends a new version of an organization's entry.
func (s *Service) RecordSender(ctx context.Context, actor policy.Subject, in SenderInput, check Check) (*Sender, error) {
	if err := check(ctx, policy.ActSendersManage, senderResource); err != nil {
		return nil, err
	}
	var fe []valise.FieldError
	if in.Status == "" {
		in.Status = "active"
	}
	if in.Status != "active" && in.Status != "withdrawn" {
		fe = append(fe, valise.FieldError{Field: "status", Reason: "must be active or withdrawn"})
	}
	if strings.TrimSpace(in.LegalBasis) == "" {
		fe = append(fe, valise.FieldError{Field: "legal_basis", Reason: "required: the act that entitles the organization"})
	}
	if strings.TrimSpace(in.ApprovedBy) == "" {
		fe = append(fe, valise.FieldError{Field: "approved_by", Reason: "required: who approved the change"})
	}
	from, err := time.Parse(time.DateOnly, in.ValidFrom)
	if err != nil {
		fe = append(fe, valise.FieldError{Field: "valid_from", Reason: "required, YYYY-MM-DD"})
	}
	var to *time.Time
	if in.ValidTo != "" {
		t, err := time.Parse(time.DateOnly, in.ValidTo)
		if err != nil || !t.After(from) {
			fe = append(fe, valise.FieldError{Field: "valid_to", Reason: "YYYY-MM-DD after valid_from"})
		}
		to = &t
	}
	if in.Ceiling == nil || !in.Ceiling.Valid() {
		fe = append(fe, valise.FieldError{Field: "ceiling", Reason: "required: the highest level the organization may send"})
	}
	if in.Status == "active" && len(in.Submitters) == 0 {
		fe = append(fe, valise.FieldError{Field: "submitters", Reason: "name at least one person allowed to submit"})
	}
	if in.Unit == "" {
		fe = append(fe, valise.FieldError{Field: "unit", Reason: "required"})
	}
	if fe != nil {
		return nil, valise.Invalid("the list entry is incomplete", fe...)
	}
	if in.Submitters == nil {
		in.Submitters = []string{}
	}
	var out *Sender
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		u, err := UnitByCode(ctx, tx, in.Unit, "unit")
		if err != nil {
			return err
		}
		if u.Kind != "state_body" && u.Kind != "organization" {
			return valise.Invalid("only state bodies and organizations go on the list", valise.FieldError{Field: "unit", Reason: "is a " + u.Kind})
		}
		var id string
		err = tx.QueryRow(ctx, `INSERT INTO authorized_senders (unit_id, version, status, legal_basis, valid_from, valid_to,
			ceiling, submitters, approved_by, note, recorded_by)
			SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM authorized_senders WHERE unit_id = $1
			RETURNING id`, u.ID, in.Status, in.LegalBasis, from, to, int16(*in.Ceiling), in.Submitters, in.ApprovedBy,
			in.Note, actor.Username).Scan(&id)
		if err != nil {
			return fmt.Errorf("record sender: %w", err)
		}
		rows, err := tx.Query(ctx, senderSQL+` WHERE a.id = $1`, id)
		if err != nil {
			return err
		}
		out, err = pgx.CollectExactlyOneRow(rows, scanSender)
		return err
	})
	return out, err
}

const senderSQL = `SELECT a.id, u.code, u.name, a.version, a.status, a.legal_basis, a.valid_from::text AS valid_from,
	coalesce(a.valid_to::text, '') AS valid_to, a.ceiling, a.submitters, a.approved_by, a.note, a.recorded_by, a.recorded_at
	FROM authorized_senders a JOIN units u ON u.id = a.unit_id`

func scanSender(r pgx.CollectableRow) (*Sender, error) {
	var s Sender
	var c int16
	err := r.Scan(&s.ID, &s.Unit, &s.UnitName, &s.Version, &s.Status, &s.LegalBasis, &s.ValidFrom, &s.ValidTo, &c,
		&s.Submitters, &s.ApprovedBy, &s.Note, &s.RecordedBy, &s.RecordedAt)
	s.Ceiling = policy.Level(c)
	return &s, err
}

// SendersAsOf returns the list as it stood at t: for each organization the
// newest version recorded by t, if it was active and valid on t's date.
func SendersAsOf(ctx context.Context, q db.Querier, t time.Time) ([]*Sender, error) {
	rows, err := q.Query(ctx, `SELECT * FROM (`+senderSQL+`
		WHERE a.recorded_at <= $1 AND a.version = (SELECT max(version) FROM authorized_senders x
		      WHERE x.unit_id = a.unit_id AND x.recorded_at <= $1)) cur
		WHERE status = 'active' AND valid_from::date <= $1::date AND (valid_to = '' OR valid_to::date > $1::date)
		ORDER BY code`, t)
	if err != nil {
		return nil, db.Classify(fmt.Errorf("senders as of %s: %w", t, err))
	}
	return pgx.CollectRows(rows, scanSender)
}

// SenderHistory returns every version of one organization's entry, oldest first.
func SenderHistory(ctx context.Context, q db.Querier, unit string) ([]*Sender, error) {
	rows, err := q.Query(ctx, senderSQL+` WHERE u.code = $1 ORDER BY a.version`, unit)
	if err != nil {
		return nil, db.Classify(fmt.Errorf("sender history: %w", err))
	}
	return pgx.CollectRows(rows, scanSender)
}

// senderInForce returns the entry in force now for unit, or an EFORBIDDEN
// error saying why the organization may not send.
func senderInForce(ctx context.Context, tx pgx.Tx, u Unit) (*Sender, error) {
	list, err := SendersAsOf(ctx, tx, time.Now())
	if err != nil {
		return nil, err
	}
	for _, s := range list {
		if s.Unit == u.Code {
			return s, nil
		}
	}
	hist, err := SenderHistory(ctx, tx, u.Code)
	if err != nil {
		return nil, err
	}
	why := "is not on the list of state bodies and organizations entitled to use diplomatic mail"
	if len(hist) > 0 {
		why = "has no entry in force today on the list of entitled senders (withdrawn or outside its validity)"
	}
	return nil, &valise.Error{Code: valise.EFORBIDDEN, Message: u.Code + " " + why,
		Fields: []valise.FieldError{{Field: "sender", Reason: why}}}
}
