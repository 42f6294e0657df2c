package custody

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"valise/policy"
	"valise/pouch"
)

// Overdue is a bag in transit that has had no custody event within its
// expected window: nobody has scanned, handed off or received it for longer
// than the route allows, so someone must find out where it is.
type Overdue struct {
	BagID          string       `json:"bag_id"`
	RegistryNumber string       `json:"registry_number"`
	State          string       `json:"state"`
	Level          policy.Level `json:"level"`
	Route          []string     `json:"route"`
	Custodian      Party        `json:"custodian"`
	LastEventID    int64        `json:"last_event_id"`
	LastEventKind  string       `json:"last_event_kind"`
	LastEventAt    time.Time    `json:"last_event_at"`
	Window         string       `json:"window"`
	OverdueBy      string       `json:"overdue_by"`
	DueAt          *time.Time   `json:"due_at,omitempty"`
}

// ListOverdue returns the bags in transit (dispatched or in transit) whose
// last event is older than their window: the plan's custody_window when the
// plan sets one, else the custody.silence_window setting. Only bags in sc
// (the caller's list scope for bags) are considered; most silent first.
func (s *Service) ListOverdue(ctx context.Context, sc policy.Scope, limit int) ([]Overdue, error) {
	if sc.None() {
		return []Overdue{}, nil
	}
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	where, args := "b.level <= $1", []any{int16(sc.MaxLevel)}
	if !sc.All {
		units := sc.Units
		if units == nil {
			units = []string{}
		}
		where += " AND b.route_codes && $2::text[]"
		args = append(args, units)
	}
	args = append(args, limit)
	rows, err := s.pool.Query(ctx, `
		WITH w AS (SELECT value FROM pouch_settings WHERE key = 'custody.silence_window')
		SELECT b.id, b.registry_number, b.state, b.level, b.route_codes, `+pouch.CustodianColumns+`,
		       l.id, l.kind, l.recorded_at, coalesce(p.custody_window, w.value)::text,
		       date_trunc('second', now() - l.recorded_at - coalesce(p.custody_window, w.value))::text, b.due_at
		FROM bags b CROSS JOIN w
		JOIN bag_custody c ON c.bag_id = b.id
		LEFT JOIN dispatch_plans p ON p.id = b.plan_id
		CROSS JOIN LATERAL (SELECT e.id, e.kind, e.recorded_at FROM bag_events e WHERE e.bag_id = b.id
		                    ORDER BY e.bag_id DESC, e.id DESC LIMIT 1) l
		WHERE b.state IN ('dispatched', 'in_transit') AND `+where+`
		  AND l.recorded_at < now() - coalesce(p.custody_window, w.value)
		ORDER BY l.recorded_at LIMIT $`+fmt.Sprint(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list overdue bags: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Overdue, error) {
		var o Overdue
		var level int16
		dest := append([]any{&o.BagID, &o.RegistryNumber, &o.State, &level, &o.Route}, pouch.CustodianDest(&o.Custodian)...)
		err := r.Scan(append(dest, &o.LastEventID, &o.LastEventKind, &o.LastEventAt, &o.Window, &o.OverdueBy, &o.DueAt)...)
		o.Level = policy.Level(level)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("list overdue bags: %w", err)
	}
	if out == nil {
		out = []Overdue{}
	}
	return out, nil
}
