package pouch

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// LossInput reports a bag missing (7-1(7) parts 3–4; DM-13).
type LossInput struct {
	Territory     string     `json:"territory"`         // home or abroad
	Country       string     `json:"country,omitempty"` // ISO 3166 alpha-2, required abroad
	LastSeenAt    *time.Time `json:"last_seen_at"`
	LastSeenPlace string     `json:"last_seen_place"`
	Circumstances string     `json:"circumstances,omitempty"`
}

// LossReport is a loss report and where its workflow stands. On home
// territory the diplomatic service and other competent state bodies search
// and guard at once; abroad, locating and guarding proceed only in
// agreement with the foreign-intelligence bodies, so the report waits for
// that agreement to be recorded.
type LossReport struct {
	ID            string     `json:"id"`
	BagID         string     `json:"bag_id"`
	IncidentID    string     `json:"incident_id"`
	Territory     string     `json:"territory"`
	Country       string     `json:"country,omitempty"`
	LastSeenAt    time.Time  `json:"last_seen_at"`
	LastSeenPlace string     `json:"last_seen_place"`
	Circumstances string     `json:"circumstances,omitempty"`
	Workflow      string     `json:"workflow"`
	Status        string     `json:"status"`
	AgreementBody string     `json:"agreement_body,omitempty"`
	AgreementRef  string     `json:"agreement_ref,omitempty"`
	AgreementAt   *time.Time `json:"agreement_at,omitempty"`
	ReportedBy    string     `json:"reported_by"`
	ReportedAt    time.Time  `json:"reported_at"`
	Version       int        `json:"version"`
}

var countryRE = regexp.MustCompile(`^[A-Z]{2}$`)

