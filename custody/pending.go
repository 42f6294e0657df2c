package custody

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
	"valise/pouch"
)

// PendingHandoff is a hand-off waiting for its receiver: released, not yet
// accepted or cancelled, with what the receiver needs to find the bag.
type PendingHandoff struct {
	pouch.Handoff
	RegistryNumber string `json:"registry_number"`
	BagState       string `json:"bag_state"`
	Packages       int    `json:"packages"`
	Place          string `json:"place,omitempty"` // where it was released
}

// Pending lists the open hand-offs released to actor, or, for a registry
// clerk, to the registry of the clerk's unit as a whole (a hand-off with a
// unit and no user), newest first, with the cursor of the next page ("" on
// the last). A hand-off is listed only while it is released (not accepted,
// not cancelled) and its bag is within actor's clearance: naming someone as
// receiver gives them need-to-know of that bag, nothing more.
func (s *Service) Pending(ctx context.Context, actor policy.Subject, after string, limit int) ([]PendingHandoff, string, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	args := []any{actor.UserID, actor.HasRole(policy.RoleRegistryClerk), actor.UnitCode, int16(actor.Clearance)}
	where := `h.status = 'released' AND b.level <= $4
		AND (h.to_user = nullif($1, '')::uuid OR ($2 AND h.to_kind = 'registry' AND h.to_unit = $3))`
	if after != "" {
		t, id, err := db.ParseCursor(after, "after")
		if err != nil {
			return nil, "", err
		}
		args = append(args, t, id)
		where += ` AND (h.released_at, h.id) < ($5, $6::uuid)`
	}
	rows, err := s.pool.Query(ctx, `SELECT h.id, h.bag_id, h.purpose, h.from_unit, coalesce(h.from_user::text, ''), h.from_username,
		h.to_kind, h.to_unit, coalesce(h.to_user::text, ''), coalesce(h.to_username, ''), coalesce(h.sheet_id::text, ''),
		h.status, h.release_event, h.released_at,
		b.registry_number, b.state, coalesce(b.package_count, 0), coalesce(e.place, '')
		FROM handoffs h JOIN bags b ON b.id = h.bag_id LEFT JOIN bag_events e ON e.id = h.release_event
		WHERE `+where+fmt.Sprintf(` ORDER BY h.released_at DESC, h.id DESC LIMIT %d`, limit+1), args...)
	if err != nil {
		return nil, "", db.Classify(fmt.Errorf("list pending hand-offs: %w", err))
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PendingHandoff, error) {
		var p PendingHandoff
		err := r.Scan(&p.ID, &p.BagID, &p.Purpose, &p.From.Unit, &p.From.User, &p.From.Username, &p.To.Kind, &p.To.Unit,
			&p.To.User, &p.To.Username, &p.SheetID, &p.Status, &p.ReleaseEvent, &p.ReleasedAt,
			&p.RegistryNumber, &p.BagState, &p.Packages, &p.Place)
		p.From.Kind = pouch.CustodianPerson // a release is signed by a person
		return p, err
	})
	if err != nil {
		return nil, "", db.Classify(fmt.Errorf("list pending hand-offs: %w", err))
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		last := list[limit-1]
		next = db.Cursor(last.ReleasedAt, last.ID)
	}
	if list == nil {
		list = []PendingHandoff{}
	}
	return list, next, nil
}

// pendingMine is the only "pending" filter there is: what waits for the caller.
const pendingMine = "mine"

// PendingFilter checks the pending query parameter.
func PendingFilter(v string) error {
	if v != pendingMine {
		return valise.Invalid("say which hand-offs", valise.FieldError{Field: "pending", Reason: "must be mine: the open hand-offs released to you (or to your registry)"})
	}
	return nil
}
