package pouch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
)

// Kinds of custodian a bag can have: a unit's registry as a whole, one
// person (a courier, a clerk) who is a Valise user, or a bearer who is not
// (an aircraft captain or an engaged carrier, recorded by the registries on
// each side, or by the courier who hands the bag to them or takes it back
// in transit, DM-15).
const (
	CustodianRegistry = "registry"
	CustodianPerson   = "person"
	CustodianBearer   = "bearer"
)

// Party is one holder or side of a custody event. A bag always has exactly
// one custodian Party; every event records it before and after.
//
// The fields are in the order of their JSON names, so that json.Marshal
// writes a party as the log's canonical form has it (canonicalAlready).
type Party struct {
	Document string `json:"document,omitempty"` // bearer: identity document, or the carrier's engagement
	Kind     string `json:"kind"`
	Name     string `json:"name,omitempty"`     // bearer: the captain's name, or the carrier's
	SheetID  string `json:"sheet_id,omitempty"` // the courier sheet under which a person or bearer holds it
	Unit     string `json:"unit,omitempty"`     // registry and person: the unit code
	User     string `json:"user,omitempty"`     // person: the user id
	Username string `json:"username,omitempty"` // person
}

// RegistryParty is the registry of unit.
func RegistryParty(unit string) Party { return Party{Kind: CustodianRegistry, Unit: unit} }

func (p Party) String() string {
	switch p.Kind {
	case CustodianPerson:
		return p.Username + " (" + p.Unit + ")"
	case CustodianBearer:
		return p.Name + " (bearer)"
	}
	return "the registry of " + p.Unit
}

// Same reports whether p and q are the same holder (the sheet aside).
func (p Party) Same(q Party) bool {
	if p.Kind != q.Kind {
		return false
	}
	switch p.Kind {
	case CustodianPerson:
		return p.User == q.User
	case CustodianBearer:
		return p.Name == q.Name && p.Document == q.Document
	}
	return p.Unit == q.Unit
}

func (p Party) json() json.RawMessage {
	b, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("marshal party: %v", err))
	}
	return b
}

// CurrentCustodian reads a bag's custodian (the projection of its last event).
func CurrentCustodian(ctx context.Context, q db.Querier, bagID string) (Party, error) {
	var p Party
	err := q.QueryRow(ctx, `SELECT `+CustodianColumns+` FROM bag_custody c WHERE c.bag_id = $1`, bagID).Scan(CustodianDest(&p)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, valise.Errorf(valise.ENOTFOUND, "no such bag")
	}
	if err != nil {
		return p, fmt.Errorf("load custodian: %w", err)
	}
	return p, nil
}
