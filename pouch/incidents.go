package pouch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Incident classes after 12 FAM 130: a breach is a known or likely
// compromise; an incident is a loss of control whose effect is unknown.
const (
	ClassBreach   = "breach"
	ClassIncident = "incident"
)

// Incident outcomes.
const (
	OutcomeFound       = "found"
	OutcomeLost        = "lost"
	OutcomeCompromised = "compromised"
)

// Incident is an open or closed security incident about a bag.
type Incident struct {
	ID         string     `json:"id"`
	BagID      string     `json:"bag_id"`
	Class      string     `json:"class"`
	Source     string     `json:"source"`
	Summary    string     `json:"summary"`
	OpenedBy   string     `json:"opened_by"`
	OpenedAt   time.Time  `json:"opened_at"`
	NotifyDue  time.Time  `json:"notify_due"`
	CloseDue   time.Time  `json:"close_due"`
	NotifiedAt *time.Time `json:"notified_at,omitempty"`
	Outcome    string     `json:"outcome,omitempty"`
	ClosedBy   string     `json:"closed_by,omitempty"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	CloseNote  string     `json:"close_note,omitempty"`
	Overdue    bool       `json:"overdue"`
	Version    int        `json:"version"`
}

// openIncident opens an incident with deadlines read from pouch_settings
// (by-law durations are data, not constants) and records it on the bag.
// A loss report's breach takes the loss deadlines (loss.*), others their class's.
func openIncident(ctx context.Context, tx pgx.Tx, actor policy.Subject, b *Bag, class, source, summary string) (*Incident, error) {
	deadlines := class
	if source == "loss" {
		deadlines = "loss"
	}
	notify, err := setting(ctx, tx, deadlines+".notify_within")
	if err != nil {
		return nil, err
	}
	closeIn, err := setting(ctx, tx, deadlines+".close_within")
	if err != nil {
		return nil, err
	}
	var id string
	err = tx.QueryRow(ctx, `INSERT INTO incidents (bag_id, class, source, summary, opened_by, notify_due, close_due)
		VALUES ($1, $2, $3, $4, $5, now() + $6::interval, now() + $7::interval) RETURNING id`,
		b.ID, class, source, summary, actor.Username, notify, closeIn).Scan(&id)
	if err != nil {
		return nil, fmt.Errorf("open incident: %w", err)
	}
	if err := record(ctx, tx, actor, &Event{BagID: b.ID, Kind: "incident_opened", Stage: "incident", Reason: summary,
		Data: mustJSON(map[string]any{"incident_id": id, "class": class, "source": source})}); err != nil {
		return nil, err
	}
	return getIncident(ctx, tx, id, false)
}

const incidentColumns = `i.id, i.bag_id, i.class, i.source, i.summary, i.opened_by, i.opened_at, i.notify_due,
	i.close_due, i.notified_at, coalesce(i.outcome, ''), coalesce(i.closed_by, ''), i.closed_at,
	coalesce(i.close_note, ''), i.version,
	i.outcome IS NULL AND (i.close_due < now() OR (i.notified_at IS NULL AND i.notify_due < now()))`

func scanIncident(row pgx.Row) (*Incident, error) {
	var i Incident
	err := row.Scan(&i.ID, &i.BagID, &i.Class, &i.Source, &i.Summary, &i.OpenedBy, &i.OpenedAt, &i.NotifyDue,
		&i.CloseDue, &i.NotifiedAt, &i.Outcome, &i.ClosedBy, &i.ClosedAt, &i.CloseNote, &i.Version, &i.Overdue)
	return &i, err
}

func getIncident(ctx context.Context, q db.Querier, id string, forUpdate bool) (*Incident, error) {
	if !db.ValidUUID(id) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such incident")
	}
	sql := `SELECT ` + incidentColumns + ` FROM incidents i WHERE i.id = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	i, err := scanIncident(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such incident")
	}
	if err != nil {
		return nil, fmt.Errorf("load incident: %w", err)
	}
	return i, nil
}

// incidentResource is the incident as the policy sees it: its bag's level and units.
func incidentResource(b *Bag, id string) policy.Resource {
	r := b.Resource()
	r.Kind, r.ID = "incident", id
	return r
}

// incidentBag loads the bag of incident id (locking its row when
// forUpdate) after check authorizes action on the incident: incidents and
// loss reports are guarded by their bag.
func incidentBag(ctx context.Context, q db.Querier, bagID, id, action string, forUpdate bool, check Check) (*Bag, error) {
	b, err := getBag(ctx, q, bagID, forUpdate)
	if err != nil {
		return nil, err
	}
	if err := check(ctx, action, incidentResource(b, id)); err != nil {
		return nil, err
	}
	return b, nil
}

// GetIncident returns an incident after check authorizes incident.read on
// its bag. The incident and its bag's policy fields come in one query
// (resource.go), so a hidden incident costs what a missing one does.
func (s *Service) GetIncident(ctx context.Context, id string, check Check) (*Incident, error) {
	if !db.ValidUUID(id) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such incident")
	}
	var r policy.Resource
	var level int16
	i, err := scanIncident(extraRow{s.pool.QueryRow(ctx, `SELECT `+incidentColumns+`, `+bagResourceCols+
		` FROM incidents i`+bagResourceJoin("i")+` WHERE i.id = $1`, id), bagResourceDest(&r, &level)})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such incident")
	}
	if err != nil {
		return nil, db.Classify(fmt.Errorf("load incident: %w", err))
	}
	r.Level, r.Kind, r.ID = policy.Level(level), "incident", id
	if err := check(ctx, policy.ActIncidentRead, r); err != nil {
		return nil, err
	}
	return i, nil
}

