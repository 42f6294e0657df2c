package pouch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise"
	"valise/crypto/keyring"
	"valise/internal/db"
	"valise/internal/memo"
	"valise/policy"
)

// Service runs the lifecycle over one database pool.
type Service struct {
	pool *pgxpool.Pool
	keys *keyring.Keyring // issues the VS1 seals of sealed bags (WithKeyring)
	// trust caches the parsed trust list for seal scans; now is the clock.
	trust trustCache
	now   func() time.Time
	// handoffBags remembers which bag a hand-off names (it does for good),
	// so a confirmation or cancellation need not ask before its transaction.
	handoffBags memo.Map[string, string]
}

// Package is one package of a bag, "k of N", with its physical seal serial.
type Package struct {
	K          int    `json:"k"`
	N          int    `json:"n"`
	SealSerial string `json:"seal_serial,omitempty"`
}

// Bag is a diplomatic bag (Art. 1(2)): any container of diplomatic mail.
type Bag struct {
	ID             string   `json:"id"`
	RegistryNumber string   `json:"registry_number"`
	Origin         string   `json:"origin"`
	Destination    string   `json:"destination"`
	Route          []string `json:"route"`
	PlanID         *string  `json:"plan_id,omitempty"`
	State          State    `json:"state"`
	// Custodian is who holds the bag now: its last event's custodian_after.
	Custodian        Party        `json:"custodian"`
	Level            policy.Level `json:"level"`
	Container        string       `json:"container,omitempty"`
	PackageCount     int          `json:"package_count,omitempty"`
	Packages         []Package    `json:"packages,omitempty"`
	ProtectiveMeans  string       `json:"protective_means,omitempty"`
	DueAt            *time.Time   `json:"due_at,omitempty"`
	DispatchedAt     *time.Time   `json:"dispatched_at,omitempty"`
	StoragePlace     string       `json:"storage_place,omitempty"`
	StorageCustodian string       `json:"storage_custodian,omitempty"`
	CreatedAt        time.Time    `json:"created_at"`
	UpdatedAt        time.Time    `json:"updated_at"`
	Version          int          `json:"version"`
	AllowedActions   []Action     `json:"allowed_actions"`

	originID, destinationID, resumeState string
	couriers                             []string // user ids of couriers named on its issued sheets
}

// Resource is the bag as the policy sees it: level and units, no contents.
func (b *Bag) Resource() policy.Resource {
	r := policy.Resource{Kind: "bag", ID: b.ID, Level: b.Level, Origin: b.Origin, Destination: b.Destination,
		Route: b.Route, Couriers: b.couriers, CustodianUnit: b.Custodian.Unit}
	if b.Custodian.Kind == CustodianRegistry {
		r.CustodianKind = CustodianRegistry
	} else {
		r.CustodianKind, r.CustodianUnit = b.Custodian.Kind, ""
	}
	if b.Custodian.Kind == CustodianPerson {
		r.Custodian = b.Custodian.User
	}
	return r
}

const bagColumns = `b.id, b.registry_number, o.code, d.code, b.route_codes, b.plan_id, b.state, b.level,
	coalesce(b.container, ''), coalesce(b.package_count, 0), b.protective_means, b.due_at, b.dispatched_at,
	coalesce(b.storage_place, ''), coalesce(b.storage_custodian, ''), b.created_at, b.updated_at, b.version,
	b.origin_id, b.destination_id, coalesce(b.resume_state, ''), ` + CustodianColumns

const bagFrom = ` FROM bags b JOIN units o ON o.id = b.origin_id JOIN units d ON d.id = b.destination_id
	JOIN bag_custody c ON c.bag_id = b.id`

func scanBag(row pgx.Row) (*Bag, error) {
	var b Bag
	var state string
	var level int16
	err := row.Scan(append([]any{&b.ID, &b.RegistryNumber, &b.Origin, &b.Destination, &b.Route, &b.PlanID, &state, &level,
		&b.Container, &b.PackageCount, &b.ProtectiveMeans, &b.DueAt, &b.DispatchedAt, &b.StoragePlace,
		&b.StorageCustodian, &b.CreatedAt, &b.UpdatedAt, &b.Version, &b.originID, &b.destinationID, &b.resumeState},
		CustodianDest(&b.Custodian)...)...)
	if err != nil {
		return nil, err
	}
	b.State, b.Level = State(state), policy.Level(level)
	b.AllowedActions, _ = Next(b.State)
	if b.AllowedActions == nil {
		b.AllowedActions = []Action{}
	}
	return &b, nil
}

