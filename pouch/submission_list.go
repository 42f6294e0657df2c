package pouch

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"valise/internal/db"
	"valise/policy"
)

// WaitingSubmissions lists the submissions handed in at registry that no
// bag holds yet, oldest first, with their items. The scope (ListScope of
// "submission") filters in SQL as a bag list is filtered: the level within
// the caller's clearance and the registry, sender or destination in scope.
func (s *Service) WaitingSubmissions(ctx context.Context, sc policy.Scope, registry string, limit int) ([]*Submission, error) {
	if sc.None() {
		return []*Submission{}, nil
	}
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	where, args := "s.level <= $1 AND r.code = $2", []any{int16(sc.MaxLevel), registry}
	if !sc.All {
		units := sc.Units
		if units == nil {
			units = []string{}
		}
		where += " AND (r.code = ANY($3) OR se.code = ANY($3) OR d.code = ANY($3))"
		args = append(args, units)
	}
	rows, err := s.pool.Query(ctx, `SELECT s.id FROM submissions s JOIN units se ON se.id = s.sender_id
		JOIN units r ON r.id = s.registry_id JOIN units d ON d.id = s.destination_id
		WHERE s.bag_id IS NULL AND `+where+fmt.Sprintf(` ORDER BY s.created_at LIMIT %d`, limit), args...)
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list waiting submissions: %w", err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, db.Classify(fmt.Errorf("list waiting submissions: %w", err))
	}
	out := make([]*Submission, 0, len(ids))
	for _, id := range ids {
		sub, err := getSubmission(ctx, s.pool, id)
		if err != nil {
			return nil, db.Classify(err)
		}
		out = append(out, sub)
	}
	return out, nil
}