// BagIncidents lists the incidents of a bag the caller may read.
func (s *Service) BagIncidents(ctx context.Context, bagID string) ([]*Incident, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+incidentColumns+` FROM incidents i WHERE i.bag_id = $1 ORDER BY i.opened_at`, bagID)
	if err != nil {
		return nil, db.Classify(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Incident, error) { return scanIncident(r) })
}

// ListIncidents lists incidents whose bags fall in scope (open only when openOnly).
func (s *Service) ListIncidents(ctx context.Context, actor policy.Subject, sc policy.Scope, openOnly bool) ([]*Incident, error) {
	where, args := scopeWhere(sc, actor.UserID, 1)
	sql := `SELECT ` + incidentColumns + ` FROM incidents i JOIN bags b ON b.id = i.bag_id WHERE ` + where
	if openOnly {
		sql += ` AND i.outcome IS NULL`
	}
	rows, err := s.pool.Query(ctx, sql+` ORDER BY i.close_due LIMIT 500`, args...)
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list incidents: %w", err))
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Incident, error) { return scanIncident(r) })
}

// IncidentUpdate notifies or closes an incident.
type IncidentUpdate struct {
	Notified bool   `json:"notified,omitempty"`
	Outcome  string `json:"outcome,omitempty"`
	Note     string `json:"note,omitempty"`
}

// UpdateIncident records notification and/or closes the incident with an
// outcome (found, lost, compromised). Closing as compromised moves a bag
// that can be compromised to that state.
func (s *Service) UpdateIncident(ctx context.Context, actor policy.Subject, id string, ifMatch int, in IncidentUpdate, check Check) (*Incident, error) {
	if in.Outcome != "" && !contains([]string{OutcomeFound, OutcomeLost, OutcomeCompromised}, in.Outcome) {
		return nil, valise.Invalid("unknown outcome", valise.FieldError{Field: "outcome", Reason: "must be found, lost or compromised"})
	}
	if !in.Notified && in.Outcome == "" {
		return nil, valise.Invalid("nothing to record", valise.FieldError{Field: "outcome", Reason: "give notified: true or an outcome"})
	}
	if in.Outcome != "" && strings.TrimSpace(in.Note) == "" {
		return nil, valise.Invalid("closing needs a note", valise.FieldError{Field: "note", Reason: "required when closing"})
	}
	var out *Incident
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		i, err := getIncident(ctx, tx, id, true)
		if err != nil {
			return err
		}
		b, err := incidentBag(ctx, tx, i.BagID, id, policy.ActIncidentEdit, true, check)
		if err != nil {
			return err
		}
		if ifMatch != 0 && ifMatch != i.Version {
			return valise.Errorf(valise.EPRECONDITION, "the incident changed since you read it (version %d, now %d)", ifMatch, i.Version)
		}
		if i.Outcome != "" {
			return &valise.Error{Code: valise.ECONFLICT, Message: "the incident is closed (" + i.Outcome + ")",
				Extra: map[string]any{"current_state": "closed", "allowed_next": []string{}}}
		}
		if in.Outcome == OutcomeFound && b.State == Missing {
			return valise.Errorf(valise.ECONFLICT, "the bag is still missing: record it found through its loss report first")
		}
		_, err = tx.Exec(ctx, `UPDATE incidents SET notified_at = CASE WHEN $2 AND notified_at IS NULL THEN now() ELSE notified_at END,
			outcome = nullif($3, ''), closed_at = CASE WHEN $3 <> '' THEN now() END, closed_by = nullif($4, ''),
			close_note = nullif($5, ''), version = version + 1 WHERE id = $1`,
			id, in.Notified, in.Outcome, map[bool]string{true: actor.Username}[in.Outcome != ""], in.Note)
		if err != nil {
			return fmt.Errorf("update incident: %w", err)
		}
		kind := "incident_notified"
		if in.Outcome != "" {
			kind = "incident_closed"
		}
		if err := record(ctx, tx, actor, &Event{BagID: b.ID, Kind: kind, Stage: "incident", Reason: in.Note,
			Data: mustJSON(map[string]any{"incident_id": id, "outcome": in.Outcome})}); err != nil {
			return err
		}
		// Closing as compromised moves the bag too, in the same
		// transaction, so the incident and the bag never disagree.
		if in.Outcome == OutcomeCompromised && contains(machine[ActCompromise].from, b.State) {
			if err := record(ctx, tx, actor, &Event{BagID: b.ID, Kind: string(ActCompromise), Stage: machine[ActCompromise].stage,
				FromState: b.State, ToState: Compromised, Reason: in.Note,
				Data: mustJSON(map[string]any{"incident_id": id})}); err != nil {
				return err
			}
		}
		if in.Outcome == OutcomeLost {
			_, err = tx.Exec(ctx, `UPDATE loss_reports SET status = 'closed', version = version + 1 WHERE incident_id = $1`, id)
			if err != nil {
				return err
			}
		}
		out, err = getIncident(ctx, tx, id, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
