// Package pouch is the Article 7-1 lifecycle of diplomatic mail: the
// authorized senders list, dispatch plans, submissions, bags with their one
// state machine and append-only history, acceptance receipts, storage,
// incidents, loss reports and supervised examinations.
//
// Authorization is not decided here: every mutating function takes a Check
// that the caller (the HTTP layer) builds around the policy authorizer. It is
// called inside the transaction with the locked row, so the decision is made
// on the state that is then changed. This package enforces the rules of the
// data itself: the state machine, the senders list and ceilings, courier
// sheets before dispatch (DM-01) and witnesses at openings (DM-11).
package pouch

import (
	"context"
	"slices"

	"valise"
	"valise/policy"
)

// State is a bag's lifecycle state.
type State string

// The states: the statutory path, then the exceptional ones.
const (
	Planned          State = "planned"
	Assembling       State = "assembling"
	Sealed           State = "sealed"
	Dispatched       State = "dispatched"
	InTransit        State = "in_transit"
	Delivered        State = "delivered"
	Accepted         State = "accepted"
	Stored           State = "stored"
	UnderExamination State = "under_examination"
	Missing          State = "missing"
	Found            State = "found"
	Compromised      State = "compromised"
	Destroyed        State = "destroyed"
)

// States lists every state in lifecycle order.
func States() []State {
	return []State{Planned, Assembling, Sealed, Dispatched, InTransit, Delivered, Accepted, Stored,
		UnderExamination, Missing, Found, Compromised, Destroyed}
}

// Action is a verb that may change a bag's state.
type Action string

// Bag actions.
const (
	ActAssemble   Action = "assemble"
	ActSeal       Action = "seal"
	ActDispatch   Action = "dispatch"
	ActArriveLeg  Action = "arrive_leg"
	ActDeliver    Action = "deliver"
	ActAccept     Action = "accept"
	ActStore      Action = "store"
	ActExamine    Action = "examine"
	ActConclude   Action = "conclude_examination"
	ActReportLoss Action = "report_missing"
	ActFound      Action = "mark_found"
	ActCompromise Action = "declare_compromised"
	ActDestroy    Action = "destroy"
)

// rule is one row of the state machine: the states an action may start
// from, where it leads (empty: decided by the action, e.g. the end of an
// examination), the statutory stage it records and the policy action that
// gates it.
type rule struct {
	from   []State
	to     State
	stage  string
	policy string
}

// machine is the bag's one state machine. Anything not here is refused.
var machine = map[Action]rule{
	ActAssemble:   {[]State{Planned, Assembling}, Assembling, "assemble", policy.ActBagAssemble},
	ActSeal:       {[]State{Assembling}, Sealed, "formalise", policy.ActBagFormalise},
	ActDispatch:   {[]State{Sealed, Accepted, Stored}, Dispatched, "send", policy.ActBagSend},
	ActArriveLeg:  {[]State{Dispatched, InTransit}, InTransit, "deliver", policy.ActBagDeliver},
	ActDeliver:    {[]State{Dispatched, InTransit, Found}, Delivered, "deliver", policy.ActBagDeliver},
	ActAccept:     {[]State{Delivered, Found, Dispatched, InTransit}, Accepted, "accept", policy.ActBagAccept},
	ActStore:      {[]State{Accepted}, Stored, "store", policy.ActBagStore},
	ActExamine:    {[]State{Sealed, Dispatched, InTransit, Delivered, Accepted, Stored, Found}, UnderExamination, "examine", policy.ActBagExamine},
	ActConclude:   {[]State{UnderExamination}, "", "examine", policy.ActBagExamine},
	ActReportLoss: {[]State{Sealed, Dispatched, InTransit, Delivered, Accepted, Stored}, Missing, "loss", policy.ActBagReportLoss},
	ActFound:      {[]State{Missing}, Found, "loss", policy.ActIncidentEdit},
	ActCompromise: {[]State{Missing, Found, Stored, Accepted, Delivered}, Compromised, "incident", policy.ActIncidentEdit},
	ActDestroy:    {[]State{Stored, Compromised}, Destroyed, "incident", policy.ActIncidentEdit},
}

// PolicyAction is the policy action that gates a bag action.
func PolicyAction(a Action) string { return machine[a].policy }

// Next lists the actions allowed from s and the states they lead to, in a
// stable order.
func Next(s State) (actions []Action, states []State) {
	for _, a := range []Action{ActAssemble, ActSeal, ActDispatch, ActArriveLeg, ActDeliver, ActAccept, ActStore,
		ActExamine, ActConclude, ActReportLoss, ActFound, ActCompromise, ActDestroy} {
		r := machine[a]
		if !slices.Contains(r.from, s) {
			continue
		}
		actions = append(actions, a)
		to := r.to
		if to == "" {
			to = "(previous state or compromised)"
		}
		if !slices.Contains(states, to) {
			states = append(states, to)
		}
	}
	return actions, states
}

// allow checks that action a may start from state s; if not it returns an
// ECONFLICT error whose Extra names the current state and what may follow.
func allow(s State, a Action) error {
	if slices.Contains(machine[a].from, s) {
		return nil
	}
	acts, states := Next(s)
	if acts == nil {
		acts, states = []Action{}, []State{}
	}
	return &valise.Error{Code: valise.ECONFLICT,
		Message: "the bag is " + string(s) + "; " + string(a) + " is not allowed from that state",
		Extra:   map[string]any{"current_state": s, "allowed_next": states, "allowed_actions": acts}}
}

// Check authorizes an action on a bag; the HTTP layer builds it from the
// policy authorizer. It returns nil or a *valise.Error (not found / forbidden).
type Check func(ctx context.Context, action string, r policy.Resource) error
