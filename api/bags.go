package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"valise"
	"valise/courier"
	"valise/crypto/keyring"
	"valise/policy"
	"valise/pouch"
)

// pouchAPI serves the Article 7-1 lifecycle: senders, plans, submissions,
// bags, couriers, sheets, incidents and loss reports. Every action goes
// through the policy authorizer with a resource built from the bag.
type pouchAPI struct {
	bags     *pouch.Service
	couriers *courier.Service
	authz    *policy.Authorizer
	idem     *idempotency // Idempotency-Key on every POST (api/idempotency.go)
	cursors  *cursors     // opaque page cursors (api/cursor.go)
}

func newPouchAPI(pool *pgxpool.Pool, authz *policy.Authorizer, kr *keyring.Keyring, cur *cursors) *pouchAPI {
	return &pouchAPI{bags: pouch.New(pool, pouch.WithKeyring(kr)), couriers: courier.New(pool, courier.WithKeyring(kr)),
		authz: authz, idem: &idempotency{pool: pool}, cursors: cur}
}

// routes mounts the lifecycle under /api/v1; auth is the middleware that
// puts the authenticated subject in the context.
// Every POST honours Idempotency-Key, so a phone may retry any of them.
func (p *pouchAPI) routes(r chi.Router) {
	post := r.With(p.idem.middleware).Post
	r.Get("/senders", handleNoBody(p.listSenders))
	post("/senders", handle(http.StatusCreated, p.recordSender))
	r.Get("/senders/{unit}/history", handleNoBody(p.senderHistory))
	post("/plans", handle(http.StatusCreated, p.createPlan))
	r.Get("/plans/{id}", handleNoBody(p.getPlan))
	post("/submissions", handle(http.StatusCreated, p.submit))
	r.Get("/submissions/{id}", handleNoBody(p.getSubmission))
	r.Get("/bags", handleNoBody(p.listBags))
	post("/bags", p.createBag)
	r.Get("/bags/{id}", p.getBag)
	r.Get("/bags/{id}/events", handleNoBody(p.bagEvents))
	post("/bags/{id}/corrections", handle(http.StatusCreated, p.correct))
	post("/bags/{id}/{action}", p.bagAction)
	r.Get("/couriers", handleNoBody(p.listCouriers))
	post("/couriers", handle(http.StatusCreated, p.createCourier))
	r.Get("/couriers/{id}", handleNoBody(p.getCourier))
	post("/sheets", p.issueSheet)
	r.Get("/sheets/{id}", p.getSheet)
	r.Get("/sheets/{id}/print", p.printSheet)
	post("/sheets/{id}/revoke", p.revokeSheet)
	r.Get("/incidents", handleNoBody(p.listIncidents))
	r.Get("/incidents/{id}", p.getIncident)
	r.Patch("/incidents/{id}", p.updateIncident)
	r.Get("/loss-reports/{id}", handleNoBody(p.getLoss))
	post("/loss-reports/{id}/agreement", handle(http.StatusOK, p.recordAgreement))
}

// check builds the domain's authorization callback for the caller.
func (p *pouchAPI) check(s policy.Subject) pouch.Check { return checkAs(p.authz, s) }

// ifMatch reads an If-Match header holding a bag ETag ("<version>"); 0 when absent.
func ifMatch(r *http.Request) (int, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	v, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(h, "W/"), `"`))
	if err != nil || v < 1 {
		return 0, valise.Errorf(valise.EBADREQUEST, "If-Match must be an ETag this server gave, like \"3\"")
	}
	return v, nil
}

