package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"valise/personnel"
	"valise/policy"
)

// DemoSecondedStaff is the department director seconded under R1 whose term ends in three weeks.
const DemoSecondedStaff = "D-024"

// loadSecondments files one secondment under each rule set of Decree 755,
// driven through the personnel service so each has its real events:
//   - R1: a department director seconded to a ministry, serving, the term ending in three weeks;
//   - R2: a Ministry of Finance civil servant sent to the embassy in Berlin three weeks ago, KPIs due;
//   - R3: a civil servant of the Ministry of Justice proposed to the MFA, the MFA's decision due.
//
// It does nothing when they exist.
func loadSecondments(ctx context.Context, pool *pgxpool.Pool, _ Options) error {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM secondments)`).Scan(&exists); err != nil || exists {
		return err
	}
	var staffID string
	if err := pool.QueryRow(ctx, `SELECT id FROM staff WHERE personnel_number = $1`, DemoSecondedStaff).Scan(&staffID); err != nil {
		return fmt.Errorf("seconded staff: %w", err)
	}
	svc := personnel.New(pool)
	by := policy.Subject{Username: "demo"}
	trust := func(context.Context, string, policy.Resource) error { return nil } // the loader is trusted
	today := personnel.Today(time.Now())
	act := func(n string, d personnel.Date) personnel.Change {
		return personnel.Change{Reason: "demo: " + n, Act: personnel.Act{Number: n, Date: d}}
	}
	docs := func(d personnel.Date) []personnel.Doc {
		var out []personnel.Doc
		for i, k := range []string{"justified_letter", "nomination", "biography", "service_record", "written_consent"} {
			out = append(out, personnel.Doc{Kind: k, Number: fmt.Sprintf("S-%d", i+1), Date: d})
		}
		return out
	}
	effective := func(on personnel.Date) []personnel.Assessment {
		return []personnel.Assessment{{Year: on.Year() - 1, Result: "effective"}, {Year: on.Year() - 2, Result: "effective"}}
	}
	step := func(id, name string, in personnel.StepInput) error {
		if in.Reason == "" {
			in.Change = act(name, in.On)
		}
		_, err := svc.RecordStep(ctx, trust, by, id, name, in)
		if err != nil {
			return fmt.Errorf("secondment %s: %w", name, err)
		}
		return nil
	}

	// R1.
	on := today.AddDate(0, -10, 0)
	recv := personnel.Body{Name: "Ministry of Trade and Integration", Kind: personnel.BodyCentralExecutive}
	s1, err := svc.Propose(ctx, trust, by, personnel.SecondmentInput{RuleSet: personnel.RuleR1, StaffID: staffID, Receiving: recv,
		Position: personnel.TargetPosition{Title: "Director of the Department of Trade Policy", Vacant: true}, On: on, Documents: docs(on),
		Facts:  personnel.Facts{Assessments: effective(on), QualificationsMet: true, Consent: &personnel.Consent{To: recv.Name, Date: on.AddDate(0, 0, -7)}},
		Change: act("MFA letter 12-1/2041", on)})
	if err != nil {
		return fmt.Errorf("secondment R1: %w", err)
	}
	start := on.AddDate(0, 2, 0)
	for _, x := range []struct {
		name string
		in   personnel.StepInput
	}{
		{"receiver_decision", personnel.StepInput{On: on.AddDate(0, 0, 7), Outcome: "agreed"}},
		{"coordination_submitted", personnel.StepInput{On: on.AddDate(0, 0, 9), Coordinator: "prime_minister",
			Documents: []personnel.Doc{{Kind: "receiver_letter_copy", Number: "MTI 04-11", Date: on.AddDate(0, 0, 7)}}}},
		{"coordination_decision", personnel.StepInput{On: on.AddDate(0, 1, 0), Outcome: "agreed", Coordinator: "prime_minister"}},
		{"appointment_confirmed", personnel.StepInput{On: on.AddDate(0, 1, 2), StartDate: start}},
		{"order_issued", personnel.StepInput{On: on.AddDate(0, 1, 4), StartDate: start, TermEnd: today.AddDate(0, 0, 21)}},
		{"order_dispatched", personnel.StepInput{On: on.AddDate(0, 1, 8)}},
	} {
		if err := step(s1.ID, x.name, x.in); err != nil {
			return err
		}
	}

	// R2.
	on = today.AddDate(0, -5, 0)
	s2, err := svc.Propose(ctx, trust, by, personnel.SecondmentInput{RuleSet: personnel.RuleR2,
		Person:   &personnel.ExternalPerson{FullName: "Dauren Tulegenov", BirthDate: personnel.D(1986, 5, 14), Category: personnel.PersonCivilServant},
		Sending:  personnel.Body{Name: "Ministry of Finance", Kind: personnel.BodyState},
		Position: personnel.TargetPosition{Title: "Counsellor (financial affairs)", Vacant: true, Unit: UnitBerlin, Code: "counsellor"},
		On:       on, Documents: docs(on),
		Facts: personnel.Facts{ServiceSince: on.AddDate(-7, 0, 0), Assessments: effective(on), QualificationsMet: true,
			Consent:            &personnel.Consent{To: UnitBerlin, Date: on.AddDate(0, 0, -5)},
			FirstHeadAgreement: &personnel.Act{Number: "MinFin 01-2/88", Date: on.AddDate(0, 0, -3)}},
		Change: act("Ministry of Finance letter 01-2/90", on)})
	if err != nil {
		return fmt.Errorf("secondment R2: %w", err)
	}
	sent := today.AddDate(0, 0, -21)
	for _, x := range []struct {
		name string
		in   personnel.StepInput
	}{
		{"review_done", personnel.StepInput{On: on.AddDate(0, 0, 14), DocumentsChecked: true, Interview: &personnel.Clearance{Result: "prepared", Date: on.AddDate(0, 0, 12)}}},
		{"mfa_decision", personnel.StepInput{On: on.AddDate(0, 0, 20), Outcome: "agreed"}},
		{"pa_submitted", personnel.StepInput{On: on.AddDate(0, 0, 22), Documents: []personnel.Doc{{Kind: "mfa_letter_copy", Number: "MFA 12-1/2210", Date: on.AddDate(0, 0, 20)}}}},
		{"presidential_decision", personnel.StepInput{On: on.AddDate(0, 2, 0), Outcome: "agreed", DecidedBy: "head_of_presidential_administration",
			Authorization: &personnel.Act{Number: "President's authorisation 77", Date: personnel.D(2024, 1, 15)}}},
		{"mfa_order", personnel.StepInput{On: on.AddDate(0, 2, 2), StartDate: sent, TermEnd: sent.AddDate(3, 0, 0),
			Change: act("MFA order 455-l/s", on.AddDate(0, 2, 2))}},
		{"sending_body_order", personnel.StepInput{On: on.AddDate(0, 2, 9), MFAOrder: &personnel.Act{Number: "MFA order 455-l/s", Date: on.AddDate(0, 2, 2)}}},
		{"dispatched", personnel.StepInput{On: sent}},
	} {
		if err := step(s2.ID, x.name, x.in); err != nil {
			return err
		}
	}

	// R3: into the MFA (the MFA is the receiving central executive body).
	on = today.AddDate(0, 0, -6)
	_, err = svc.Propose(ctx, trust, by, personnel.SecondmentInput{RuleSet: personnel.RuleR3, Unit: UnitMFA,
		Person:    &personnel.ExternalPerson{FullName: "Aigerim Satpayeva", BirthDate: personnel.D(1990, 9, 2), Category: personnel.PersonCivilServant},
		Sending:   personnel.Body{Name: "Ministry of Justice", Kind: personnel.BodyState},
		Receiving: personnel.Body{Name: "Ministry of Foreign Affairs", Kind: personnel.BodyCentralExecutive},
		Position:  personnel.TargetPosition{Title: "Chief expert, Department of International Law", Vacant: true},
		On:        on, Documents: docs(on),
		Facts: personnel.Facts{ServiceSince: on.AddDate(-4, 0, 0), Assessments: effective(on), QualificationsMet: true,
			Consent:            &personnel.Consent{To: "Ministry of Foreign Affairs", Date: on.AddDate(0, 0, -4)},
			FirstHeadAgreement: &personnel.Act{Number: "MoJ 3-11/204", Date: on.AddDate(0, 0, -2)}},
		Change: act("Ministry of Justice letter 3-11/207", on)})
	if err != nil {
		return fmt.Errorf("secondment R3: %w", err)
	}
	return nil
}
