package console

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"valise/courier"
	"valise/identity"
	"valise/policy"
	"valise/pouch"
)

// The registry clerk's desk: today's work at a glance and the forms of the
// registry stages. Every list is a domain list filtered in SQL by the
// policy's list scope; every action is the domain call the API makes.

func (c *Console) clerkRoutes(r chi.Router) {
	r.Get("/clerk", c.clerkDesk)
	r.Post("/clerk/submit", c.clerkSubmit)
	r.Post("/clerk/assemble", c.clerkAssemble)
	r.Post("/clerk/seal", c.bagAction(c.seal))
	r.Post("/clerk/sheet", c.issueSheet)
	r.Post("/clerk/dispatch", c.bagAction(c.dispatch))
	r.Post("/clerk/accept", c.bagAction(c.accept))
	r.Post("/clerk/store", c.bagAction(c.store))
}

// deskList is one list of the desk: a title, a hint and its bags.
type deskList struct {
	Key  string
	Bags []*pouch.Bag
}

type clerkDesk struct {
	Waiting   []*pouch.Submission
	Lists     []deskList
	Incidents []*pouch.Incident
	// ShowIncidents: the policy lets this user list incidents (a registry
	// clerk lists those of the bags they may see, within their clearance).
	ShowIncidents bool
	Targets       []*pouch.Bag // bags a submission may go into (planned or assembling here)
	Senders       []*pouch.Sender
	Units         []identity.Unit
	Levels        []policy.Level
	Kinds         []string
	Notice        string
}

