// Package policy answers one question for every protected action: may this
// subject do this action to this resource? The answer comes from the
// embedded Rego policy (see authorizer.go and the .rego files beside it);
// this file holds the vocabulary the rest of Valise speaks to it in.
package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Level is a classification level. The order is the lattice: a subject may
// read a resource only if its clearance is at least the resource's level.
type Level int

// The five levels of DESIGN.md, lowest first.
const (
	Unclassified Level = iota
	Restricted
	Secret
	TopSecret
	SpecialImportance
)

var levelNames = [...]string{"UNCLASSIFIED", "RESTRICTED", "SECRET", "TOP_SECRET", "SPECIAL_IMPORTANCE"}

// Levels lists every level, lowest first.
func Levels() []Level {
	return []Level{Unclassified, Restricted, Secret, TopSecret, SpecialImportance}
}

func (l Level) String() string {
	if l < 0 || int(l) >= len(levelNames) {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// Valid reports whether l is one of the five levels.
func (l Level) Valid() bool { return l >= Unclassified && l <= SpecialImportance }

// ParseLevel parses a level name (case-insensitive).
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(s, n) {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("unknown classification level %q (want one of %s)", s, strings.Join(levelNames[:], ", "))
}

// MarshalText writes the level's name.
func (l Level) MarshalText() ([]byte, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("invalid level %d", int(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText reads a level's name.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Max returns the higher of two levels (a bag's level is the highest of its items).
func Max(a, b Level) Level {
	if a > b {
		return a
	}
	return b
}

// Roles a user may hold.
const (
	RoleAdmin            = "admin"
	RoleRegistryClerk    = "registry_clerk"
	RoleDispatcher       = "dispatcher"
	RoleCourier          = "courier"
	RoleSecurityOfficer  = "security_officer"
	RolePersonnelOfficer = "personnel_officer"
	RoleAuditor          = "auditor"
)

// Roles lists every role.
func Roles() []string {
	return []string{RoleAdmin, RoleRegistryClerk, RoleDispatcher, RoleCourier, RoleSecurityOfficer, RolePersonnelOfficer, RoleAuditor}
}

// Courier kinds (Art. 1(1) and 1(3)): a career diplomatic courier holds a
// staff position; an ad hoc courier is any natural person and may only deliver.
const (
	CourierCareer = "career"
	CourierAdHoc  = "ad_hoc"
)

// Subject is the authenticated caller as the policy sees it.
type Subject struct {
	UserID   string   `json:"user_id"`
	Username string   `json:"username"`
	Roles    []string `json:"roles"`
	UnitID   string   `json:"unit_id"`
	UnitCode string   `json:"unit_code"`
	UnitKind string   `json:"unit_kind"` // ministry, department, embassy, consulate, permanent_mission, ...
	// ParentUnit is the code of the unit's parent ("" at the root): a career
	// courier of the ministry's courier service acts for the ministry (DM-06).
	ParentUnit  string `json:"parent_unit,omitempty"`
	Clearance   Level  `json:"clearance"`
	CourierKind string `json:"courier_kind,omitempty"` // career or ad_hoc, for couriers
	// Scope lists the unit codes a security officer or auditor oversees;
	// "*" means every unit.
	Scope []string `json:"scope,omitempty"`
}

// HasRole reports whether s holds role.
func (s Subject) HasRole(role string) bool {
	for _, r := range s.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Resource is what an action is done to, as the policy sees it. Only the
// fields the rules read are here: never the contents.
type Resource struct {
	Kind        string   `json:"kind"` // bag, sheet, unit, user, sender_list, decision_log, log_entry, staff, ...
	ID          string   `json:"id,omitempty"`
	Level       Level    `json:"level"`
	Origin      string   `json:"origin,omitempty"`      // unit code
	Destination string   `json:"destination,omitempty"` // unit code
	Route       []string `json:"route,omitempty"`       // unit codes the bag passes through
	Custodian   string   `json:"custodian,omitempty"`   // user id of the current holder, when a person holds it
	// CustodianKind is "registry", "person" or "bearer"; CustodianUnit the
	// unit whose registry holds the bag (kind registry only): the stages a
	// registry records belong to the unit that holds the bag.
	CustodianKind string `json:"custodian_kind,omitempty"`
	CustodianUnit string `json:"custodian_unit,omitempty"`
	// Couriers lists the user ids of the couriers named on the bag's courier
	// sheet: they have need-to-know for what they carry.
	Couriers []string `json:"couriers,omitempty"`
	// Account is, for a user resource, the user id of the account acted on
	// (nobody changes their own clearance or roles).
	Account string `json:"account,omitempty"`
	// Person is the user id of the account linked to the staff record a
	// personnel resource describes: the person may read their own record.
	Person string `json:"person,omitempty"`
}

// Actions. Lifecycle stages follow the Article 7-1 order; the rest are
// administrative verbs.
const (
	ActBagRead       = "bag.read"
	ActBagPlan       = "bag.plan"
	ActBagAssemble   = "bag.assemble"
	ActBagFormalise  = "bag.formalise"
	ActBagSend       = "bag.send"
	ActBagDeliver    = "bag.deliver"
	ActBagAccept     = "bag.accept"
	ActBagStore      = "bag.store"
	ActBagExamine    = "bag.examine"
	ActBagReportLoss = "bag.report_loss"
	ActBagHandOff    = "bag.hand_off"
	ActSheetIssue    = "sheet.issue"
	ActSheetRevoke   = "sheet.revoke"
	ActSubmit        = "submission.create"
	ActSendersManage = "senders.manage"
	ActSendersRead   = "senders.read"
	ActIncidentRead  = "incident.read"
	ActIncidentEdit  = "incident.manage"
	ActUnitsManage   = "units.manage"
	ActUnitsRead     = "units.read"
	ActUsersManage   = "users.manage"
	ActUsersRead     = "users.read"
	ActDecisionsRead = "decisions.read"
	ActLockoutsRead  = "lockouts.read"
	ActLockoutsLift  = "lockouts.manage"
	ActUsersPrivs    = "users.privileges" // change another account's roles or oversight scope
	ActClearance     = "clearance.grant"
	ActClearanceRead = "clearance.read"
	ActKeysManage    = "keys.manage"
	ActDevicesManage = "devices.manage" // enrol, list, suspend, revoke couriers' phones
	ActLogRead       = "log.read"
	ActStaffRead     = "staff.read"
	ActStaffManage   = "staff.manage"
	ActPlanReview    = "plan.review" // approve or refuse a plan flagged for review (DM-14)
	// ActAlertsManage registers webhook endpoints and reads delivery records.
	ActAlertsManage = "alerts.manage"
)

// Decision is the policy's answer. Reason is general enough to show the
// caller; Hidden means the caller must not learn the resource exists (it is
// above their clearance or outside their need-to-know), so the API answers
// 404 rather than 403.
type Decision struct {
	Allow  bool   `json:"allow"`
	Reason string `json:"reason,omitempty"`
	Hidden bool   `json:"hidden,omitempty"`
	// Detail is the full reason of a deny, for the decision log and the
	// server log only: it may name levels and units the caller must not learn.
	Detail string `json:"-"`
}

type subjectKey struct{}

// WithSubject returns ctx carrying the authenticated subject.
func WithSubject(ctx context.Context, s Subject) context.Context {
	return context.WithValue(ctx, subjectKey{}, s)
}

// SubjectFrom returns the authenticated subject in ctx, if any.
func SubjectFrom(ctx context.Context) (Subject, bool) {
	s, ok := ctx.Value(subjectKey{}).(Subject)
	return s, ok
}

// String renders a subject for logs: ids and roles, never secrets.
func (s Subject) String() string {
	b, _ := json.Marshal(struct {
		U string   `json:"user"`
		R []string `json:"roles"`
		N string   `json:"unit"`
	}{s.Username, s.Roles, s.UnitCode})
	return string(b)
}
