package policy_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/tester"

	"valise"
	"valise/internal/dbtest"
	"valise/policy"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TestRego runs every _test.rego file beside the policy with OPA's tester,
// exactly as `opa test policy/` would.
func TestRego(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	modules, store, err := tester.Load([]string{"."}, nil)
	if err != nil {
		t.Fatalf("load the policy: %v", err)
	}
	ch, err := tester.NewRunner().SetStore(store).SetModules(modules).RunTests(ctx, nil)
	if err != nil {
		t.Fatalf("run the Rego tests: %v", err)
	}
	n := 0
	for r := range ch {
		n++
		if !r.Pass() {
			t.Errorf("%s.%s failed: %v", r.Package, r.Name, r.Error)
		}
	}
	if n < 30 {
		t.Errorf("ran %d Rego tests; expected the full suite", n)
	}
}

var (
	clerkBerlin = policy.Subject{UserID: "u1", Username: "clerk", Roles: []string{policy.RoleRegistryClerk},
		UnitCode: "DE-BER", UnitKind: "embassy", Clearance: policy.Secret}
	adHoc = policy.Subject{UserID: "u2", Username: "adhoc", Roles: []string{policy.RoleCourier},
		UnitCode: "MFA", UnitKind: "ministry", Clearance: policy.Secret, CourierKind: policy.CourierAdHoc}
	secretBag = policy.Resource{Kind: "bag", ID: "b1", Level: policy.Secret, Origin: "MFA", Destination: "DE-BER",
		CustodianKind: "registry", CustodianUnit: "DE-BER"}
)

func newAuthorizer(t *testing.T) (*policy.Authorizer, *dbtest.Database, *bytes.Buffer) {
	t.Helper()
	d := dbtest.New(t)
	var logs bytes.Buffer
	a, err := policy.New(context.Background(), d.Pool, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return a, d, &logs
}

// TestAuthorize checks the error each kind of answer becomes, and that
// every deny (and only a deny) reaches the decision log with its full reason.
func TestAuthorize(t *testing.T) {
	t.Parallel()
	a, d, logs := newAuthorizer(t)
	ctx := context.Background()
	topSecret := secretBag
	topSecret.Level = policy.TopSecret
	for _, tc := range []struct {
		name       string
		s          policy.Subject
		action     string
		r          policy.Resource
		code       string
		wantDetail string
	}{
		{"allowed", clerkBerlin, policy.ActBagStore, secretBag, "", ""},
		{"above clearance is not found", clerkBerlin, policy.ActBagRead, topSecret, valise.ENOTFOUND, "clearance 2 is below the resource level 3"},
		{"ad hoc courier may not store", adHoc, policy.ActBagStore, policy.Resource{Kind: "bag", Custodian: "u2"}, valise.EFORBIDDEN, "none of the roles"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := a.Authorize(ctx, tc.s, tc.action, tc.r)
			if got := valise.ErrorCode(err); got != tc.code {
				t.Fatalf("Authorize = %v, want code %q", err, tc.code)
			}
			if tc.code == "" {
				return
			}
			var ve *valise.Error
			errors.As(err, &ve)
			if strings.Contains(ve.Message, "clearance") || strings.Contains(ve.Message, "roles") {
				t.Errorf("the caller's message leaks the reason: %q", ve.Message)
			}
			if err := a.Flush(ctx); err != nil { // denies are written off the request path
				t.Fatal(err)
			}
			var detail string
			err = d.Pool.QueryRow(ctx, `SELECT detail FROM decision_log WHERE username = $1 AND action = $2`,
				tc.s.Username, tc.action).Scan(&detail)
			if err != nil || !strings.Contains(detail, tc.wantDetail) {
				t.Errorf("decision log detail = %q (%v), want it to contain %q", detail, err, tc.wantDetail)
			}
		})
	}
	var n int
	_ = a.Flush(ctx)
	if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM decision_log`).Scan(&n); err != nil || n != 2 {
		t.Errorf("decision log holds %d rows (%v), want the 2 denies", n, err)
	}
	if c := strings.Count(logs.String(), "authorization denied"); c != 2 {
		t.Errorf("logged %d denies, want 2", c)
	}
}

// TestDecisionLogNeverLosesSilently: a deny the database will not take
// (here: its table is gone) is retried, then written in full to the server
// log at error level and counted; the deny itself still answers at once.
func TestDecisionLogNeverLosesSilently(t *testing.T) {
	t.Parallel()
	a, d, logs := newAuthorizer(t)
	ctx := context.Background()
	if _, err := d.Pool.Exec(ctx, `ALTER TABLE decision_log RENAME TO decision_log_gone`); err != nil {
		t.Fatal(err)
	}
	topSecret := secretBag
	topSecret.Level, topSecret.ID = policy.TopSecret, "bag-lost-1"
	if err := a.Authorize(ctx, clerkBerlin, policy.ActBagRead, topSecret); valise.ErrorCode(err) != valise.ENOTFOUND {
		t.Fatalf("Authorize = %v, want not found", err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := a.DecisionLogStats(); st.Dropped != 1 || st.Written != 0 || st.Pending != 0 {
		t.Errorf("stats = %+v, want one dropped", st)
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"decision log row not written: this line is its record"`) ||
		!strings.Contains(out, `"resource_id":"bag-lost-1"`) || !strings.Contains(out, `"level":"ERROR"`) ||
		!strings.Contains(out, "clearance 2 is below the resource level 3") {
		t.Errorf("the lost deny is not in the server log in full:\n%s", out)
	}
	// Once the table is back, denies reach it again.
	if _, err := d.Pool.Exec(ctx, `ALTER TABLE decision_log_gone RENAME TO decision_log`); err != nil {
		t.Fatal(err)
	}
	_ = a.Authorize(ctx, clerkBerlin, policy.ActBagRead, topSecret)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM decision_log WHERE resource_id = 'bag-lost-1'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("decision log holds %d rows for the bag (%v), want 1", n, err)
	}
}

