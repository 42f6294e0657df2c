package policy

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"valise"
)

// regoSource is the policy. Its tests (authz_test.rego) are not embedded:
// they run under `go test` and `opa test policy/`.
//
//go:embed authz.rego
var regoSource string

// personnelSource is the personal-data policy (package valise.personnel):
// it decides every personnel resource kind (personnelKinds).
//
//go:embed personnel.rego
var personnelSource string

// personnelKinds are the resource and list kinds personnel.rego decides.
var personnelKinds = map[string]bool{"staff": true, "personnel_reference": true, "personnel_reserve": true}

// Source returns the embedded Rego policy text.
func Source() string { return regoSource }

// Authorizer evaluates the embedded policy. Its queries are prepared once in
// New, so a decision costs an evaluation, never a compilation. It is safe for
// concurrent use.
type Authorizer struct {
	decide  rego.PreparedEvalQuery
	scope   rego.PreparedEvalQuery
	actions rego.PreparedEvalQuery
	// personnel resources (personnel.rego)
	staffDecide rego.PreparedEvalQuery
	staffScope  rego.PreparedEvalQuery
	pool        *pgxpool.Pool
	log         *slog.Logger
	cache       *decisionCache
	denies      *decisionWriter // nil without a pool
}

// New compiles the policy and prepares its queries. pool receives the
// decision log (it may be nil in tools that only decide); log defaults to
// slog.Default().
func New(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (*Authorizer, error) {
	if log == nil {
		log = slog.Default()
	}
	compiler, err := ast.CompileModulesWithOpt(map[string]string{"authz.rego": regoSource, "personnel.rego": personnelSource},
		ast.CompileOpts{ParserOptions: ast.ParserOptions{RegoVersion: ast.RegoV1}})
	if err != nil {
		return nil, fmt.Errorf("compile the policy: %w", err)
	}
	prepare := func(query string, prepOpts ...rego.PrepareOption) (rego.PreparedEvalQuery, error) {
		q, err := rego.New(rego.Query(query), rego.Compiler(compiler)).PrepareForEval(ctx, prepOpts...)
		if err != nil {
			return q, fmt.Errorf("prepare %s: %w", query, err)
		}
		return q, nil
	}
	a := &Authorizer{pool: pool, log: log, cache: newDecisionCache(8192)}
	if pool != nil {
		a.denies = newDecisionWriter(pool, log, 65536)
	}
	if a.decide, err = prepare("data.valise.authz.decision"); err != nil {
		return nil, err
	}
	if a.scope, err = prepare("data.valise.authz.list_scope"); err != nil {
		return nil, err
	}
	if a.actions, err = prepare("data.valise.authz.actions"); err != nil {
		return nil, err
	}
	if a.staffDecide, err = prepare("data.valise.personnel.decision"); err != nil {
		return nil, err
	}
	if a.staffScope, err = prepare("data.valise.personnel.list_scope"); err != nil {
		return nil, err
	}
	return a, nil
}

// Decide asks the policy whether s may do action to r. It neither logs nor
// records: use Authorize in handlers.
func (a *Authorizer) Decide(ctx context.Context, s Subject, action string, r Resource) (Decision, error) {
	key := decisionKey(s, action, r)
	if d, ok := a.cache.get(key); ok {
		return d, nil
	}
	d, err := a.evaluate(ctx, s, action, r)
	if err == nil {
		a.cache.put(key, d)
	}
	return d, err
}

// evaluate runs the prepared decision query (no cache).
func (a *Authorizer) evaluate(ctx context.Context, s Subject, action string, r Resource) (Decision, error) {
	input := ast.NewObject(
		ast.Item(keySubject, subjectTerm(s)),
		ast.Item(keyAction, ast.StringTerm(action)),
		ast.Item(keyResource, resourceTerm(r)),
	)
	q := a.decide
	if personnelKinds[r.Kind] {
		q = a.staffDecide
	}
	rs, err := q.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return Decision{}, fmt.Errorf("evaluate the policy for %s: %w", action, err)
	}
	m, ok := single(rs)
	if !ok {
		return Decision{Reason: "you are not allowed to do this", Detail: "the policy gave no decision"}, nil
	}
	d := Decision{}
	d.Allow, _ = m["allow"].(bool)
	d.Hidden, _ = m["hidden"].(bool)
	d.Reason, _ = m["reason"].(string)
	d.Detail, _ = m["detail"].(string)
	if d.Allow {
		d.Hidden = false
	}
	return d, nil
}