// clerkDeskData gathers the desk of the signed-in clerk's registry.
func (c *Console) clerkDeskData(ctx context.Context, s policy.Subject) (*clerkDesk, error) {
	sc, err := c.d.Authz.ListScope(ctx, s, "bag")
	if err != nil {
		return nil, err
	}
	d := &clerkDesk{Levels: policy.Levels(), Kinds: []string{"correspondence", "item", "equipment"}}
	list := func(f pouch.BagFilter) ([]*pouch.Bag, error) {
		f.Limit = 50
		bags, _, err := c.d.Bags.ListBags(ctx, s, sc, f)
		return bags, err
	}
	here := s.UnitCode
	for _, l := range []struct {
		key string
		f   pouch.BagFilter
	}{
		{"clerk.assembling", pouch.BagFilter{Origin: here, States: []pouch.State{pouch.Planned, pouch.Assembling}}},
		{"clerk.toseal", pouch.BagFilter{Origin: here, States: []pouch.State{pouch.Assembling}}},
		{"clerk.todispatch", pouch.BagFilter{Origin: here, States: []pouch.State{pouch.Sealed}}},
		{"clerk.arriving", pouch.BagFilter{DueTo: here}},
		{"clerk.overdue", pouch.BagFilter{Unit: here, Overdue: true}},
		{"clerk.tostore", pouch.BagFilter{Destination: here, States: []pouch.State{pouch.Accepted}}},
	} {
		bags, err := list(l.f)
		if err != nil {
			return nil, err
		}
		d.Lists = append(d.Lists, deskList{Key: l.key, Bags: bags})
	}
	d.Targets = d.Lists[0].Bags
	subScope, err := c.d.Authz.ListScope(ctx, s, "submission")
	if err != nil {
		return nil, err
	}
	if d.Waiting, err = c.d.Bags.WaitingSubmissions(ctx, subScope, here, 50); err != nil {
		return nil, err
	}
	incScope, err := c.d.Authz.ListScope(ctx, s, "incident")
	if err != nil {
		return nil, err
	}
	if d.ShowIncidents = !incScope.None(); d.ShowIncidents {
		if d.Incidents, err = c.d.Bags.ListIncidents(ctx, s, incScope, true); err != nil {
			return nil, err
		}
	}
	// The forms' choices, each only as far as the policy lets this user read it.
	if c.may(ctx, s, policy.ActSendersRead, policy.Resource{Kind: "sender_list"}) {
		if d.Senders, err = pouch.SendersAsOf(ctx, c.d.Pool, time.Now()); err != nil {
			return nil, err
		}
	}
	if c.may(ctx, s, policy.ActUnitsRead, policy.Resource{Kind: "unit"}) {
		if d.Units, err = c.d.Ident.ListUnits(ctx); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (c *Console) clerkDesk(w http.ResponseWriter, r *http.Request) {
	d, err := c.clerkDeskData(r.Context(), subject(r))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	if r.URL.Query().Get("done") == "submit" {
		d.Notice = "clerk.submitted"
	}
	c.render(w, r, http.StatusOK, "clerk", "desk.clerk", d)
}

// clerkSubmit records a submission of one item handed in at this registry.
func (c *Console) clerkSubmit(w http.ResponseWriter, r *http.Request) {
	s := subject(r)
	level, err := policy.ParseLevel(r.PostFormValue("level"))
	if err != nil {
		level = -1 // the domain names the field
	}
	count, _ := strconv.Atoi(r.PostFormValue("count"))
	in := pouch.SubmissionInput{Sender: r.PostFormValue("sender"), Registry: s.UnitCode,
		Destination: r.PostFormValue("destination"), Submitter: strings.TrimSpace(r.PostFormValue("submitter")),
		ResponsiblePerson: r.PostFormValue("responsible"),
		Items: []pouch.Item{{Kind: r.PostFormValue("kind"), Level: level, RegistryNumber: r.PostFormValue("number"),
			Count: count, Description: r.PostFormValue("description")}}}
	if _, err := c.d.Bags.Submit(r.Context(), s, in, c.check(s)); err != nil {
		c.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/clerk?done=submit", http.StatusSeeOther)
}

// clerkAssemble puts a waiting submission into a planned or assembling bag.
func (c *Console) clerkAssemble(w http.ResponseWriter, r *http.Request) {
	s := subject(r)
	m := mutation(r)
	if _, err := c.d.Bags.Assemble(r.Context(), s, m, []string{r.PostFormValue("submission")}, c.check(s)); err != nil {
		c.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, bagURL(m.BagID)+"?done=assemble", http.StatusSeeOther)
}

// mutation reads the bag, its version (If-Match) and the place of a form.
func mutation(r *http.Request) pouch.Mutation {
	v, _ := strconv.Atoi(r.PostFormValue("version"))
	return pouch.Mutation{BagID: r.PostFormValue("bag"), IfMatch: v, Place: strings.TrimSpace(r.PostFormValue("place")),
		Reason: strings.TrimSpace(r.PostFormValue("reason"))}
}

func bagURL(id string) string { return Prefix + "/bags/" + id }

// bagAction runs one form's bag action and shows the bag's page after it.
func (c *Console) bagAction(act func(r *http.Request, s policy.Subject, m pouch.Mutation) (string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := mutation(r)
		done, err := act(r, subject(r), m)
		if err != nil {
			c.failErr(w, r, err)
			return
		}
		http.Redirect(w, r, bagURL(m.BagID)+"?done="+done, http.StatusSeeOther)
	}
}

// lines splits a textarea into its non-empty lines (a scanner types one
// seal per line).
func lines(v string) []string {
	var out []string
	for _, l := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (c *Console) seal(r *http.Request, s policy.Subject, m pouch.Mutation) (string, error) {
	n, _ := strconv.Atoi(r.PostFormValue("packages"))
	_, err := c.d.Bags.Seal(r.Context(), s, m, pouch.SealInput{Container: r.PostFormValue("container"), Packages: n,
		SealSerials: lines(r.PostFormValue("serials")), ProtectiveMeans: r.PostFormValue("protective")}, c.check(s))
	return "seal", err
}

func (c *Console) dispatch(r *http.Request, s policy.Subject, m pouch.Mutation) (string, error) {
	_, _, err := c.d.Bags.Dispatch(r.Context(), s, m, pouch.DispatchInput{BearerDocument: strings.TrimSpace(r.PostFormValue("bearer_document"))}, c.check(s))
	return "dispatch", err
}

// accept records the acceptance: the count, the seals a scanner typed in
// (one VS1 text per line) and, without scans, whether they are intact.
func (c *Console) accept(r *http.Request, s policy.Subject, m pouch.Mutation) (string, error) {
	in := pouch.AcceptInput{Note: r.PostFormValue("note")}
	if v := r.PostFormValue("counted"); v != "" {
		n, err := strconv.Atoi(v)
		if err == nil {
			in.PackagesCounted = &n
		}
	}
	in.Seals = lines(r.PostFormValue("seals"))
	switch r.PostFormValue("intact") {
	case "yes":
		t := true
		in.SealsIntact = &t
	case "no":
		f := false
		in.SealsIntact = &f
	}
	_, _, err := c.d.Bags.Accept(r.Context(), s, m, in, c.check(s))
	return "accept", err
}

func (c *Console) store(r *http.Request, s policy.Subject, m pouch.Mutation) (string, error) {
	_, err := c.d.Bags.Store(r.Context(), s, m, pouch.StoreInput{Place: m.Place, Custodian: r.PostFormValue("custodian")}, c.check(s))
	return "store", err
}

// issueSheet issues a courier sheet for one sealed bag, from this unit.
func (c *Console) issueSheet(w http.ResponseWriter, r *http.Request) {
	s := subject(r)
	bag := r.PostFormValue("bag")
	in := courier.IssueInput{Issuer: s.UnitCode, Conveyance: r.PostFormValue("conveyance"),
		CourierID: strings.TrimSpace(r.PostFormValue("courier")), BearerName: strings.TrimSpace(r.PostFormValue("bearer")),
		BagIDs: []string{bag}}
	if v := r.PostFormValue("valid_until"); v != "" {
		if t, err := time.Parse(time.DateOnly, v); err == nil {
			end := t.Add(24*time.Hour - time.Second)
			in.ValidUntil = &end
		}
	}
	if _, err := c.d.Couriers.Issue(r.Context(), s, in, c.check(s)); err != nil {
		c.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, bagURL(bag)+"?done=sheet", http.StatusSeeOther)
}
