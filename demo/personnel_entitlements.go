package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"valise/personnel"
	"valise/policy"
)

// Demo staff of the entitlements walkthrough (issue 15, HR-40 ... HR-46).
const (
	DemoInjuredStaff = "D-005" // the career courier, severely injured on a run to Berlin two months ago
	DemoVeteranStaff = "D-090" // a former ambassador, retired: a veteran with the Art. 29-1 payment
)

// demoEntitlementRefs are this year's reference values. They are DEMO
// PLACEHOLDERS, not the amounts of the acts: a deployment records the real
// ones (salary tables, the budget law's monthly calculation index, the
// Social Code minimum, the Government's payment amounts) from their acts.
var demoEntitlementRefs = []struct{ kind, code, value, reason string }{
	{"mci", "mci", `{"amount":"4325"}`, "the monthly calculation index of the year's budget law (demo value)"},
	{"minimum", "death_allowance", `{"mci":"30"}`, "the Social Code minimum of Art. 25(1) part 4 (demo placeholder)"},
	{"payment", "rare_language", `{"mci":"5"}`, "Government decree on payments to diplomatic personnel (demo placeholder)"},
	{"payment", "state_secrets", `{"mci":"10"}`, "Government decree on payments to diplomatic personnel (demo placeholder)"},
	{"payment", "representation_attire", `{"mci":"60"}`, "Government decree on payments to diplomatic personnel (demo placeholder)"},
	{"payment", "veteran_monthly", `{"mci":"20"}`, "Government decree on the veterans' monthly payment (demo placeholder)"},
	{"retirement_age", "men", `{"years":63,"months":0}`, "Social Code (demo value)"},
	{"retirement_age", "women", `{"years":61,"months":0}`, "Social Code (demo value)"},
	{"rare_language", "ja", `{"name":"Japanese"}`, "the Minister's list of rare foreign languages (demo)"},
	{"rare_language", "ko", `{"name":"Korean"}`, "the Minister's list of rare foreign languages (demo)"},
}

// demoSalaries: official salaries by length of service (0, 5, 10, 15 years),
// per position, in tenge (demo placeholders for the single pay system's tables).
var demoSalaries = map[string]int{"minister": 1200000, "ambassador": 950000, "permanent_representative": 900000,
	"department_director": 780000, "consul_general": 700000, "minister_counsellor": 650000, "counsellor": 560000,
	"first_secretary": 470000, "second_secretary": 410000, "third_secretary": 360000, "attache": 320000,
	"diplomatic_courier": 340000, "registry_officer": 260000, "accountant": 280000, "driver": 220000}

