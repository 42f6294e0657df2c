package console

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"golang.org/x/mod/sumdb/note"

	"valise/courier"
	"valise/policy"
	"valise/pouch"
	"valise/tlog"
)

// A bag's page: its one history as a timeline with each event's custody
// log index and whether its inclusion proof verified (checked here, with
// tlog, against the log's signed checkpoint), the route drawn as a picture,
// its seals, sheets and incidents, and the forms of the steps the user may
// take next. A bag the user may not read answers exactly as a missing one.

func (c *Console) bagRoutes(r chi.Router) {
	r.Get("/bags/{id}", c.bagPage)
	r.Get("/bags/{id}/labels", c.bagLabels)
	r.Get("/sheets/{id}/print", c.printSheet)
}

// timelineEvent is one event of the history as the page shows it.
type timelineEvent struct {
	pouch.Event
	Index *uint64
	// Proof is "verified", "failed" or "pending" (not yet in a checkpoint);
	// "" when the user may not read the custody log.
	Proof string
}

type bagView struct {
	Bag       *pouch.Bag
	Contents  []*pouch.Submission
	Incidents []*pouch.Incident
	Sheets    []*courier.Sheet
	Events    []timelineEvent
	LogRead   bool
	TreeSize  uint64
	NextAfter int64 // the last event of this page when more follow (0: the last page)
	Route     template.HTML
	Legs      []pouch.Leg
	Notice    string
	// Forms: the next steps this user may be offered (the domain still decides).
	Clerk, Security bool
	Can             map[string]bool
	Containers      []string
	Conveyances     []string
	Couriers        []*courier.Courier
	Username        string
}

func (c *Console) bagPage(w http.ResponseWriter, r *http.Request) {
	s := subject(r)
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64) // a page of the history (custody.BagTrail)
	v, err := c.bagView(r.Context(), s, chi.URLParam(r, "id"), max(after, 0))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	if d := r.URL.Query().Get("done"); d != "" {
		v.Notice = "done." + d
	}
	c.render(w, r, http.StatusOK, "bag", "title.bag", v)
}

func (c *Console) bagView(ctx context.Context, s policy.Subject, id string, after int64) (*bagView, error) {
	chk := c.check(s)
	b, err := c.d.Bags.Get(ctx, id, chk)
	if err != nil {
		return nil, err
	}
	v := &bagView{Bag: b, Can: map[string]bool{}, Username: s.Username,
		Containers:  []string{"package", "envelope", "sack", "suitcase", "other"},
		Conveyances: []string{"career_courier", "ad_hoc_courier", "aircraft_captain", "freight"}}
	if v.Contents, err = c.d.Bags.BagContents(ctx, b.ID); err != nil {
		return nil, err
	}
	if v.Incidents, err = c.d.Bags.BagIncidents(ctx, b.ID); err != nil {
		return nil, err
	}
	sc, err := c.d.Authz.ListScope(ctx, s, "sheet")
	if err != nil {
		return nil, err
	}
	if v.Sheets, _, err = c.d.Couriers.ListSheets(ctx, s, sc, courier.SheetFilter{BagID: b.ID}); err != nil {
		return nil, err
	}
	if err := c.timeline(ctx, s, v, after); err != nil {
		return nil, err
	}
	if b.PlanID != nil {
		if p, err := c.d.Bags.GetPlan(ctx, *b.PlanID, chk); err == nil {
			v.Legs = p.Legs
		}
	}
	v.Route = routeSVG(b, v.Legs, arrivedLegs(v.Events))
	v.Clerk = s.HasRole(policy.RoleRegistryClerk)
	v.Security = s.HasRole(policy.RoleSecurityOfficer)
	// A form is offered when the state machine allows its action and the
	// policy lets this user take it (role, unit of the stage, clearance).
	for _, a := range b.AllowedActions {
		v.Can[string(a)] = c.may(ctx, s, pouch.PolicyAction(a), b.Resource())
	}
	sheet := policy.Resource{Kind: "sheet", Level: b.Level, Route: b.Route, Origin: b.Origin, Destination: b.Destination}
	v.Can["sheet"] = b.State == pouch.Sealed && !hasIssued(v.Sheets) && c.may(ctx, s, policy.ActSheetIssue, sheet)
	// The courier list is the planners' (the API's GET /couriers rule).
	if v.Can["sheet"] && c.may(ctx, s, policy.ActBagPlan, policy.Resource{Kind: "courier", Origin: s.UnitCode}) {
		v.Couriers, _ = c.d.Couriers.List(ctx)
	}
	return v, nil
}

func hasIssued(sheets []*courier.Sheet) bool {
	for _, sh := range sheets {
		if sh.Status == "issued" {
			return true
		}
	}
	return false
}