// versionETag is the ETag of a row version, the form ifMatch reads back.
func versionETag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// writeBag answers with the bag and its ETag. Every route that answers with
// a bag answers with the same object; what an action produced besides (the
// hand-off of a dispatch or delivery, the receipt of an acceptance, the
// contents and incidents of GET) are fields beside the bag's own.
func writeBag(w http.ResponseWriter, status int, b *pouch.Bag, extra map[string]any) {
	w.Header().Set("ETag", versionETag(b.Version))
	if len(extra) == 0 {
		JSON(w, status, b)
		return
	}
	raw, err := json.Marshal(b)
	if err != nil {
		panic(fmt.Sprintf("encode bag: %v", err)) // the recoverer answers 500
	}
	m := map[string]any{}
	_ = json.Unmarshal(raw, &m)
	for k, v := range extra {
		if v != nil && !reflect.ValueOf(v).IsZero() {
			m[k] = v
		}
	}
	JSON(w, status, m)
}

func (p *pouchAPI) listSenders(r *http.Request, s policy.Subject) (map[string]any, error) {
	if err := p.authz.Authorize(r.Context(), s, policy.ActSendersRead, policy.Resource{Kind: "sender_list"}); err != nil {
		return nil, err
	}
	at := time.Now()
	if v := r.URL.Query().Get("as_of"); v != "" {
		t, err := parseTimeOrDate(v)
		if err != nil {
			return nil, valise.Invalid("bad as_of", valise.FieldError{Field: "as_of", Reason: "RFC 3339 time or YYYY-MM-DD"})
		}
		at = t
	}
	list, err := pouch.SendersAsOf(r.Context(), p.bags.Pool(), at)
	if err != nil {
		return nil, err
	}
	return map[string]any{"as_of": at, "senders": list}, nil
}

func parseTimeOrDate(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return t, err
	}
	return t.Add(24*time.Hour - time.Nanosecond), nil // the end of that day
}

func (p *pouchAPI) recordSender(r *http.Request, s policy.Subject, in pouch.SenderInput) (*pouch.Sender, error) {
	return p.bags.RecordSender(r.Context(), s, in, p.check(s))
}

func (p *pouchAPI) senderHistory(r *http.Request, s policy.Subject) (map[string]any, error) {
	if err := p.authz.Authorize(r.Context(), s, policy.ActSendersRead, policy.Resource{Kind: "sender_list"}); err != nil {
		return nil, err
	}
	list, err := pouch.SenderHistory(r.Context(), p.bags.Pool(), chi.URLParam(r, "unit"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"versions": list}, nil
}

func (p *pouchAPI) createPlan(r *http.Request, s policy.Subject, in pouch.PlanInput) (*pouch.Plan, error) {
	return p.bags.CreatePlan(r.Context(), s, in, p.check(s))
}

func (p *pouchAPI) getPlan(r *http.Request, s policy.Subject) (*pouch.Plan, error) {
	return p.bags.GetPlan(r.Context(), chi.URLParam(r, "id"), p.check(s))
}

func (p *pouchAPI) submit(r *http.Request, s policy.Subject, in pouch.SubmissionInput) (*pouch.Submission, error) {
	return p.bags.Submit(r.Context(), s, in, p.check(s))
}

func (p *pouchAPI) getSubmission(r *http.Request, s policy.Subject) (*pouch.Submission, error) {
	return p.bags.GetSubmission(r.Context(), chi.URLParam(r, "id"), p.check(s))
}

// listBags lists bags in the caller's scope, filtered in SQL: state (comma
// separated), origin, destination, unit, min_level, max_level,
// older_than (Go duration), due_to (a unit: what is due to arrive there),
// overdue, after (cursor), limit.
func (p *pouchAPI) listBags(r *http.Request, s policy.Subject) (map[string]any, error) {
	q := r.URL.Query()
	f := pouch.BagFilter{Origin: q.Get("origin"), Destination: q.Get("destination"), Unit: q.Get("unit"),
		DueTo: q.Get("due_to"), Overdue: q.Get("overdue") == "true"}
	var fe []valise.FieldError
	after, err := p.cursors.openBag(s.UserID, "after", q.Get("after"))
	if err != nil {
		return nil, err
	}
	f.After = after
	if v := q.Get("state"); v != "" {
		for _, st := range strings.Split(v, ",") {
			f.States = append(f.States, pouch.State(st))
		}
	}
	for _, lv := range []struct {
		name string
		dst  **policy.Level
	}{{"min_level", &f.MinLevel}, {"max_level", &f.MaxLevel}} {
		if v := q.Get(lv.name); v != "" {
			l, err := policy.ParseLevel(v)
			if err != nil {
				fe = append(fe, valise.FieldError{Field: lv.name, Reason: err.Error()})
			}
			*lv.dst = &l
		}
	}
	if v := q.Get("older_than"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			fe = append(fe, valise.FieldError{Field: "older_than", Reason: "a duration like 72h"})
		}
		f.OlderThan = d
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			fe = append(fe, valise.FieldError{Field: "limit", Reason: "1..200"})
		}
		f.Limit = n
	}
	if fe != nil {
		return nil, valise.Invalid("bad list parameters", fe...)
	}
	sc, err := p.authz.ListScope(r.Context(), s, "bag")
	if err != nil {
		return nil, err
	}
	bags, at, err := p.bags.ListBags(r.Context(), s, sc, f)
	if err != nil {
		return nil, err
	}
	if bags == nil {
		bags = []*pouch.Bag{}
	}
	next, err := p.cursors.bag(s.UserID, at)
	if err != nil {
		return nil, err
	}
	return map[string]any{"bags": bags, "next": next}, nil
}