// Authorize returns nil when the policy allows s to do action to r. A deny is
// written to the decision log with its full reason and logged; the caller
// gets only a general error: ENOTFOUND ("not found") when the resource must
// stay invisible to s, EFORBIDDEN otherwise.
func (a *Authorizer) Authorize(ctx context.Context, s Subject, action string, r Resource) error {
	d, err := a.Decide(ctx, s, action, r)
	if err != nil {
		return err
	}
	if d.Allow {
		return nil
	}
	a.record(ctx, s, action, r, d)
	if d.Hidden {
		return &valise.Error{Code: valise.ENOTFOUND, Message: "not found"}
	}
	return &valise.Error{Code: valise.EFORBIDDEN, Message: d.Reason}
}

// record writes a deny to the server log at once and queues it for the
// decision log (decisionwriter.go): the request does not wait for the
// database, so a deny costs the same time as a miss.
func (a *Authorizer) record(ctx context.Context, s Subject, action string, r Resource, d Decision) {
	a.log.LogAttrs(ctx, slog.LevelWarn, "authorization denied",
		slog.String("user", s.Username), slog.String("user_id", s.UserID), slog.String("unit", s.UnitCode),
		slog.String("action", action), slog.String("resource_kind", r.Kind), slog.String("resource_id", r.ID),
		slog.String("resource_level", r.Level.String()), slog.Bool("hidden", d.Hidden),
		slog.String("reason", d.Reason), slog.String("detail", d.Detail))
	if a.denies == nil {
		return
	}
	a.denies.add(decisionRow{at: time.Now(), userID: s.UserID, username: s.Username, unit: s.UnitCode,
		action: action, kind: r.Kind, resID: r.ID, level: r.Level, hidden: d.Hidden, reason: d.Reason, detail: d.Detail})
}

// Flush waits until every deny recorded so far is in the decision log
// table (or, when the database refused it, logged as lost), or ctx ends.
// Readers of the decision log flush first; the server flushes on shutdown.
func (a *Authorizer) Flush(ctx context.Context) error {
	if a.denies == nil {
		return nil
	}
	return a.denies.flush(ctx)
}

// Close flushes the decision log (Flush); when ctx ends first, every deny
// still queued is written to the server log as lost, so a stopping process
// loses none silently.
func (a *Authorizer) Close(ctx context.Context) error {
	err := a.Flush(ctx)
	if err != nil && a.denies != nil {
		a.denies.abandon()
	}
	return err
}

// DecisionLogStats reports the decision-log writer's counts (for metrics).
func (a *Authorizer) DecisionLogStats() DecisionLogStats {
	if a.denies == nil {
		return DecisionLogStats{}
	}
	w := a.denies
	w.mu.Lock()
	pending := len(w.queue)
	w.mu.Unlock()
	return DecisionLogStats{Written: w.written.Load(), Dropped: w.dropped.Load(), Pending: pending}
}

// Scope is what a list may show a subject: rows whose unit (origin,
// destination or route) is in Units, or every unit when All, and whose level
// is at most MaxLevel. When Courier is set, rows the subject holds or is
// named courier on are visible too. The zero Scope with MaxLevel < 0 (see
// None) shows nothing.
type Scope struct {
	All      bool
	Units    []string
	MaxLevel Level
	Courier  bool
	// Self: the subject's own staff record is visible too (personnel kinds).
	Self bool
}

// None reports whether the scope shows nothing at all.
func (s Scope) None() bool { return s.MaxLevel < Unclassified }

// ListScope asks the policy what a list of kind ("bag", "user", "unit",
// "decision_log", ...) may show s, so SQL can filter by it.
func (a *Authorizer) ListScope(ctx context.Context, s Subject, kind string) (Scope, error) {
	input := ast.NewObject(
		ast.Item(keySubject, subjectTerm(s)),
		ast.Item(keyKind, ast.StringTerm(kind)),
	)
	q := a.scope
	if personnelKinds[kind] {
		q = a.staffScope
	}
	rs, err := q.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return Scope{}, fmt.Errorf("evaluate the list scope of %s: %w", kind, err)
	}
	none := Scope{MaxLevel: -1}
	m, ok := single(rs)
	if !ok {
		return none, nil
	}
	sc := Scope{}
	sc.All, _ = m["all"].(bool)
	sc.Courier, _ = m["courier"].(bool)
	sc.Self, _ = m["self"].(bool)
	n, ok := m["max_level"].(json.Number)
	if !ok {
		return none, nil
	}
	lvl, err := n.Int64()
	if err != nil {
		return none, nil
	}
	sc.MaxLevel = Level(lvl)
	units, _ := m["units"].([]any)
	sc.Units = make([]string, 0, len(units))
	for _, u := range units {
		if s, ok := u.(string); ok {
			sc.Units = append(sc.Units, s)
		}
	}
	return sc, nil
}

