package policy

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise/internal/db"
)

// LoggedDecision is one row of the decision log (a deny, with its full reason).
type LoggedDecision struct {
	ID            int64     `json:"-"` // never shown: its gaps would count the rows above the reader's clearance
	At            time.Time `json:"at"`
	UserID        string    `json:"user_id"`
	Username      string    `json:"username"`
	Unit          string    `json:"unit"`
	Action        string    `json:"action"`
	ResourceKind  string    `json:"resource_kind"`
	ResourceID    string    `json:"resource_id,omitempty"`
	ResourceLevel Level     `json:"resource_level"`
	Hidden        bool      `json:"hidden"`
	Reason        string    `json:"reason"`
	Detail        string    `json:"detail"`
}

// ListDecisions returns up to limit decision-log rows older than beforeID
// (0 = the newest), newest first, optionally only those of one username,
// and only rows about resources at or below maxLevel (the reader's
// clearance: a row about a bag above it would name the bag and its level).
func ListDecisions(ctx context.Context, pool *pgxpool.Pool, username string, beforeID int64, limit int, maxLevel Level) ([]LoggedDecision, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	rows, err := pool.Query(ctx, `
		SELECT id, at, user_id, username, unit_code, action, resource_kind, resource_id, resource_level, hidden, reason, detail
		FROM decision_log
		WHERE ($1 = '' OR username = $1) AND ($2 = 0 OR id < $2) AND resource_level <= $4
		ORDER BY id DESC LIMIT $3`, username, beforeID, limit, int16(maxLevel))
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list decisions: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LoggedDecision, error) {
		var d LoggedDecision
		var lvl int16
		err := r.Scan(&d.ID, &d.At, &d.UserID, &d.Username, &d.Unit, &d.Action, &d.ResourceKind, &d.ResourceID, &lvl, &d.Hidden, &d.Reason, &d.Detail)
		d.ResourceLevel = Level(lvl)
		return d, err
	})
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list decisions: %w", err))
	}
	return out, nil
}