// getBag loads a bag (locking its row when forUpdate) with its packages
// and the couriers on its issued sheets, in one round trip (queueBag).
func getBag(ctx context.Context, q db.Querier, id string, forUpdate bool) (*Bag, error) {
	b := &pgx.Batch{}
	var bag *Bag
	if err := queueBag(b, id, forUpdate, &bag, nil, nil); err != nil {
		return nil, err
	}
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	if bag == nil {
		return nil, valise.Errorf(valise.ENOTFOUND, "no such bag")
	}
	return bag, nil
}

// Get returns a bag after check authorizes reading it.
func (s *Service) Get(ctx context.Context, id string, check Check) (*Bag, error) {
	b, err := getBag(ctx, s.pool, id, false)
	if err != nil {
		return nil, db.Classify(err)
	}
	if err := check(ctx, policy.ActBagRead, b.Resource()); err != nil {
		return nil, err
	}
	return b, nil
}

// CreateBagInput plans a bag: on a dispatch plan, or directly between two units.
type CreateBagInput struct {
	PlanID      string     `json:"plan_id,omitempty"`
	Origin      string     `json:"origin,omitempty"`
	Destination string     `json:"destination,omitempty"`
	DueAt       *time.Time `json:"due_at,omitempty"`
	Note        string     `json:"note,omitempty"`
}

// CreateBag plans a bag and gives it its registry number
// (<origin code>-<year>-<6-digit sequence>, unique, never reused).
func (s *Service) CreateBag(ctx context.Context, actor policy.Subject, in CreateBagInput, check Check) (*Bag, error) {
	var out *Bag
	// READ COMMITTED: the origin's number counter serializes its creators
	// (nextNumber); plans and units are not changed under a bag.
	err := db.InTxOpts(ctx, s.pool, db.ReadCommitted, func(tx pgx.Tx) error {
		var origin, dest Unit
		var route []string
		var planID *string
		due := in.DueAt
		if in.PlanID != "" {
			p, err := getPlan(ctx, tx, in.PlanID)
			if err != nil {
				return err
			}
			if origin, err = UnitByCode(ctx, tx, p.Origin, "plan_id"); err != nil {
				return err
			}
			if dest, err = UnitByCode(ctx, tx, p.Destination, "plan_id"); err != nil {
				return err
			}
			route, planID = p.Route, &p.ID
			if due == nil {
				due = &p.PlannedArrival
			}
		} else {
			var fe []valise.FieldError
			if in.Origin == "" {
				fe = append(fe, valise.FieldError{Field: "origin", Reason: "required without plan_id"})
			}
			if in.Destination == "" {
				fe = append(fe, valise.FieldError{Field: "destination", Reason: "required without plan_id"})
			}
			if fe != nil {
				return valise.Invalid("the bag needs a plan or an origin and a destination", fe...)
			}
			var err error
			if origin, err = UnitByCode(ctx, tx, in.Origin, "origin"); err != nil {
				return err
			}
			if dest, err = UnitByCode(ctx, tx, in.Destination, "destination"); err != nil {
				return err
			}
			if origin.ID == dest.ID {
				return valise.Invalid("origin and destination are the same unit", valise.FieldError{Field: "destination", Reason: "must differ from origin"})
			}
			// DM-14: without a plan there is no review note, so only the
			// routes the law describes (ministry ↔ foreign institution) may
			// be planned directly; any other goes through a plan, which
			// records its justification and is flagged for review.
			if kind := ClassifyRoute([]Unit{origin, dest}); kind == RouteOther {
				return valise.Invalid("the law describes only ministry → foreign institution and foreign institution → ministry routes here (DM-14); plan any other route with a review note",
					valise.FieldError{Field: "destination", Reason: fmt.Sprintf("%s → %s is not a statutory route; use plan_id", origin.Code, dest.Code)})
			}
			route = []string{origin.Code, dest.Code}
		}
		b := &Bag{Origin: origin.Code, Destination: dest.Code, Route: route, State: Planned}
		if err := check(ctx, policy.ActBagPlan, b.Resource()); err != nil {
			return err
		}
		now := time.Now()
		n, err := nextNumber(ctx, tx, origin.ID, "bag", now.Year())
		if err != nil {
			return err
		}
		reg := fmt.Sprintf("%s-%d-%06d", origin.Code, now.Year(), n)
		var id string
		err = tx.QueryRow(ctx, `
			INSERT INTO bags (registry_number, origin_id, destination_id, plan_id, route_codes, state, due_at, version)
			VALUES ($1, $2, $3, $4, $5, 'planned', $6, 0) RETURNING id`,
			reg, origin.ID, dest.ID, planID, route, due).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert bag: %w", err)
		}
		data, _ := json.Marshal(map[string]any{"registry_number": reg, "plan_id": planID, "route": route})
		if err := record(ctx, tx, actor, &Event{BagID: id, Kind: "planned", Stage: "plan", ToState: Planned,
			Reason: in.Note, Data: data}); err != nil {
			return err
		}
		out, err = getBag(ctx, tx, id, false)
		return err
	})
	return out, err
}