// Actions lists every action s holds by role, before any resource check
// (what GET /api/v1/me shows).
func (a *Authorizer) Actions(ctx context.Context, s Subject) ([]string, error) {
	input := ast.NewObject(ast.Item(keySubject, subjectTerm(s)))
	rs, err := a.actions.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, fmt.Errorf("evaluate the actions: %w", err)
	}
	out := []string{}
	if len(rs) == 1 && len(rs[0].Expressions) == 1 {
		list, _ := rs[0].Expressions[0].Value.([]any)
		for _, v := range list {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out, nil
}

func single(rs rego.ResultSet) (map[string]any, bool) {
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return nil, false
	}
	m, ok := rs[0].Expressions[0].Value.(map[string]any)
	return m, ok
}

// Input keys, built once.
var (
	keyAccount     = ast.StringTerm("account")
	keyAction      = ast.StringTerm("action")
	keyClearance   = ast.StringTerm("clearance")
	keyCourierKind = ast.StringTerm("courier_kind")
	keyCouriers    = ast.StringTerm("couriers")
	keyPerson      = ast.StringTerm("person")
	keyCustodian   = ast.StringTerm("custodian")
	keyCustKind    = ast.StringTerm("custodian_kind")
	keyCustUnit    = ast.StringTerm("custodian_unit")
	keyParentUnit  = ast.StringTerm("parent_unit")
	keyDestination = ast.StringTerm("destination")
	keyId          = ast.StringTerm("id")
	keyKind        = ast.StringTerm("kind")
	keyLevel       = ast.StringTerm("level")
	keyOrigin      = ast.StringTerm("origin")
	keyResource    = ast.StringTerm("resource")
	keyRoles       = ast.StringTerm("roles")
	keyRoute       = ast.StringTerm("route")
	keyScope       = ast.StringTerm("scope")
	keySubject     = ast.StringTerm("subject")
	keyUnitCode    = ast.StringTerm("unit_code")
	keyUnitId      = ast.StringTerm("unit_id")
	keyUnitKind    = ast.StringTerm("unit_kind")
	keyUserId      = ast.StringTerm("user_id")
	keyUsername    = ast.StringTerm("username")
)

// subjectTerm and resourceTerm build the policy input directly as AST values:
// no JSON round trip on the hot path.
func subjectTerm(s Subject) *ast.Term {
	return ast.ObjectTerm(
		ast.Item(keyUserId, ast.StringTerm(s.UserID)),
		ast.Item(keyUsername, ast.StringTerm(s.Username)),
		ast.Item(keyRoles, stringsTerm(s.Roles)),
		ast.Item(keyUnitId, ast.StringTerm(s.UnitID)),
		ast.Item(keyUnitCode, ast.StringTerm(s.UnitCode)),
		ast.Item(keyUnitKind, ast.StringTerm(s.UnitKind)),
		ast.Item(keyParentUnit, ast.StringTerm(s.ParentUnit)),
		ast.Item(keyClearance, ast.InternedTerm(int(s.Clearance))),
		ast.Item(keyCourierKind, ast.StringTerm(s.CourierKind)),
		ast.Item(keyScope, stringsTerm(s.Scope)),
	)
}

func resourceTerm(r Resource) *ast.Term {
	return ast.ObjectTerm(
		ast.Item(keyKind, ast.StringTerm(r.Kind)),
		ast.Item(keyId, ast.StringTerm(r.ID)),
		ast.Item(keyLevel, ast.InternedTerm(int(r.Level))),
		ast.Item(keyOrigin, ast.StringTerm(r.Origin)),
		ast.Item(keyDestination, ast.StringTerm(r.Destination)),
		ast.Item(keyRoute, stringsTerm(r.Route)),
		ast.Item(keyCustodian, ast.StringTerm(r.Custodian)),
		ast.Item(keyCustKind, ast.StringTerm(r.CustodianKind)),
		ast.Item(keyCustUnit, ast.StringTerm(r.CustodianUnit)),
		ast.Item(keyCouriers, stringsTerm(r.Couriers)),
		ast.Item(keyAccount, ast.StringTerm(r.Account)),
		ast.Item(keyPerson, ast.StringTerm(r.Person)),
	)
}

func stringsTerm(ss []string) *ast.Term {
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(ts...)
}
