package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise"
	"valise/custody"
	"valise/policy"
	"valise/pouch"
)

// custodyAPI serves two-party hand-offs, checkpoint scans, custody trails
// with proofs, receipts and overdue alerts. Every rule is in custody/.
type custodyAPI struct {
	svc   *custody.Service
	bags  *pouch.Service
	authz *policy.Authorizer
	idem  *idempotency // shared with the bag routes (api/idempotency.go)
	cur   *cursors     // page cursors of the trail (api/cursor.go)
	// receiptWait is how long a receipt request waits for the integrator
	// before answering 409 with Retry-After.
	receiptWait time.Duration
}

func newCustodyAPI(pool *pgxpool.Pool, authz *policy.Authorizer, idem *idempotency, cur *cursors) *custodyAPI {
	return &custodyAPI{svc: custody.New(pool), bags: pouch.New(pool), authz: authz, idem: idem, cur: cur, receiptWait: 2 * time.Second}
}

// routes: every POST honours Idempotency-Key, as the bag routes do: a
// courier's phone retries hand-offs and scans over bad networks.
func (c *custodyAPI) routes(r chi.Router) {
	post := r.With(c.idem.middleware).Post
	post("/custody/handoffs", c.release)
	r.Get("/custody/handoffs/{id}", handleNoBody(c.getHandoff))
	post("/custody/handoffs/{id}/accept", handle(http.StatusOK, c.accept))
	post("/custody/handoffs/{id}/cancel", c.cancel)
	r.Get("/custody/handoffs/{id}/receipt", c.handoffReceipt)
	r.Get("/custody/events/{id}/receipt", c.eventReceipt)
	post("/custody/bags/{id}/scan", handle(http.StatusCreated, c.scan))
	post("/custody/bags/{id}/bearer-release", handle(http.StatusCreated, c.releaseToBearer))
	post("/custody/bags/{id}/bearer-receipt", handle(http.StatusCreated, c.receiveFromBearer))
	r.Get("/bags/{id}/custody", handleNoBody(c.trail))
	r.Get("/security/overdue", handleNoBody(c.overdue))
}

func (c *custodyAPI) check(s policy.Subject) pouch.Check { return checkAs(c.authz, s) }

func (c *custodyAPI) release(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	var in pouch.ReleaseInput
	if err := Decode(r, &in); err != nil {
		Error(w, r, err)
		return
	}
	h, err := c.bags.Release(r.Context(), s, in, c.check(s))
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/custody/handoffs/"+h.ID)
	JSON(w, http.StatusCreated, h)
}

func (c *custodyAPI) accept(r *http.Request, s policy.Subject, in pouch.ConfirmInput) (*pouch.Handoff, error) {
	return c.bags.Confirm(r.Context(), s, chi.URLParam(r, "id"), in, c.check(s))
}

func (c *custodyAPI) cancel(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	var in pouch.Where
	if err := decodeOptional(r, &in); err != nil {
		Error(w, r, err)
		return
	}
	h, err := c.bags.Cancel(r.Context(), s, chi.URLParam(r, "id"), in, c.check(s))
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, h)
}

func (c *custodyAPI) getHandoff(r *http.Request, s policy.Subject) (*pouch.Handoff, error) {
	h, _, err := c.bags.GetHandoff(r.Context(), s, chi.URLParam(r, "id"), c.check(s))
	return h, err
}

// handoffReceipt serves the C2SP tlog-proof of a completed hand-off's
// acceptance event to either party (or a log reader): it proves both
// signatures, since the accepted event names the release and both parties.
func (c *custodyAPI) handoffReceipt(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	h, _, err := c.bags.GetHandoff(r.Context(), s, chi.URLParam(r, "id"), c.check(s))
	if err != nil {
		Error(w, r, err)
		return
	}
	if h.AcceptEvent == nil {
		Error(w, r, &valise.Error{Code: valise.ECONFLICT, Message: "the hand-off is " + h.Status + ": a receipt exists once the receiver has accepted",
			Extra: map[string]any{"reason": "handoff_" + h.Status, "current_state": h.Status}})
		return
	}
	c.writeReceipt(w, r, *h.AcceptEvent)
}

