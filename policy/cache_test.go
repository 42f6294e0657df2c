package policy

import (
	"context"
	"log/slog"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestCacheKeyCoversPolicyInputs parses the embedded policy and fails if it
// reads an input field the decision cache key leaves out: such a change
// would let the cache answer a question the policy would answer differently.
func TestCacheKeyCoversPolicyInputs(t *testing.T) {
	mod, err := ast.ParseModuleWithOpts("authz.rego", regoSource, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string][]string{"subject": cachedSubjectFields, "resource": cachedResourceFields}
	seen := 0
	ast.WalkRefs(mod, func(ref ast.Ref) bool {
		if len(ref) < 2 || !ref[0].Equal(ast.InputRootDocument) {
			return false
		}
		top, ok := ref[1].Value.(ast.String)
		if !ok {
			t.Errorf("the policy reads input with a computed key: %v", ref)
			return false
		}
		switch string(top) {
		case "action", "kind": // action is in the key; kind is the list-scope input, not cached
			return false
		case "subject", "resource":
			if len(ref) < 3 {
				t.Errorf("the policy reads the whole input.%s: the cache key cannot follow", top)
				return false
			}
			f, ok := ref[2].Value.(ast.String)
			if !ok || !slices.Contains(allowed[string(top)], string(f)) {
				t.Errorf("the policy reads input.%s.%v, which the decision cache key leaves out", top, ref[2])
			}
			seen++
		default:
			t.Errorf("the policy reads input.%s, which the decision cache key leaves out", top)
		}
		return false
	})
	if seen < 10 {
		t.Fatalf("found only %d input references: the walk is broken", seen)
	}
}

// TestCachedDecisionsEqualEvaluated asks the same questions twice (the
// second time from the cache) and checks the answers equal fresh evaluations.
func TestCachedDecisionsEqualEvaluated(t *testing.T) {
	ctx := context.Background()
	a, err := New(ctx, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	clerk := Subject{UserID: "u1", Username: "c", Roles: []string{RoleRegistryClerk}, UnitCode: "DE-BER", UnitKind: "embassy", Clearance: Secret}
	courier := Subject{UserID: "u2", Username: "k", Roles: []string{RoleCourier}, UnitCode: "MFA-DCS", UnitKind: "department", Clearance: TopSecret, CourierKind: CourierAdHoc}
	bag := Resource{Kind: "bag", ID: "b1", Level: Secret, Origin: "MFA", Destination: "DE-BER", CustodianKind: "registry", CustodianUnit: "DE-BER"}
	high := bag
	high.Level = TopSecret
	carried := bag
	carried.Custodian = "u2"
	for _, q := range []struct {
		s      Subject
		action string
		r      Resource
		allow  bool
	}{
		{clerk, ActBagStore, bag, true},
		{clerk, ActBagStore, high, false},
		{courier, ActBagStore, carried, false},
		{courier, ActBagDeliver, carried, true},
		{courier, ActBagDeliver, bag, false}, // neither custodian nor on the route
	} {
		for round := 0; round < 2; round++ {
			got, err := a.Decide(ctx, q.s, q.action, q.r)
			if err != nil {
				t.Fatal(err)
			}
			want, err := a.evaluate(ctx, q.s, q.action, q.r)
			if err != nil {
				t.Fatal(err)
			}
			if got != want || got.Allow != q.allow {
				t.Errorf("%s %s on %+v, round %d: got %+v, evaluated %+v, want allow=%v", q.s.Username, q.action, q.r, round, got, want, q.allow)
			}
		}
	}
}

// BenchmarkEvaluate is one uncached Rego evaluation (a question the cache
// has not seen); BenchmarkDecide in authorizer_test.go is the cached path.
func BenchmarkEvaluate(b *testing.B) {
	a, err := New(context.Background(), nil, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	s := Subject{UserID: "u1", Roles: []string{RoleRegistryClerk}, UnitCode: "DE-BER", UnitKind: "embassy", Clearance: Secret}
	r := Resource{Kind: "bag", Level: Secret, Origin: "MFA", Destination: "DE-BER", CustodianKind: "registry", CustodianUnit: "DE-BER"}
	b.ReportAllocs()
	for b.Loop() {
		if d, err := a.evaluate(context.Background(), s, ActBagStore, r); err != nil || !d.Allow {
			b.Fatalf("%+v %v", d, err)
		}
	}
}