// timeline fills the events: with their log indices and verified proofs
// for a user who may read the bag's custody log, else the history alone.
func (c *Console) timeline(ctx context.Context, s policy.Subject, v *bagView, after int64) error {
	res := v.Bag.Resource()
	res.Kind = "log_entry"
	if !c.may(ctx, s, policy.ActLogRead, res) {
		evs, err := pouch.History(ctx, c.d.Pool, v.Bag.ID)
		for _, e := range evs {
			v.Events = append(v.Events, timelineEvent{Event: e})
		}
		return err
	}
	v.LogRead = true
	// A page of the trail, whatever the bag's age (issue 18); Next links the rest.
	t, err := c.custody.BagTrail(ctx, v.Bag.ID, after, pouch.MaxHistoryPage)
	if err != nil {
		return err
	}
	v.TreeSize, v.NextAfter = t.TreeSize, t.After
	var cp *tlog.Checkpoint
	if t.Checkpoint != "" {
		if vkey, err := tlog.VerifierKey(ctx, c.d.Pool); err == nil {
			if ver, err := note.NewVerifier(vkey); err == nil {
				if opened, _, err := tlog.OpenCheckpoint([]byte(t.Checkpoint), ver); err == nil {
					cp = &opened
				}
			}
		}
	}
	for _, e := range t.Events {
		te := timelineEvent{Event: e.Event, Index: e.Index, Proof: "pending"}
		if e.Index != nil {
			te.Proof = "failed"
			if cp != nil && tlog.VerifyInclusion(*cp, *e.Index, e.Leaf, e.Proof) == nil {
				te.Proof = "verified"
			}
		}
		v.Events = append(v.Events, te)
	}
	return nil
}

// arrivedLegs is the highest leg an event reported arrived.
func arrivedLegs(evs []timelineEvent) int {
	n := 0
	for _, e := range evs {
		if e.Stage == "transit" || strings.Contains(e.Kind, "leg") {
			var d struct {
				Leg int `json:"leg"`
			}
			if json.Unmarshal(e.Data, &d) == nil && d.Leg > n {
				n = d.Leg
			}
		}
	}
	return n
}

// routeSVG draws the route: a stop per city (or per unit without a plan),
// a line per leg with its flight, legs arrived drawn solid. It is inline
// markup with presentation attributes only (no style attribute, no script),
// so the CSP needs no 'unsafe-inline'.
func routeSVG(b *pouch.Bag, legs []pouch.Leg, arrived int) template.HTML {
	type stop struct{ name, sub string }
	var stops []stop
	var labels []string
	if len(legs) > 0 {
		stops = append(stops, stop{legs[0].FromCity, b.Origin})
		for i, l := range legs {
			sub := ""
			if i == len(legs)-1 {
				sub = b.Destination
			}
			stops = append(stops, stop{l.ToCity, sub})
			labels = append(labels, strings.TrimSpace(l.Flight+" "+l.CaptainName))
		}
	} else {
		for _, u := range b.Route {
			stops = append(stops, stop{u, ""})
		}
		for range len(b.Route) - 1 {
			labels = append(labels, "")
		}
	}
	if len(stops) < 2 {
		return ""
	}
	const w, h, pad = 640, 120, 60
	step := float64(w-2*pad) / float64(len(stops)-1)
	esc := template.HTMLEscapeString
	var sb strings.Builder
	var names []string
	for _, s := range stops {
		names = append(names, s.name)
	}
	fmt.Fprintf(&sb, `<svg class="route" viewBox="0 0 %d %d" role="img" aria-labelledby="route-title"><title id="route-title">%s</title>`,
		w, h, esc(strings.Join(names, " → ")))
	for i := range len(stops) - 1 {
		x1, x2 := pad+float64(i)*step, pad+float64(i+1)*step
		cls := "leg"
		if i < arrived || delivered[b.State] {
			cls = "leg done"
		}
		fmt.Fprintf(&sb, `<line class="%s" x1="%.0f" y1="50" x2="%.0f" y2="50"/>`, cls, x1, x2)
		if labels[i] != "" {
			fmt.Fprintf(&sb, `<text class="flight" x="%.0f" y="38" text-anchor="middle">%s</text>`, (x1+x2)/2, esc(labels[i]))
		}
	}
	for i, s := range stops {
		x := pad + float64(i)*step
		fmt.Fprintf(&sb, `<circle class="stop" cx="%.0f" cy="50" r="8"/><text class="city" x="%.0f" y="80" text-anchor="middle">%s</text>`, x, x, esc(s.name))
		if s.sub != "" {
			fmt.Fprintf(&sb, `<text class="unit" x="%.0f" y="98" text-anchor="middle">%s</text>`, x, esc(s.sub))
		}
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String())
}

// delivered are the states of a bag that has travelled its whole route.
var delivered = map[pouch.State]bool{pouch.Delivered: true, pouch.Accepted: true, pouch.Stored: true}

// bagLabels is the printable page of the bag's seal labels (api/labels.go
// serves the same page to API clients).
func (c *Console) bagLabels(w http.ResponseWriter, r *http.Request) {
	s := subject(r)
	b, err := c.d.Bags.Get(r.Context(), chi.URLParam(r, "id"), c.check(s))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	labels, err := c.d.Bags.Labels(r.Context(), b)
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", courier.PrintCSP)
	_ = pouch.WriteLabelsHTML(w, b.RegistryNumber, labels, courier.PrintScriptPath)
}

// printSheet is the printable courier sheet.
func (c *Console) printSheet(w http.ResponseWriter, r *http.Request) {
	s := subject(r)
	sh, err := c.d.Couriers.GetSheet(r.Context(), chi.URLParam(r, "id"), c.check(s))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", courier.PrintCSP)
	_ = sh.Print(w)
}
