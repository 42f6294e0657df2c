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
	"valise/settings"
)

// Conveyance modes: career or ad hoc courier, the captain of a commercial
// aircraft (VCDR 27(7)), or unaccompanied freight through an engaged
// carrier (7-1(8)(5); DM-15).
var conveyances = []string{"career_courier", "ad_hoc_courier", "aircraft_captain", "freight"}

// Route kinds (DM-14).
const (
	RouteMFAToInstitution = "mfa_to_institution"
	RouteInstitutionToMFA = "institution_to_mfa"
	RouteRelay            = "relay"
	RouteOther            = "other"
)

// ClassifyRoute names the statutory route a sequence of units follows
// (origin, relays…, destination), or RouteOther, which the law does not
// describe and which is flagged for review (DM-14, a SOFT rule).
func ClassifyRoute(units []Unit) string {
	if len(units) < 2 {
		return RouteOther
	}
	o, d := units[0], units[len(units)-1]
	switch {
	case len(units) == 2 && o.IsMinistry() && d.IsForeignInstitution():
		return RouteMFAToInstitution
	case len(units) == 2 && o.IsForeignInstitution() && d.IsMinistry():
		return RouteInstitutionToMFA
	case len(units) == 3 && o.IsMinistry() && units[1].IsForeignInstitution() && d.IsForeignInstitution():
		return RouteRelay
	}
	return RouteOther
}

// Leg is one leg of a planned dispatch.
type Leg struct {
	Seq              int        `json:"seq"`
	FromCity         string     `json:"from_city"`
	ToCity           string     `json:"to_city"`
	Conveyance       string     `json:"conveyance"`
	Flight           string     `json:"flight,omitempty"`
	Carrier          string     `json:"carrier,omitempty"` // unit code of an engaged carrier
	CaptainName      string     `json:"captain_name,omitempty"`
	PlannedDeparture *time.Time `json:"planned_departure,omitempty"`
	PlannedArrival   *time.Time `json:"planned_arrival,omitempty"`
}

// Plan is a planned dispatch on a route.
type Plan struct {
	ID               string    `json:"id"`
	Origin           string    `json:"origin"`
	Destination      string    `json:"destination"`
	Route            []string  `json:"route"`
	RouteKind        string    `json:"route_kind"`
	NeedsReview      bool      `json:"needs_review"`
	ReviewNote       string    `json:"review_note,omitempty"`
	Conveyance       string    `json:"conveyance"`
	PlannedDeparture time.Time `json:"planned_departure"`
	PlannedArrival   time.Time `json:"planned_arrival"`
	Legs             []Leg     `json:"legs"`
	CreatedBy        string    `json:"created_by"`
	CreatedAt        time.Time `json:"created_at"`
	// CustodyWindow is how long a bag of this plan in transit may go
	// without a custody event ("8h", "2d"); empty: custody.silence_window.
	CustodyWindow string `json:"custody_window,omitempty"`
	// ReviewStatus of a plan flagged for review (DM-14): pending, approved
	// or refused; its bags are sealed and dispatched only once approved.
	ReviewStatus string      `json:"review_status,omitempty"`
	ReviewedBy   string      `json:"reviewed_by,omitempty"`
	ReviewedAt   *time.Time  `json:"reviewed_at,omitempty"`
	Version      int         `json:"version"`
	Events       []PlanEvent `json:"events"`

	// level is the highest level of the bags planned on it: the plan names
	// their flights and carriers, so clearance bounds it like them.
	level policy.Level
}

// PlanInput creates a plan. Route lists the relays between origin and destination.
type PlanInput struct {
	Origin           string     `json:"origin"`
	Via              []string   `json:"via,omitempty"`
	Destination      string     `json:"destination"`
	Conveyance       string     `json:"conveyance"`
	PlannedDeparture *time.Time `json:"planned_departure"`
	PlannedArrival   *time.Time `json:"planned_arrival"`
	Legs             []Leg      `json:"legs"`
	// ReviewNote justifies a route the law does not describe; required for those.
	ReviewNote string `json:"review_note,omitempty"`
	// CustodyWindow overrides custody.silence_window for the plan's bags ("8h", "2d").
	CustodyWindow string `json:"custody_window,omitempty"`
}

