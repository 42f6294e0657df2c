package pouch

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
	"valise/settings"
)

// Review states of a plan flagged for review (DM-14).
const (
	ReviewPending  = "pending"
	ReviewApproved = "approved"
	ReviewRefused  = "refused"
)

// PlanEvent is something that happened to a plan after it was made: a
// review decision or a change of its custody window, with who and why.
// plan_events is append-only.
type PlanEvent struct {
	ID         int64           `json:"id"`
	Kind       string          `json:"kind"` // review_approved, review_refused, custody_window_set
	Reason     string          `json:"reason"`
	Data       json.RawMessage `json:"data"`
	Actor      string          `json:"actor"`
	ActorName  string          `json:"actor_name,omitempty"`
	ActorUnit  string          `json:"actor_unit,omitempty"`
	RecordedAt time.Time       `json:"recorded_at"`
}

func planEvents(ctx context.Context, q db.Querier, planID string) ([]PlanEvent, error) {
	rows, err := q.Query(ctx, `SELECT id, kind, reason, data, actor, actor_name, actor_unit, recorded_at
		FROM plan_events WHERE plan_id = $1 ORDER BY id`, planID)
	if err != nil {
		return nil, fmt.Errorf("load plan events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PlanEvent, error) {
		var e PlanEvent
		return e, r.Scan(&e.ID, &e.Kind, &e.Reason, &e.Data, &e.Actor, &e.ActorName, &e.ActorUnit, &e.RecordedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("load plan events: %w", err)
	}
	if out == nil {
		out = []PlanEvent{}
	}
	return out, nil
}

// windowDef is the range a plan's custody window shares with the
// custody.silence_window setting it overrides.
var windowDef, _ = settings.Lookup("custody.silence_window")

// parseWindow reads a custody window ("8h", "2d"); "" is none. It returns
// seconds (nil for none).
func parseWindow(v string) (*int64, error) {
	if v == "" {
		return nil, nil
	}
	raw, _ := json.Marshal(v)
	return windowDef.Parse(raw)
}

func (p *Plan) resource() policy.Resource {
	return policy.Resource{Kind: "bag", ID: p.ID, Origin: p.Origin, Destination: p.Destination, Route: p.Route}
}

// planChange runs change on plan id in a transaction: it locks the plan,
// lets check authorize action on its route (after reading it: a plan on a
// route the caller may not see is "not found"), compares ifMatch (0: none)
// with its version, and records the event change returns, with a new version.
func (s *Service) planChange(ctx context.Context, actor policy.Subject, id string, ifMatch int, action, reason string,
	check Check, change func(tx pgx.Tx, p *Plan) (kind string, data map[string]any, err error)) (*Plan, error) {
	var out *Plan
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		p, err := loadPlan(ctx, tx, id, " FOR UPDATE OF p")
		if err != nil {
			return err
		}
		if err := check(ctx, policy.ActBagRead, p.resource()); err != nil {
			return err
		}
		if err := check(ctx, action, p.resource()); err != nil {
			return err
		}
		if ifMatch != 0 && ifMatch != p.Version {
			return &valise.Error{Code: valise.EPRECONDITION,
				Message: fmt.Sprintf("the plan changed since you read it (your version %d, now %d); reload it and retry", ifMatch, p.Version),
				Extra:   map[string]any{"current_version": p.Version}}
		}
		kind, data, err := change(tx, p)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE dispatch_plans SET version = version + 1 WHERE id = $1`, p.ID); err != nil {
			return fmt.Errorf("update plan: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO plan_events (plan_id, kind, reason, data, actor, actor_name, actor_unit)
			VALUES ($1, $2, $3, $4, $5, coalesce((SELECT full_name FROM users WHERE id::text = $6), ''), $7)`,
			p.ID, kind, reason, mustJSON(data), actor.Username, actor.UserID, actor.UnitCode)
		if err != nil {
			return fmt.Errorf("record plan event: %w", err)
		}
		out, err = getPlan(ctx, tx, p.ID)
		return err
	})
	return out, err
}