// Mutation is the common part of every bag action: which bag, the
// If-Match version the caller saw (0: none given), and the event context.
type Mutation struct {
	BagID   string
	IfMatch int
	Place   string
	Reason  string
	// OccurredAt is when it happened, if not now (device or paper time).
	OccurredAt time.Time
}

// mutate runs action a on one bag in a serializable transaction: it locks
// the row, asks check, compares the If-Match version, checks the state
// machine, lets apply change the bag and add rows, then writes the bag's
// descriptive columns and records the event, whose insertion moves the
// state and the version (the projection trigger). Two clerks acting at
// once: one commits, the other retries, sees the new state or version, and
// loses.
func (s *Service) mutate(ctx context.Context, actor policy.Subject, m Mutation, a Action, check Check,
	apply func(tx pgx.Tx, b *Bag, ev *Event) error) (*Bag, *Event, error) {
	var out *Bag
	var ev *Event
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		b, err := getBag(ctx, tx, m.BagID, true)
		if err != nil {
			return err
		}
		if err := check(ctx, machine[a].policy, b.Resource()); err != nil {
			return err
		}
		if m.IfMatch != 0 && m.IfMatch != b.Version {
			return &valise.Error{Code: valise.EPRECONDITION,
				Message: fmt.Sprintf("the bag changed since you read it (your version %d, now %d); reload it and retry", m.IfMatch, b.Version),
				Extra:   map[string]any{"current_version": b.Version, "current_state": b.State}}
		}
		if err := allow(b.State, a); err != nil {
			return err
		}
		from := b.State
		ev = &Event{BagID: b.ID, Kind: string(a), Stage: machine[a].stage, FromState: from, ToState: machine[a].to,
			Place: m.Place, Reason: m.Reason, OccurredAt: m.OccurredAt}
		if machine[a].to != "" {
			b.State = machine[a].to
		}
		if apply != nil {
			if err := apply(tx, b, ev); err != nil {
				return err
			}
		}
		ev.ToState = b.State
		var container, resume, place, custodian *string
		if b.Container != "" {
			container = &b.Container
		}
		if b.resumeState != "" {
			resume = &b.resumeState
		}
		if b.StoragePlace != "" {
			place = &b.StoragePlace
		}
		if b.StorageCustodian != "" {
			custodian = &b.StorageCustodian
		}
		var pc *int
		if b.PackageCount > 0 {
			pc = &b.PackageCount
		}
		_, err = tx.Exec(ctx, `
			UPDATE bags SET resume_state = $2, level = $3, container = $4, package_count = $5,
			       protective_means = $6, due_at = $7, dispatched_at = $8, storage_place = $9,
			       storage_custodian = $10
			WHERE id = $1`,
			b.ID, resume, int16(b.Level), container, pc, b.ProtectiveMeans, b.DueAt, b.DispatchedAt,
			place, custodian)
		if err != nil {
			return fmt.Errorf("update bag: %w", err)
		}
		if err := record(ctx, tx, actor, ev); err != nil {
			return err
		}
		if ev.after != nil {
			if err := ev.after(tx); err != nil {
				return err
			}
		}
		out, err = getBag(ctx, tx, b.ID, false)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return out, ev, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Pool exposes the service's pool to tests and read-only helpers.
func (s *Service) Pool() *pgxpool.Pool { return s.pool }