// CreatePlan records a dispatch plan after check authorizes bag.plan on its route.
func (s *Service) CreatePlan(ctx context.Context, actor policy.Subject, in PlanInput, check Check) (*Plan, error) {
	var fe []valise.FieldError
	if in.Origin == "" {
		fe = append(fe, valise.FieldError{Field: "origin", Reason: "required"})
	}
	if in.Destination == "" {
		fe = append(fe, valise.FieldError{Field: "destination", Reason: "required"})
	}
	if !contains(conveyances, in.Conveyance) {
		fe = append(fe, valise.FieldError{Field: "conveyance", Reason: "must be one of " + strings.Join(conveyances, ", ")})
	}
	if in.PlannedDeparture == nil {
		fe = append(fe, valise.FieldError{Field: "planned_departure", Reason: "required"})
	}
	if in.PlannedArrival == nil || (in.PlannedDeparture != nil && !in.PlannedArrival.After(*in.PlannedDeparture)) {
		fe = append(fe, valise.FieldError{Field: "planned_arrival", Reason: "required, after planned_departure"})
	}
	if len(in.Legs) == 0 {
		fe = append(fe, valise.FieldError{Field: "legs", Reason: "at least one leg"})
	}
	for i, l := range in.Legs {
		f := fmt.Sprintf("legs[%d].", i)
		if strings.TrimSpace(l.FromCity) == "" {
			fe = append(fe, valise.FieldError{Field: f + "from_city", Reason: "required"})
		}
		if strings.TrimSpace(l.ToCity) == "" {
			fe = append(fe, valise.FieldError{Field: f + "to_city", Reason: "required"})
		}
		if l.Conveyance == "" {
			in.Legs[i].Conveyance = in.Conveyance
		} else if !contains(conveyances, l.Conveyance) {
			fe = append(fe, valise.FieldError{Field: f + "conveyance", Reason: "must be one of " + strings.Join(conveyances, ", ")})
		}
		c := in.Legs[i].Conveyance
		if c == "freight" && l.Carrier == "" {
			fe = append(fe, valise.FieldError{Field: f + "carrier", Reason: "required for freight: an engaged carrier (DM-15)"})
		}
		if c == "aircraft_captain" && strings.TrimSpace(l.Flight) == "" {
			fe = append(fe, valise.FieldError{Field: f + "flight", Reason: "required when the bag is entrusted to an aircraft captain"})
		}
	}
	window, err := parseWindow(in.CustodyWindow)
	if err != nil {
		fe = append(fe, valise.FieldError{Field: "custody_window", Reason: err.Error()})
	}
	if fe != nil {
		return nil, valise.Invalid("the plan is incomplete", fe...)
	}
	var out *Plan
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		codes := append(append([]string{in.Origin}, in.Via...), in.Destination)
		units := make([]Unit, len(codes))
		seen := map[string]bool{}
		for i, c := range codes {
			field := "via"
			switch i {
			case 0:
				field = "origin"
			case len(codes) - 1:
				field = "destination"
			}
			u, err := UnitByCode(ctx, tx, c, field)
			if err != nil {
				return err
			}
			if seen[c] {
				return valise.Invalid("a unit appears twice on the route", valise.FieldError{Field: field, Reason: c + " repeats"})
			}
			seen[c] = true
			units[i] = u
		}
		kind := ClassifyRoute(units)
		if kind == RouteOther && strings.TrimSpace(in.ReviewNote) == "" {
			return valise.Invalid("the law does not describe this route (DM-14); it can be planned only with a justification, and is flagged for review",
				valise.FieldError{Field: "review_note", Reason: "required for a route other than ministry ↔ foreign institution or a relay of ministry mail"})
		}
		if err := check(ctx, policy.ActBagPlan, policy.Resource{Kind: "bag", Origin: in.Origin, Destination: in.Destination, Route: codes}); err != nil {
			return err
		}
		var id string
		var review *string
		if kind == RouteOther {
			pending := ReviewPending
			review = &pending
		}
		err := tx.QueryRow(ctx, `INSERT INTO dispatch_plans (origin_id, destination_id, route_codes, route_kind, needs_review,
			review_note, conveyance, planned_departure, planned_arrival, created_by, review_status, custody_window)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, make_interval(secs => $12)) RETURNING id`,
			units[0].ID, units[len(units)-1].ID, codes, kind, kind == RouteOther, in.ReviewNote, in.Conveyance,
			*in.PlannedDeparture, *in.PlannedArrival, actor.Username, review, window).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert plan: %w", err)
		}
		for i, l := range in.Legs {
			var carrierID *string
			if l.Carrier != "" {
				u, err := UnitByCode(ctx, tx, l.Carrier, fmt.Sprintf("legs[%d].carrier", i))
				if err != nil {
					return err
				}
				if u.Kind != "carrier" {
					return valise.Invalid("not an engaged carrier", valise.FieldError{Field: fmt.Sprintf("legs[%d].carrier", i), Reason: "the unit is not a carrier (DM-15)"})
				}
				carrierID = &u.ID
			}
			_, err := tx.Exec(ctx, `INSERT INTO plan_legs (plan_id, seq, from_city, to_city, conveyance, flight, carrier_id,
				captain_name, planned_departure, planned_arrival) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				id, i+1, l.FromCity, l.ToCity, l.Conveyance, l.Flight, carrierID, l.CaptainName, l.PlannedDeparture, l.PlannedArrival)
			if err != nil {
				return fmt.Errorf("insert leg: %w", err)
			}
		}
		out, err = getPlan(ctx, tx, id)
		return err
	})
	return out, err
}

// getPlan loads a plan with its legs and events.
func getPlan(ctx context.Context, q db.Querier, id string) (*Plan, error) {
	return loadPlan(ctx, q, id, "")
}

// loadPlan loads a plan with its legs and events (lock: "" or " FOR UPDATE OF p").
func loadPlan(ctx context.Context, q db.Querier, id, lock string) (*Plan, error) {
	p, err := planHeader(ctx, q, id, lock)
	if err != nil {
		return nil, err
	}
	return p, loadLegs(ctx, q, p)
}

// planHeader loads a plan without its legs and events (one round trip),
// with what the policy reads of it.
func planHeader(ctx context.Context, q db.Querier, id, lock string) (*Plan, error) {
	if !db.ValidUUID(id) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such plan")
	}
	var p Plan
	var window *int64
	var level int16
	err := q.QueryRow(ctx, `SELECT p.id, o.code, d.code, p.route_codes, p.route_kind, p.needs_review, p.review_note, p.conveyance,
		p.planned_departure, p.planned_arrival, p.created_by, p.created_at, extract(epoch FROM p.custody_window)::bigint,
		coalesce(p.review_status, ''), coalesce(p.reviewed_by, ''), p.reviewed_at, p.version,
		coalesce((SELECT max(b.level) FROM bags b WHERE b.plan_id = p.id), 0)
		FROM dispatch_plans p JOIN units o ON o.id = p.origin_id JOIN units d ON d.id = p.destination_id WHERE p.id = $1`+lock, id).
		Scan(&p.ID, &p.Origin, &p.Destination, &p.Route, &p.RouteKind, &p.NeedsReview, &p.ReviewNote, &p.Conveyance,
			&p.PlannedDeparture, &p.PlannedArrival, &p.CreatedBy, &p.CreatedAt, &window, &p.ReviewStatus, &p.ReviewedBy,
			&p.ReviewedAt, &p.Version, &level)
	p.level = policy.Level(level)
	if window != nil {
		p.CustodyWindow = settings.FormatDuration(time.Duration(*window) * time.Second)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such plan")
	}
	if err != nil {
		return nil, fmt.Errorf("load plan: %w", err)
	}
	return &p, nil
}

// loadLegs reads the plan's legs into p.
func loadLegs(ctx context.Context, q db.Querier, p *Plan) error {
	rows, err := q.Query(ctx, `SELECT l.seq, l.from_city, l.to_city, l.conveyance, l.flight, coalesce(c.code, ''), l.captain_name,
		l.planned_departure, l.planned_arrival FROM plan_legs l LEFT JOIN units c ON c.id = l.carrier_id
		WHERE l.plan_id = $1 ORDER BY l.seq`, p.ID)
	if err != nil {
		return fmt.Errorf("load legs: %w", err)
	}
	p.Legs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Leg, error) {
		var l Leg
		return l, r.Scan(&l.Seq, &l.FromCity, &l.ToCity, &l.Conveyance, &l.Flight, &l.Carrier, &l.CaptainName,
			&l.PlannedDeparture, &l.PlannedArrival)
	})
	if err != nil {
		return fmt.Errorf("load legs: %w", err)
	}
	if p.Events, err = planEvents(ctx, q, p.ID); err != nil {
		return err
	}
	return nil
}

// GetPlan returns a plan after check authorizes reading bags on its route.
// The legs are read only once check allows: a hidden plan costs the round
// trip a missing one does.
func (s *Service) GetPlan(ctx context.Context, id string, check Check) (*Plan, error) {
	p, err := planHeader(ctx, s.pool, id, "")
	if err != nil {
		return nil, db.Classify(err)
	}
	if err := check(ctx, policy.ActBagRead, policy.Resource{Kind: "bag", ID: p.ID, Level: p.level, Origin: p.Origin, Destination: p.Destination, Route: p.Route}); err != nil {
		return nil, err
	}
	return p, db.Classify(loadLegs(ctx, s.pool, p))
}
