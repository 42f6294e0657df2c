package console

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"valise/crypto/keyring"
	"valise/custody"
	"valise/identity"
	"valise/policy"
	"valise/pouch"
	"valise/tlog"
)

// The security officer's desk: overdue and silent bags, open incidents and
// loss reports with their deadlines, bags under examination or missing,
// the decision log, lockouts, seal keys and the trust list, and the custody
// log's checkpoints and witnesses. A section the policy does not let the
// user read is left out altogether (not shown empty, not counted).

func (c *Console) securityRoutes(r chi.Router) {
	r.Get("/security", c.securityDesk)
	r.Post("/security/lift", c.liftLock)
	r.Post("/security/examine", c.bagAction(c.examine))
}

type securityDesk struct {
	Late        []*pouch.Bag      // past their due time and not yet accepted
	Overdue     []custody.Overdue // silent: no custody event within their window
	ShowOverdue bool
	Incidents   []*pouch.Incident
	Examining   []*pouch.Bag
	Missing     []*pouch.Bag
	Decisions   []policy.LoggedDecision
	ShowDecs    bool
	DecUser     string
	Lockouts    []identity.Lockout
	ShowLocks   bool
	Keys        []*keyring.KeyInfo
	ShowKeys    bool
	Trust       *keyring.Published
	Checkpoints []tlog.CheckpointRecord
	Witnesses   []string
	Now         time.Time
	Notice      string
}

func (c *Console) securityDeskData(ctx context.Context, s policy.Subject, decUser string) (*securityDesk, error) {
	a := c.d.Authz
	d := &securityDesk{Now: time.Now(), DecUser: decUser}
	sc, err := a.ListScope(ctx, s, "bag")
	if err != nil {
		return nil, err
	}
	if c.may(ctx, s, policy.ActIncidentRead, policy.Resource{Kind: "overdue_list"}) {
		d.ShowOverdue = true
		if d.Overdue, err = c.custody.ListOverdue(ctx, sc, 100); err != nil {
			return nil, err
		}
	}
	incScope, err := a.ListScope(ctx, s, "incident")
	if err != nil {
		return nil, err
	}
	if d.Incidents, err = c.d.Bags.ListIncidents(ctx, s, incScope, true); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		dst   *[]*pouch.Bag
		state pouch.State
	}{{&d.Examining, pouch.UnderExamination}, {&d.Missing, pouch.Missing}} {
		if *l.dst, _, err = c.d.Bags.ListBags(ctx, s, sc, pouch.BagFilter{States: []pouch.State{l.state}, Limit: 50}); err != nil {
			return nil, err
		}
	}
	if d.Late, _, err = c.d.Bags.ListBags(ctx, s, sc, pouch.BagFilter{Overdue: true, Limit: 50}); err != nil {
		return nil, err
	}
	if c.may(ctx, s, policy.ActDecisionsRead, policy.Resource{Kind: "decision_log"}) {
		d.ShowDecs = true
		ds, err := a.ListScope(ctx, s, "decision_log")
		if err != nil {
			return nil, err
		}
		if err := a.Flush(ctx); err != nil {
			return nil, err
		}
		if d.Decisions, err = policy.ListDecisions(ctx, c.d.Pool, decUser, 0, 50, ds.MaxLevel); err != nil {
			return nil, err
		}
	}
	if c.may(ctx, s, policy.ActLockoutsRead, policy.Resource{Kind: "lockout"}) {
		d.ShowLocks = true
		if d.Lockouts, err = c.d.Ident.Lockouts(ctx); err != nil {
			return nil, err
		}
	}
	if c.may(ctx, s, policy.ActKeysManage, policy.Resource{Kind: "seal_key"}) {
		d.ShowKeys = true
		if d.Keys, err = keyring.Keys(ctx, c.d.Pool); err != nil {
			return nil, err
		}
		if d.Trust, err = keyring.Latest(ctx, c.d.Pool); err != nil && c.d.Status(err) != http.StatusNotFound {
			return nil, err
		}
	}
	// The log's checkpoints and witnesses are public (GET /log/...).
	if d.Checkpoints, err = tlog.Checkpoints(ctx, c.d.Pool, 20); err != nil {
		return nil, err
	}
	ws, err := tlog.Witnesses(ctx, c.d.Pool)
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		d.Witnesses = append(d.Witnesses, w.Name())
	}
	return d, nil
}

func (c *Console) securityDesk(w http.ResponseWriter, r *http.Request) {
	d, err := c.securityDeskData(r.Context(), subject(r), strings.TrimSpace(r.URL.Query().Get("username")))
	if err != nil {
		c.failErr(w, r, err)
		return
	}
	if r.URL.Query().Get("done") == "lift" {
		d.Notice = "security.lifted"
	}
	c.render(w, r, http.StatusOK, "security", "desk.security", d)
}

// liftLock lifts a login lock (the API's DELETE /security/lockouts/{username}).
func (c *Console) liftLock(w http.ResponseWriter, r *http.Request) {
	s := subject(r)
	if err := c.d.Authz.Authorize(r.Context(), s, policy.ActLockoutsLift, policy.Resource{Kind: "lockout"}); err != nil {
		c.failErr(w, r, err)
		return
	}
	if err := c.d.Ident.LiftLock(r.Context(), s, r.PostFormValue("username")); err != nil {
		c.failErr(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/security?done=lift", http.StatusSeeOther)
}

// examine records a supervised examination or opening with its witness.
func (c *Console) examine(r *http.Request, s policy.Subject, m pouch.Mutation) (string, error) {
	in := pouch.ExamineInput{Opening: r.PostFormValue("opening") == "yes", InitiatingBody: r.PostFormValue("body"),
		InitiatingOfficial: r.PostFormValue("official"), Grounds: r.PostFormValue("grounds"),
		WitnessKind: r.PostFormValue("witness_kind"), WitnessName: r.PostFormValue("witness_name"),
		WitnessCourierID: strings.TrimSpace(r.PostFormValue("witness_courier")), WitnessUnit: r.PostFormValue("witness_unit")}
	_, _, err := c.d.Bags.Examine(r.Context(), s, m, in, c.check(s))
	return "examine", err
}