func TestListScope(t *testing.T) {
	t.Parallel()
	a, _, _ := newAuthorizer(t)
	ctx := context.Background()
	sec := policy.Subject{Username: "sec", Roles: []string{policy.RoleSecurityOfficer}, UnitCode: "MFA",
		Clearance: policy.TopSecret, Scope: []string{"JP-TYO"}}
	admin := policy.Subject{Username: "adm", Roles: []string{policy.RoleAdmin}, UnitCode: "MFA", Clearance: policy.SpecialImportance}
	for _, tc := range []struct {
		name string
		s    policy.Subject
		kind string
		want policy.Scope
	}{
		{"clerk sees own unit", clerkBerlin, "bag", policy.Scope{Units: []string{"DE-BER"}, MaxLevel: policy.Secret}},
		{"security officer adds scope", sec, "bag", policy.Scope{Units: []string{"JP-TYO", "MFA"}, MaxLevel: policy.TopSecret}},
		{"courier sees what they carry", adHoc, "bag", policy.Scope{Units: []string{"MFA"}, MaxLevel: policy.Secret, Courier: true}},
		{"admin sees no bags", admin, "bag", policy.Scope{Units: []string{}, MaxLevel: -1}},
		{"admin lists users", admin, "user", policy.Scope{All: true, Units: []string{}, MaxLevel: policy.SpecialImportance}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.ListScope(ctx, tc.s, tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			if got.All != tc.want.All || got.MaxLevel != tc.want.MaxLevel || got.Courier != tc.want.Courier ||
				strings.Join(got.Units, ",") != strings.Join(tc.want.Units, ",") {
				t.Errorf("ListScope = %+v, want %+v", got, tc.want)
			}
		})
	}
	if s, _ := a.ListScope(ctx, admin, "bag"); !s.None() {
		t.Errorf("an admin's bag scope should show nothing: %+v", s)
	}
}

func TestActions(t *testing.T) {
	t.Parallel()
	a, _, _ := newAuthorizer(t)
	got, err := a.Actions(context.Background(), adHoc)
	if err != nil {
		t.Fatal(err)
	}
	joined := "," + strings.Join(got, ",") + ","
	if !strings.Contains(joined, ","+policy.ActBagDeliver+",") || strings.Contains(joined, ","+policy.ActBagPlan+",") {
		t.Errorf("ad hoc courier actions = %v", got)
	}
}

// BenchmarkDecide measures one prepared-query decision (target < 50 µs).
// BenchmarkDecide is a repeated decision, answered from the decision cache
// after the first evaluation (BenchmarkEvaluate measures the Rego itself).
func BenchmarkDecide(b *testing.B) {
	a, err := policy.New(context.Background(), nil, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := a.Decide(ctx, clerkBerlin, policy.ActBagStore, secretBag)
		if err != nil || !d.Allow {
			b.Fatalf("decision %+v %v", d, err)
		}
	}
}

// BenchmarkDecideDeny measures a hidden deny (the sprintf-heavy path).
func BenchmarkDecideDeny(b *testing.B) {
	a, err := policy.New(context.Background(), nil, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	r := secretBag
	r.Destination = "JP-TYO"
	b.ReportAllocs()
	for b.Loop() {
		if d, err := a.Decide(ctx, clerkBerlin, policy.ActBagRead, r); err != nil || !d.Hidden {
			b.Fatalf("decision %+v %v", d, err)
		}
	}
}