// loadPersonnelEntitlements records this year's reference values, a duty
// injury abroad, a retired ambassador (a veteran) and a rank-payment
// decision; it does nothing when this year's values are there.
func loadPersonnelEntitlements(ctx context.Context, pool *pgxpool.Pool, _ Options) error {
	today := personnel.Today(time.Now())
	year := personnel.D(today.Year(), time.January, 1)
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM entitlement_reference WHERE kind = 'mci' AND valid_from = $1)`, year).Scan(&exists); err != nil || exists {
		return err
	}
	svc := personnel.New(pool)
	by := policy.Subject{Username: "demo"}
	trust := func(context.Context, string, policy.Resource) error { return nil } // the loader is trusted
	change := func(reason string) personnel.Change {
		return personnel.Change{Reason: reason, Act: personnel.Act{Number: "Demo act " + reason, Date: year.AddDate(0, 0, -10)}}
	}
	add := func(kind, code, value, reason string) error {
		_, err := svc.AddEntitlementReference(ctx, trust, by, kind, code, personnel.EntRefInput{ValidFrom: year, Value: json.RawMessage(value), Change: change(reason)})
		if err != nil {
			return fmt.Errorf("reference %s/%s: %w", kind, code, err)
		}
		return nil
	}
	for _, r := range demoEntitlementRefs {
		if err := add(r.kind, r.code, r.value, r.reason); err != nil {
			return err
		}
	}
	for pos, base := range demoSalaries {
		v := fmt.Sprintf(`{"steps":[{"from_years":0,"amount":"%d"},{"from_years":5,"amount":"%d"},{"from_years":10,"amount":"%d"},{"from_years":15,"amount":"%d"}]}`,
			base, base*110/100, base*120/100, base*130/100)
		if err := add("official_salary", pos, v, "official salary by length of service, single pay system (demo placeholder)"); err != nil {
			return err
		}
	}
	for r := 1; r <= 11; r++ {
		if err := add("payment", fmt.Sprintf("rank_%d", r), fmt.Sprintf(`{"mci":"%d"}`, 4+2*r), "Government decree on the rank payment (demo placeholder)"); err != nil {
			return err
		}
	}
	staffID := func(number string) (string, error) {
		var id string
		return id, pool.QueryRow(ctx, `SELECT id::text FROM staff WHERE personnel_number = $1`, number).Scan(&id)
	}
	// The courier, injured abroad on a run (HR-41 tracks the date).
	courier, err := staffID(DemoInjuredStaff)
	if err != nil {
		return fmt.Errorf("courier: %w", err)
	}
	if _, err := svc.RecordIncident(ctx, trust, by, courier, personnel.IncidentInput{Kind: "injury", Severity: "severe",
		OccurredOn: today.AddDate(0, -2, 0), Country: "DE", Description: "injured in a road accident while carrying the mail to Berlin",
		Change: change("duty injury report")}); err != nil {
		return fmt.Errorf("duty injury: %w", err)
	}
	// A former counsellor and ambassador, retired three years ago with the Ambassador rank.
	vet, err := svc.Admit(ctx, trust, by, personnel.AdmissionInput{PersonnelNumber: DemoVeteranStaff, FullName: "Bolat Veteranov",
		BirthDate: today.AddDate(-66, -2, 0), Citizenships: []string{"KZ"},
		Languages: []personnel.Language{{Language: "kk", Level: "native"}, {Language: "ru", Level: "C2"}, {Language: "de", Level: "C1"}},
		Education: []personnel.Education{{Level: "specialist", Institution: "Kazakh State University", Year: today.Year() - 44}},
		Health:    personnel.Clearance{Result: "positive", Date: today.AddDate(-24, 0, -20)}, SpecialCheck: personnel.Clearance{Result: "positive", Date: today.AddDate(-24, 0, -10)},
		FirstEntry: true, Appointment: personnel.AppointmentInput{Position: "counsellor", Unit: UnitMFA, StartDate: today.AddDate(-24, 0, 0), Authority: "minister"},
		Change: change("admission")})
	if err != nil {
		return fmt.Errorf("veteran: %w", err)
	}
	if _, err := svc.Appoint(ctx, trust, by, vet.ID, personnel.AppointInput{AppointmentInput: personnel.AppointmentInput{Position: "ambassador",
		Unit: UnitBerlin, StartDate: today.AddDate(-14, 0, 0), Authority: "president"}, Change: change("appointment")}); err != nil {
		return fmt.Errorf("veteran appointment: %w", err)
	}
	if _, err := svc.ChangeRank(ctx, trust, by, vet.ID, personnel.RankInput{Change: personnel.RankAssign, Rank: 11, EffectiveDate: today.AddDate(-10, 0, 0),
		Authority: "president", Submission: &personnel.Act{Number: "Minister's submission " + DemoVeteranStaff, Date: today.AddDate(-10, 0, -14)},
		ChangeInfo: change("rank")}); err != nil {
		return fmt.Errorf("veteran rank: %w", err)
	}
	if _, err := svc.Terminate(ctx, trust, by, vet.ID, personnel.TerminationInput{Ground: "own_resignation", EffectiveDate: today.AddDate(-3, 0, 0),
		Authority: "president", Change: change("retirement")}); err != nil {
		return fmt.Errorf("veteran retirement: %w", err)
	}
	// A recorded decision: the attaché's rank payment (HR-45).
	attache, err := staffID(DemoShortStaff)
	if err != nil {
		return err
	}
	if _, err := svc.RecordEntitlement(ctx, trust, by, attache, personnel.RecordEntitlementInput{EntitlementInput: personnel.EntitlementInput{
		Kind: personnel.EntPayment, Payment: personnel.PayRank, On: today}, Change: change("rank payment")}); err != nil {
		return fmt.Errorf("rank payment: %w", err)
	}
	return nil
}