// ReportMissing moves the bag to missing, opens a breach incident and the
// loss report with the workflow its territory requires.
func (s *Service) ReportMissing(ctx context.Context, actor policy.Subject, m Mutation, in LossInput, check Check) (*Bag, *LossReport, error) {
	var fe []valise.FieldError
	switch in.Territory {
	case "home":
	case "abroad":
		if !countryRE.MatchString(in.Country) {
			fe = append(fe, valise.FieldError{Field: "country", Reason: "required abroad: the state's ISO 3166 alpha-2 code"})
		}
	default:
		fe = append(fe, valise.FieldError{Field: "territory", Reason: "must be home or abroad"})
	}
	if in.LastSeenAt == nil {
		fe = append(fe, valise.FieldError{Field: "last_seen_at", Reason: "required"})
	}
	if strings.TrimSpace(in.LastSeenPlace) == "" {
		fe = append(fe, valise.FieldError{Field: "last_seen_place", Reason: "required"})
	}
	if fe != nil {
		return nil, nil, valise.Invalid("the loss report is incomplete", fe...)
	}
	var lr *LossReport
	b, _, err := s.mutate(ctx, actor, m, ActReportLoss, check, func(tx pgx.Tx, b *Bag, ev *Event) error {
		where := "on home territory"
		workflow, status := "search_and_guard", "searching"
		if in.Territory == "abroad" {
			where = "abroad (" + in.Country + ")"
			workflow, status = "locate_and_guard", "awaiting_agreement"
		}
		inc, err := openIncident(ctx, tx, actor, b, ClassBreach, "loss", "reported missing "+where+", last seen at "+in.LastSeenPlace)
		if err != nil {
			return err
		}
		var country *string
		if in.Territory == "abroad" {
			country = &in.Country
		}
		var id string
		err = tx.QueryRow(ctx, `INSERT INTO loss_reports (bag_id, incident_id, territory, country, last_seen_at, last_seen_place,
			circumstances, workflow, status, reported_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
			b.ID, inc.ID, in.Territory, country, *in.LastSeenAt, in.LastSeenPlace, in.Circumstances, workflow, status,
			actor.Username).Scan(&id)
		if err != nil {
			return fmt.Errorf("record loss report: %w", err)
		}
		ev.Place = in.LastSeenPlace
		ev.Data = mustJSON(map[string]any{"loss_report_id": id, "incident_id": inc.ID, "territory": in.Territory,
			"country": in.Country, "workflow": workflow})
		lr, err = getLoss(ctx, tx, id, false)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return b, lr, nil
}

const lossColumns = `id, bag_id, incident_id, territory, coalesce(country, ''), last_seen_at, last_seen_place, circumstances,
	workflow, status, coalesce(agreement_body, ''), coalesce(agreement_ref, ''), agreement_at, reported_by, reported_at, version`

func getLoss(ctx context.Context, q db.Querier, id string, forUpdate bool) (*LossReport, error) {
	if !db.ValidUUID(id) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such loss report")
	}
	sql := `SELECT ` + lossColumns + ` FROM loss_reports WHERE id = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	l, err := scanLoss(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such loss report")
	}
	if err != nil {
		return nil, fmt.Errorf("load loss report: %w", err)
	}
	return l, nil
}

func scanLoss(row pgx.Row) (*LossReport, error) {
	var l LossReport
	err := row.Scan(&l.ID, &l.BagID, &l.IncidentID, &l.Territory, &l.Country, &l.LastSeenAt,
		&l.LastSeenPlace, &l.Circumstances, &l.Workflow, &l.Status, &l.AgreementBody, &l.AgreementRef, &l.AgreementAt,
		&l.ReportedBy, &l.ReportedAt, &l.Version)
	return &l, err
}

// GetLoss returns a loss report after check authorizes reading its incident.
// The report and its bag's policy fields come in one query (resource.go), so
// a hidden report costs what a missing one does.
func (s *Service) GetLoss(ctx context.Context, id string, check Check) (*LossReport, error) {
	if !db.ValidUUID(id) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such loss report")
	}
	var r policy.Resource
	var level int16
	l, err := scanLoss(extraRow{s.pool.QueryRow(ctx, `WITH l AS (SELECT `+lossColumns+` FROM loss_reports WHERE id = $1)
		SELECT l.*, `+bagResourceCols+` FROM l`+bagResourceJoin("l"), id), bagResourceDest(&r, &level)})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such loss report")
	}
	if err != nil {
		return nil, db.Classify(fmt.Errorf("load loss report: %w", err))
	}
	r.Level, r.Kind, r.ID = policy.Level(level), "incident", l.IncidentID
	if err := check(ctx, policy.ActIncidentRead, r); err != nil {
		return nil, err
	}
	return l, nil
}

// AgreementInput records the agreement with the foreign-intelligence bodies.
type AgreementInput struct {
	Body      string `json:"body"`
	Reference string `json:"reference"`
}

// RecordAgreement lets a loss abroad proceed to locating and guarding.
func (s *Service) RecordAgreement(ctx context.Context, actor policy.Subject, id string, in AgreementInput, check Check) (*LossReport, error) {
	var fe []valise.FieldError
	if strings.TrimSpace(in.Body) == "" {
		fe = append(fe, valise.FieldError{Field: "body", Reason: "required: the foreign-intelligence body agreed with"})
	}
	if strings.TrimSpace(in.Reference) == "" {
		fe = append(fe, valise.FieldError{Field: "reference", Reason: "required: the agreement's reference"})
	}
	if fe != nil {
		return nil, valise.Invalid("the agreement is incomplete", fe...)
	}
	var out *LossReport
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		l, err := getLoss(ctx, tx, id, true)
		if err != nil {
			return err
		}
		b, err := incidentBag(ctx, tx, l.BagID, l.IncidentID, policy.ActIncidentEdit, true, check)
		if err != nil {
			return err
		}
		if l.Status != "awaiting_agreement" {
			return &valise.Error{Code: valise.ECONFLICT, Message: "this loss report does not await an agreement (it is " + l.Status + ")",
				Extra: map[string]any{"current_state": l.Status}}
		}
		_, err = tx.Exec(ctx, `UPDATE loss_reports SET agreement_body = $2, agreement_ref = $3, agreement_at = now(),
			agreement_by = $4, status = 'locating', version = version + 1 WHERE id = $1`, id, in.Body, in.Reference, actor.Username)
		if err != nil {
			return fmt.Errorf("record agreement: %w", err)
		}
		if err := record(ctx, tx, actor, &Event{BagID: b.ID, Kind: "loss_agreement", Stage: "loss",
			Data: mustJSON(map[string]any{"loss_report_id": id, "body": in.Body, "reference": in.Reference})}); err != nil {
			return err
		}
		out, err = getLoss(ctx, tx, id, false)
		return err
	})
	return out, err
}

// MarkFound records that a missing bag was found. Abroad it is refused
// until the agreement with the foreign-intelligence bodies is recorded. The
// loss report closes; the incident stays open for the security officer to
// close (the bag may still have been compromised).
func (s *Service) MarkFound(ctx context.Context, actor policy.Subject, m Mutation, check Check) (*Bag, error) {
	if strings.TrimSpace(m.Place) == "" {
		return nil, valise.Invalid("say where the bag was found", valise.FieldError{Field: "place", Reason: "required"})
	}
	b, _, err := s.mutate(ctx, actor, m, ActFound, check, func(tx pgx.Tx, b *Bag, ev *Event) error {
		var id, status string
		err := tx.QueryRow(ctx, `SELECT id, status FROM loss_reports WHERE bag_id = $1 AND status <> 'closed'
			ORDER BY reported_at DESC LIMIT 1 FOR UPDATE`, b.ID).Scan(&id, &status)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if status == "awaiting_agreement" {
			return &valise.Error{Code: valise.ECONFLICT,
				Message: "the bag was lost abroad: record the agreement with the foreign-intelligence bodies before the locating workflow proceeds",
				Extra:   map[string]any{"current_state": ev.FromState, "loss_report_status": status, "missing": "agreement"}}
		}
		if id != "" {
			if _, err := tx.Exec(ctx, `UPDATE loss_reports SET status = 'closed', version = version + 1 WHERE id = $1`, id); err != nil {
				return err
			}
		}
		ev.Data = mustJSON(map[string]any{"loss_report_id": id})
		return nil
	})
	return b, err
}