func (p *pouchAPI) createBag(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	var in pouch.CreateBagInput
	if err := Decode(r, &in); err != nil {
		Error(w, r, err)
		return
	}
	b, err := p.bags.CreateBag(r.Context(), s, in, p.check(s))
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/bags/"+b.ID)
	writeBag(w, http.StatusCreated, b, nil)
}

// getBag returns the bag with its contents (content names and levels are
// shown only because the policy allowed reading the bag) and incidents.
func (p *pouchAPI) getBag(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	b, err := p.bags.Get(r.Context(), chi.URLParam(r, "id"), p.check(s))
	if err != nil {
		Error(w, r, err)
		return
	}
	contents, err := p.bags.BagContents(r.Context(), b.ID)
	if err != nil {
		Error(w, r, err)
		return
	}
	incidents, err := p.bags.BagIncidents(r.Context(), b.ID)
	if err != nil {
		Error(w, r, err)
		return
	}
	writeBag(w, http.StatusOK, b, map[string]any{"contents": contents, "incidents": incidents})
}

func (p *pouchAPI) bagEvents(r *http.Request, s policy.Subject) (map[string]any, error) {
	b, err := p.bags.Get(r.Context(), chi.URLParam(r, "id"), p.check(s))
	if err != nil {
		return nil, err
	}
	after, limit, err := p.cursors.historyPage(r, "events", s.UserID, b.ID)
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = pouch.DefaultHistoryPage
	}
	// One more than the page says whether another follows.
	ev, err := pouch.HistoryPage(r.Context(), p.bags.Pool(), b.ID, after, limit+1)
	if err != nil {
		return nil, err
	}
	last := int64(0)
	if len(ev) > limit {
		ev = ev[:limit]
		last = ev[limit-1].ID
	}
	next, err := p.cursors.historyNext("events", s.UserID, b.ID, last)
	if err != nil {
		return nil, err
	}
	return map[string]any{"events": ev, "next": next}, nil
}

func (p *pouchAPI) correct(r *http.Request, s policy.Subject, in pouch.CorrectionInput) (pouch.Event, error) {
	return p.bags.Correct(r.Context(), s, chi.URLParam(r, "id"), in, p.check(s))
}