func (c *custodyAPI) eventReceipt(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id < 1 {
		Error(w, r, valise.Errorf(valise.ENOTFOUND, "no such event"))
		return
	}
	bag, _, err := custody.EventBag(r.Context(), c.bags.Pool(), id)
	if err != nil {
		Error(w, r, err)
		return
	}
	if _, err := c.bags.Get(r.Context(), bag, c.check(s)); err != nil {
		Error(w, r, err)
		return
	}
	c.writeReceipt(w, r, id)
}

func (c *custodyAPI) writeReceipt(w http.ResponseWriter, r *http.Request, eventID int64) {
	rec, idx, err := c.svc.EventReceipt(r.Context(), eventID, c.receiptWait)
	if err != nil {
		if valise.ErrorCode(err) == valise.ECONFLICT {
			w.Header().Set("Retry-After", "1")
		}
		Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="valise-event-`+strconv.FormatInt(eventID, 10)+`.tlog-proof"`)
	w.Header().Set("X-Valise-Log-Index", strconv.FormatUint(idx, 10))
	_, _ = w.Write(rec)
}

func (c *custodyAPI) scan(r *http.Request, s policy.Subject, in pouch.ScanInput) (*pouch.Event, error) {
	return c.bags.Scan(r.Context(), s, chi.URLParam(r, "id"), in, c.check(s))
}

// releaseToBearer is the courier's record of handing the bag to an
// aircraft captain or an engaged carrier without an account; custody moves
// at once (a one-sided transfer).
func (c *custodyAPI) releaseToBearer(r *http.Request, s policy.Subject, in pouch.BearerReleaseInput) (*pouch.BearerTransfer, error) {
	in.BagID = chi.URLParam(r, "id")
	return c.bags.ReleaseToBearer(r.Context(), s, in, c.check(s))
}

// receiveFromBearer is the courier's record of taking the bag back from
// the bearer who holds it.
func (c *custodyAPI) receiveFromBearer(r *http.Request, s policy.Subject, in pouch.BearerReceiptInput) (*pouch.BearerTransfer, error) {
	in.BagID = chi.URLParam(r, "id")
	return c.bags.ReceiveFromBearer(r.Context(), s, in, c.check(s))
}

// trail serves a page of a bag's custody trail (after: cursor, limit:
// 1..200, default 50) with inclusion proofs to those who may read both the
// bag and its custody log (security officers, auditors, registry clerks of
// its units).
func (c *custodyAPI) trail(r *http.Request, s policy.Subject) (*custody.Trail, error) {
	b, err := c.bags.Get(r.Context(), chi.URLParam(r, "id"), c.check(s))
	if err != nil {
		return nil, err
	}
	res := b.Resource()
	res.Kind = "log_entry"
	if err := c.authz.Authorize(r.Context(), s, policy.ActLogRead, res); err != nil {
		return nil, err
	}
	after, limit, err := c.cur.historyPage(r, "custody", s.UserID, b.ID)
	if err != nil {
		return nil, err
	}
	t, err := c.svc.BagTrail(r.Context(), b.ID, after, limit)
	if err != nil {
		return nil, err
	}
	if t.Next, err = c.cur.historyNext("custody", s.UserID, b.ID, t.After); err != nil {
		return nil, err
	}
	return t, nil
}

func (c *custodyAPI) overdue(r *http.Request, s policy.Subject) (map[string]any, error) {
	if err := c.authz.Authorize(r.Context(), s, policy.ActIncidentRead, policy.Resource{Kind: "overdue_list"}); err != nil {
		return nil, err
	}
	sc, err := c.authz.ListScope(r.Context(), s, "bag")
	if err != nil {
		return nil, err
	}
	list, err := c.svc.ListOverdue(r.Context(), sc, 0)
	if err != nil {
		return nil, err
	}
	return map[string]any{"overdue": list}, nil
}