func needReason(reason string) error {
	if r := strings.TrimSpace(reason); r == "" || len(r) > 1000 {
		return valise.Invalid("say why", valise.FieldError{Field: "reason", Reason: "required, up to 1000 characters"})
	}
	return nil
}

// ReviewInput decides on a plan flagged for review.
type ReviewInput struct {
	Decision string `json:"decision"` // approve or refuse
	Reason   string `json:"reason"`
}

// ReviewPlan approves or refuses a plan flagged for review (DM-14), with a
// reason, as an event of the plan. check must authorize plan.review on the
// plan's route (a security officer, or a dispatcher of the ministry); the
// plan's author never reviews it. A pending or refused plan can be decided;
// an approved one is final (its bags may already be under way).
func (s *Service) ReviewPlan(ctx context.Context, actor policy.Subject, id string, ifMatch int, in ReviewInput, check Check) (*Plan, error) {
	status := map[string]string{"approve": ReviewApproved, "refuse": ReviewRefused}[in.Decision]
	var fe []valise.FieldError
	if status == "" {
		fe = append(fe, valise.FieldError{Field: "decision", Reason: "approve or refuse"})
	}
	if err := needReason(in.Reason); err != nil {
		fe = append(fe, err.(*valise.Error).Fields...)
	}
	if fe != nil {
		return nil, valise.Invalid("the review is incomplete", fe...)
	}
	return s.planChange(ctx, actor, id, ifMatch, policy.ActPlanReview, in.Reason, check, func(tx pgx.Tx, p *Plan) (string, map[string]any, error) {
		switch {
		case !p.NeedsReview:
			return "", nil, &valise.Error{Code: valise.ECONFLICT, Message: "the plan follows a statutory route and needs no review",
				Extra: map[string]any{"review_status": ""}}
		case p.ReviewStatus == ReviewApproved:
			return "", nil, &valise.Error{Code: valise.ECONFLICT, Message: "the plan is already approved; an approval is final",
				Extra: map[string]any{"review_status": p.ReviewStatus}}
		case p.CreatedBy == actor.Username:
			return "", nil, valise.Errorf(valise.EFORBIDDEN, "the author of a plan does not review it: another security officer or ministry dispatcher must")
		}
		_, err := tx.Exec(ctx, `UPDATE dispatch_plans SET review_status = $2, reviewed_by = $3, reviewed_at = now() WHERE id = $1`,
			p.ID, status, actor.Username)
		if err != nil {
			return "", nil, fmt.Errorf("review plan: %w", err)
		}
		return "review_" + status, map[string]any{"from": p.ReviewStatus, "to": status}, nil
	})
}

// WindowInput sets a plan's custody window; an empty value clears it (the
// custody.silence_window setting applies again).
type WindowInput struct {
	CustodyWindow string `json:"custody_window"`
	Reason        string `json:"reason"`
}

// SetCustodyWindow sets how long the plan's bags in transit may go without
// a custody event before they are overdue. check must authorize bag.plan on
// the plan's route (whoever plans it).
func (s *Service) SetCustodyWindow(ctx context.Context, actor policy.Subject, id string, ifMatch int, in WindowInput, check Check) (*Plan, error) {
	window, err := parseWindow(in.CustodyWindow)
	var fe []valise.FieldError
	if err != nil {
		fe = append(fe, valise.FieldError{Field: "custody_window", Reason: err.Error()})
	}
	if err := needReason(in.Reason); err != nil {
		fe = append(fe, err.(*valise.Error).Fields...)
	}
	if fe != nil {
		return nil, valise.Invalid("the custody window cannot be set", fe...)
	}
	return s.planChange(ctx, actor, id, ifMatch, policy.ActBagPlan, in.Reason, check, func(tx pgx.Tx, p *Plan) (string, map[string]any, error) {
		if _, err := tx.Exec(ctx, `UPDATE dispatch_plans SET custody_window = make_interval(secs => $2) WHERE id = $1`, p.ID, window); err != nil {
			return "", nil, fmt.Errorf("set custody window: %w", err)
		}
		to := ""
		if window != nil {
			to = settings.FormatDuration(time.Duration(*window) * time.Second)
		}
		return "custody_window_set", map[string]any{"from": p.CustodyWindow, "to": to}, nil
	})
}