// actionBody is the union of the bag actions' bodies; each action reads its
// own fields and the strict decoder refuses unknown ones.
type actionBody struct {
	Place      string     `json:"place,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	OccurredAt *time.Time `json:"occurred_at,omitempty"`

	SubmissionIDs []string `json:"submission_ids,omitempty"` // assemble
	pouch.SealInput
	Leg  int    `json:"leg,omitempty"`  // arrive_leg
	City string `json:"city,omitempty"` // arrive_leg
	pouch.AcceptInput
	pouch.DispatchInput
	pouch.DeliverInput
	Custodian string `json:"custodian,omitempty"` // store (place is above)
	pouch.LossInput
	pouch.ExamineInput
	pouch.ConcludeInput
}

// bagAction runs one state transition: POST /bags/{id}/{action}.
func (p *pouchAPI) bagAction(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	action := pouch.Action(chi.URLParam(r, "action"))
	if pouch.PolicyAction(action) == "" {
		Error(w, r, valise.Errorf(valise.ENOTFOUND, "no such bag action: %s", action))
		return
	}
	version, err := ifMatch(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	var in actionBody
	if err := decodeOptional(r, &in); err != nil {
		Error(w, r, err)
		return
	}
	m := pouch.Mutation{BagID: chi.URLParam(r, "id"), IfMatch: version, Place: in.Place, Reason: in.Reason}
	if in.OccurredAt != nil {
		m.OccurredAt = *in.OccurredAt
	}
	ctx, chk := r.Context(), p.check(s)
	var b *pouch.Bag
	extra := map[string]any(nil)
	switch action {
	case pouch.ActAssemble:
		b, err = p.bags.Assemble(ctx, s, m, in.SubmissionIDs, chk)
	case pouch.ActSeal:
		b, err = p.bags.Seal(ctx, s, m, in.SealInput, chk)
	case pouch.ActDispatch:
		var h *pouch.Handoff
		b, h, err = p.bags.Dispatch(ctx, s, m, in.DispatchInput, chk)
		if h != nil {
			extra = map[string]any{"handoff": h}
		}
	case pouch.ActArriveLeg:
		b, err = p.bags.ArriveLeg(ctx, s, m, in.Leg, in.City, chk)
	case pouch.ActDeliver:
		var h *pouch.Handoff
		b, h, err = p.bags.Deliver(ctx, s, m, in.DeliverInput, chk)
		extra = map[string]any{"handoff": h}
	case pouch.ActAccept:
		var rc *pouch.Receipt
		b, rc, err = p.bags.Accept(ctx, s, m, in.AcceptInput, chk)
		extra = map[string]any{"receipt": rc}
	case pouch.ActStore:
		b, err = p.bags.Store(ctx, s, m, pouch.StoreInput{Place: in.Place, Custodian: in.Custodian}, chk)
	case pouch.ActExamine:
		var ex *pouch.Examination
		b, ex, err = p.bags.Examine(ctx, s, m, in.ExamineInput, chk)
		extra = map[string]any{"examination": ex}
	case pouch.ActConclude:
		b, err = p.bags.ConcludeExamination(ctx, s, m, in.ConcludeInput, chk)
	case pouch.ActReportLoss:
		var lr *pouch.LossReport
		b, lr, err = p.bags.ReportMissing(ctx, s, m, in.LossInput, chk)
		extra = map[string]any{"loss_report": lr}
	case pouch.ActFound:
		b, err = p.bags.MarkFound(ctx, s, m, chk)
	case pouch.ActCompromise:
		b, err = p.bags.DeclareCompromised(ctx, s, m, chk)
	case pouch.ActDestroy:
		b, err = p.bags.Destroy(ctx, s, m, chk)
	default:
		err = errors.New("unreachable bag action " + string(action))
	}
	if err != nil {
		Error(w, r, err)
		return
	}
	writeBag(w, http.StatusOK, b, extra)
}

// courierCheck: who may see or record couriers is the planning right
// (dispatchers, career couriers) in the caller's own unit.
func (p *pouchAPI) courierCheck(r *http.Request, s policy.Subject) error {
	return p.authz.Authorize(r.Context(), s, policy.ActBagPlan, policy.Resource{Kind: "courier", Origin: s.UnitCode})
}

func (p *pouchAPI) listCouriers(r *http.Request, s policy.Subject) (map[string]any, error) {
	if err := p.courierCheck(r, s); err != nil {
		return nil, err
	}
	list, err := p.couriers.List(r.Context())
	if err != nil {
		return nil, err
	}
	return map[string]any{"couriers": list}, nil
}

// createCourier records a courier (see courierCheck for who may).
func (p *pouchAPI) createCourier(r *http.Request, s policy.Subject, in courier.CourierInput) (*courier.Courier, error) {
	if err := p.courierCheck(r, s); err != nil {
		return nil, err
	}
	return p.couriers.Create(r.Context(), s, in)
}

func (p *pouchAPI) getCourier(r *http.Request, s policy.Subject) (*courier.Courier, error) {
	if err := p.courierCheck(r, s); err != nil {
		return nil, err
	}
	return p.couriers.Get(r.Context(), chi.URLParam(r, "id"))
}

func (p *pouchAPI) issueSheet(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	var in courier.IssueInput
	if err := Decode(r, &in); err != nil {
		Error(w, r, err)
		return
	}
	sh, err := p.couriers.Issue(r.Context(), s, in, p.check(s))
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("ETag", versionETag(sh.Version))
	JSON(w, http.StatusCreated, sh)
}

func (p *pouchAPI) getSheet(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	sh, err := p.couriers.GetSheet(r.Context(), chi.URLParam(r, "id"), p.check(s))
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("ETag", versionETag(sh.Version))
	JSON(w, http.StatusOK, sh)
}

func (p *pouchAPI) printSheet(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	sh, err := p.couriers.GetSheet(r.Context(), chi.URLParam(r, "id"), p.check(s))
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", courier.PrintCSP)
	_ = sh.Print(w)
}

func (p *pouchAPI) revokeSheet(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	version, err := ifMatch(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := Decode(r, &in); err != nil {
		Error(w, r, err)
		return
	}
	sh, err := p.couriers.Revoke(r.Context(), s, chi.URLParam(r, "id"), version, in.Reason, p.check(s))
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, sh)
}

func (p *pouchAPI) listIncidents(r *http.Request, s policy.Subject) (map[string]any, error) {
	sc, err := p.authz.ListScope(r.Context(), s, "incident")
	if err != nil {
		return nil, err
	}
	list, err := p.bags.ListIncidents(r.Context(), s, sc, r.URL.Query().Get("open") == "true")
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []*pouch.Incident{}
	}
	return map[string]any{"incidents": list}, nil
}

func (p *pouchAPI) getIncident(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	i, err := p.bags.GetIncident(r.Context(), chi.URLParam(r, "id"), p.check(s))
	if err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("ETag", versionETag(i.Version))
	JSON(w, http.StatusOK, i)
}

func (p *pouchAPI) updateIncident(w http.ResponseWriter, r *http.Request) {
	s, ok := subject(w, r)
	if !ok {
		return
	}
	version, err := ifMatch(r)
	if err != nil {
		Error(w, r, err)
		return
	}
	var in pouch.IncidentUpdate
	if err := Decode(r, &in); err != nil {
		Error(w, r, err)
		return
	}
	i, err := p.bags.UpdateIncident(r.Context(), s, chi.URLParam(r, "id"), version, in, p.check(s))
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, i)
}

func (p *pouchAPI) getLoss(r *http.Request, s policy.Subject) (*pouch.LossReport, error) {
	return p.bags.GetLoss(r.Context(), chi.URLParam(r, "id"), p.check(s))
}

func (p *pouchAPI) recordAgreement(r *http.Request, s policy.Subject, in pouch.AgreementInput) (*pouch.LossReport, error) {
	return p.bags.RecordAgreement(r.Context(), s, chi.URLParam(r, "id"), in, p.check(s))
}

// mustAuthorizer compiles the embedded policy; it fails only if the
// embedded policy itself is broken, which tests catch.
func mustAuthorizer(pool *pgxpool.Pool, log *slog.Logger) *policy.Authorizer {
	a, err := policy.New(context.Background(), pool, log)
	if err != nil {
		panic("compile the embedded policy: " + err.Error())
	}
	return a
}
