package demo_test

import (
	"context"
	"testing"

	"valise/demo"
	"valise/personnel"
	"valise/policy"
)

// TestDemoEntitlements loads the demo twice: this year's reference values,
// the courier's duty injury, the veteran and one recorded decision are there
// once, and the walkthrough's previews compute.
func TestDemoEntitlements(t *testing.T) {
	t.Parallel()
	d := loadedTwice(t)
	ctx := context.Background()
	var refs, incidents, decisions int
	if err := d.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM entitlement_reference), (SELECT count(*) FROM duty_incidents),
		(SELECT count(*) FROM entitlement_decisions)`).Scan(&refs, &incidents, &decisions); err != nil {
		t.Fatal(err)
	}
	if refs < 30 || incidents != 1 || decisions != 1 {
		t.Fatalf("references %d, incidents %d, decisions %d", refs, incidents, decisions)
	}
	svc := personnel.New(d.Pool)
	trust := func(context.Context, string, policy.Resource) error { return nil }
	id := func(number string) string {
		var s string
		if err := d.Pool.QueryRow(ctx, `SELECT id::text FROM staff WHERE personnel_number = $1`, number).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	courier := id(demo.DemoInjuredStaff)
	x, err := svc.Incidents(ctx, trust, courier)
	if err != nil || len(x) != 1 {
		t.Fatalf("%v %v", x, err)
	}
	c, err := svc.PreviewEntitlement(ctx, trust, courier, personnel.EntitlementInput{Kind: personnel.EntDutyInjury, IncidentID: x[0].ID})
	if err != nil || c.Outcome != personnel.OutcomePayable {
		t.Fatalf("the courier's injury: %v\n%s", err, c.Text())
	}
	years := 40
	c, err = svc.PreviewEntitlement(ctx, trust, id(demo.DemoVeteranStaff), personnel.EntitlementInput{Kind: personnel.EntVeteran,
		TotalExperienceYears: &years, RetirementAge: "men"})
	if err != nil || c.Outcome != personnel.OutcomePayable || !*c.Determination.VeteranPayment {
		t.Fatalf("the veteran: %v\n%s", err, c.Text())
	}
}
