package custody

import (
	"encoding/json"
	"fmt"

	"valise/pouch"
)

// party is a custodian as a v2 event names it (custodian_before/after)
// and as bag_custody stores it.
type party pouch.Party

func (p party) String() string {
	b, _ := json.Marshal(pouch.Party(p))
	return string(b)
}

// columns pairs each bag_custody column with this party's value for it.
func (p party) columns() [][2]string {
	return [][2]string{{"custodian_kind", p.Kind}, {"custodian_unit", p.Unit}, {"custodian_user", p.User},
		{"custodian_username", p.Username}, {"bearer_name", p.Name}, {"bearer_document", p.Document}, {"sheet_id", p.SheetID}}
}

func (c *custodyRow) party() party {
	return party{Kind: c.kind, Unit: c.unit, User: c.user, Username: c.username, Name: c.name, Document: c.document, SheetID: c.sheet}
}

// historyMigrated is the v2 event appended to every existing bag when the
// history became one: it states the bag's state and custodian as they were,
// and replay starts from it.
const historyMigrated = "history_migrated"

// history is one bag replayed from its events, with its current-state rows.
type history struct {
	bagID   string
	bag     *bagRow
	custody *custodyRow

	events    int
	lastEvent int64
	state     string // "" until an event gives one
	custodian *party // nil until a v2 event gives one
}

// apply replays one event (already checked against its leaf, so the row's
// fields are the logged ones): a v2 event's before must be what the events
// before it left; its after becomes the bag's state and custodian. A v1
// event gives its non-empty to_state and says nothing of the custodian.
func (h *history) apply(a *chainAuditor, e *eventRow) {
	h.events++
	h.lastEvent = e.id
	// The row's fields are its leaf's (checked in log order): a v2 leaf
	// carries custodian_before and _after, a v1 leaf neither.
	if e.after == nil {
		if e.to != "" {
			h.state = e.to
		}
		return
	}
	var before, after party
	_ = json.Unmarshal(e.before, &before)
	_ = json.Unmarshal(e.after, &after)
	if h.state != "" && e.from != h.state {
		h.disagree(a, Disagreement{Column: "bag_events.from_state", Stored: e.from, History: h.state, EventID: e.id,
			Message: fmt.Sprintf("event %d (%s) has from_state %q, but the events before it leave the bag %q", e.id, e.kind, e.from, h.state)})
	}
	if h.custodian != nil && before != *h.custodian {
		h.disagree(a, Disagreement{Column: "bag_events.custodian_before", Stored: before.String(), History: h.custodian.String(), EventID: e.id,
			Message: fmt.Sprintf("event %d (%s) has custodian_before %s, but the events before it leave the bag with %s", e.id, e.kind, before, h.custodian)})
	}
	h.state, h.custodian = e.to, &after
}

// compare names each column of the bag's current-state rows that is not
// what its history gives, and a row or a history that is missing.
func (h *history) compare(a *chainAuditor) {
	switch {
	case h.bag == nil && h.events > 0:
		h.disagree(a, Disagreement{Column: "bags", Stored: "(no row)", History: fmt.Sprintf("%d events", h.events), EventID: h.lastEvent,
			Message: fmt.Sprintf("the history has %d events but there is no bags row", h.events)})
	case h.bag == nil:
		h.disagree(a, Disagreement{Column: "bags", Stored: "(no row)", History: "(no events)",
			Message: "a bag_custody row names a bag that has no bags row and no history"})
		return
	case h.events == 0:
		h.disagree(a, Disagreement{Column: "bag_events", Stored: "state " + h.bag.state, History: "(no events)",
			Message: fmt.Sprintf("the bags row (state %q) has no events in its history", h.bag.state)})
	case h.bag.state != h.state:
		h.disagree(a, Disagreement{Column: "bags.state", Stored: h.bag.state, History: h.state, EventID: h.lastEvent,
			Message: fmt.Sprintf("bags.state is %q, the history gives %q (last event %d)", h.bag.state, h.state, h.lastEvent)})
	}
	if h.custody == nil {
		if h.bag != nil {
			want := "no custodian (no v2 event)"
			if h.custodian != nil {
				want = h.custodian.String()
			}
			h.disagree(a, Disagreement{Column: "bag_custody", Stored: "(no row)", History: want, EventID: h.lastEvent,
				Message: fmt.Sprintf("the bag has no bag_custody row; the history gives %s", want)})
		}
		return
	}
	if h.custodian == nil {
		return // v1 history only: it does not say who holds the bag
	}
	stored, want := h.custody.party().columns(), h.custodian.columns()
	for i := range stored {
		if stored[i][1] != want[i][1] {
			col := "bag_custody." + stored[i][0]
			h.disagree(a, Disagreement{Column: col, Stored: stored[i][1], History: want[i][1], EventID: h.lastEvent,
				Message: fmt.Sprintf("%s is %q, the history gives %q (last event %d)", col, stored[i][1], want[i][1], h.lastEvent)})
		}
	}
}

func (h *history) disagree(a *chainAuditor, d Disagreement) {
	a.r.Disagreed++
	if len(a.r.Disagreements) >= MaxDisagreements {
		return
	}
	d.BagID = h.bagID
	if h.bag != nil {
		d.RegistryNumber = h.bag.registry
	}
	reg := d.RegistryNumber
	if reg == "" {
		reg = "no registry number"
	}
	d.Message = fmt.Sprintf("bag %s (%s): %s", d.BagID, reg, d.Message)
	a.r.Disagreements = append(a.r.Disagreements, d)
}
