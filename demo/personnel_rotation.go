package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"valise/personnel"
	"valise/policy"
)

// demoHolidays are the fixed-date public holidays of the Republic of
// Kazakhstan (Labour Code; the movable Kurban Ait is left to the officers).
// A holiday on a Saturday or Sunday moves its day off to the next working
// day, as the Labour Code provides.
var demoHolidays = []struct {
	month time.Month
	day   int
	name  string
}{
	{time.January, 1, "New Year"}, {time.January, 2, "New Year"}, {time.January, 7, "Orthodox Christmas"},
	{time.March, 8, "International Women's Day"}, {time.March, 21, "Nauryz"}, {time.March, 22, "Nauryz"},
	{time.March, 23, "Nauryz"}, {time.May, 1, "Unity Day"}, {time.May, 7, "Defender of the Fatherland Day"},
	{time.May, 9, "Victory Day"}, {time.July, 6, "Capital Day"}, {time.August, 30, "Constitution Day"},
	{time.October, 25, "Republic Day"}, {time.December, 16, "Independence Day"},
}

// loadCalendar records this year's and next year's public holidays (days
// off), through the service so each has its change row.
func loadCalendar(ctx context.Context, pool *pgxpool.Pool) error {
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM public_holidays`).Scan(&n); err != nil || n > 0 {
		return err
	}
	svc := personnel.New(pool)
	by := policy.Subject{Username: "demo"}
	trust := func(context.Context, string, policy.Resource) error { return nil }
	year := time.Now().UTC().Year()
	for _, y := range []int{year, year + 1} {
		taken := map[string]bool{}
		for _, h := range demoHolidays {
			d := time.Date(y, h.month, h.day, 0, 0, 0, 0, time.UTC)
			name := h.name
			for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday || taken[d.Format(time.DateOnly)] {
				if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
					name = h.name + " (day off moved from " + time.Date(y, h.month, h.day, 0, 0, 0, 0, time.UTC).Format("2 January") + ")"
				}
				d = d.AddDate(0, 0, 1)
			}
			taken[d.Format(time.DateOnly)] = true
			in := personnel.CalendarDayInput{Kind: personnel.DayHoliday, Name: name, Change: personnel.Change{
				Reason: "public holiday (Labour Code, Law on holidays)",
				Act:    personnel.Act{Number: fmt.Sprintf("Demo calendar %d", y), Date: personnel.D(y-1, time.December, 1)}}}
			if _, err := svc.SetCalendarDay(ctx, trust, by, d.Format(time.DateOnly), in); err != nil {
				return fmt.Errorf("holiday %s: %w", d.Format(time.DateOnly), err)
			}
		}
	}
	return nil
}

// Demo people of the rotation part (R-…), named in docs/personnel.md.
const (
	DemoTermEnding   = "R-001" // posted to Berlin; the 3-year term ends in two months; pregnant: recall by week 26 due in two weeks
	DemoExtended     = "R-002" // posted to Tokyo; extended by the Minister, ends in about three months
	DemoAttestation  = "R-003" // back from Istanbul five months ago, appointed; attestation due in about two weeks
	DemoJustReturned = "R-004" // back from Berlin a few days ago: the notice of return is due
	DemoCandidate    = "R-005" // in the plan as a candidate; an out-of-plan case with documents missing
)

// loadPersonnelRotation: the working-day calendar, postings near their
// term end, an extension, a return awaiting attestation, a return awaiting
// its notice, next year's plan in unit review and a case missing documents,
// so the personnel alerts fire.
func loadPersonnelRotation(ctx context.Context, pool *pgxpool.Pool, _ Options) error {
	if err := loadCalendar(ctx, pool); err != nil {
		return err
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM staff WHERE personnel_number = $1)`, DemoTermEnding).Scan(&exists); err != nil || exists {
		return err
	}
	svc := personnel.New(pool)
	by := policy.Subject{Username: "demo"}
	trust := func(context.Context, string, policy.Resource) error { return nil }
	today := personnel.Today(time.Now())
	change := func(reason string) personnel.Change {
		return personnel.Change{Reason: reason, Act: personnel.Act{Number: "Demo order " + reason, Date: today.AddDate(-6, 0, 0)}}
	}
	admit := func(number, name, position string, admitted personnel.Date) (string, error) {
		st, err := svc.Admit(ctx, trust, by, personnel.AdmissionInput{
			PersonnelNumber: number, FullName: name, BirthDate: admitted.AddDate(-27, 0, 0), Citizenships: []string{"KZ"},
			Languages:    []personnel.Language{{Language: "kk", Level: "native"}, {Language: "ru", Level: "C2"}, {Language: "en", Level: "C1"}},
			Education:    []personnel.Education{{Level: "master", Institution: "Al-Farabi Kazakh National University", Year: admitted.Year() - 1}},
			Health:       personnel.Clearance{Result: "positive", Date: admitted.AddDate(0, 0, -20)},
			SpecialCheck: personnel.Clearance{Result: "positive", Date: admitted.AddDate(0, 0, -10)},
			FirstEntry:   true,
			Appointment:  personnel.AppointmentInput{Position: position, Unit: UnitMFA, StartDate: admitted, Authority: "minister"},
			Change:       change("admission")})
		if err != nil {
			return "", fmt.Errorf("admit %s: %w", number, err)
		}
		return st.ID, nil
	}
	post := func(id, position, unit string, start personnel.Date) (personnel.Posting, error) {
		return svc.StartPosting(ctx, trust, by, id, personnel.PostingInput{Kind: personnel.PostingForeign, Change: change("posting"),
			Appointment: &personnel.AppointmentInput{Position: position, Unit: unit, StartDate: start, Authority: "minister"}})
	}
	home := func(id, postingID, position string, on personnel.Date) error {
		_, err := svc.AppointAfterReturn(ctx, trust, by, id, postingID, personnel.HomeAppointInput{Change: change("appointment after return"),
			AppointmentInput: personnel.AppointmentInput{Position: position, Unit: UnitMFA, StartDate: on, Authority: "minister"}})
		return err
	}
	notice := func(id, postingID, institution string, on personnel.Date) error {
		_, err := svc.SubmitNotice(ctx, trust, by, id, postingID, personnel.NoticeInput{Date: on, Addressee: "Minister of Foreign Affairs",
			Institution: institution, Address: "Astana, Mangilik El 8", Phone: "+7 7172 720000", Email: "personnel@mfa.example.kz",
			BasisOrder: personnel.Act{Number: "Demo release order", Date: on.AddDate(0, -1, 0)}, Change: change("notice of return")})
		return err
	}
	// three years in Berlin ending in two months.
	r1, err := admit(DemoTermEnding, "Dana Ospanova", "third_secretary", today.AddDate(-6, 0, 0))
	if err != nil {
		return err
	}
	p1, err := post(r1, "third_secretary", UnitBerlin, today.AddDate(-3, 2, 0))
	if err != nil {
		return fmt.Errorf("posting %s: %w", DemoTermEnding, err)
	}
	// R-001 is pregnant (certified a week ago at 23 weeks): the R§31 recall
	// by week 26 is due in two weeks.
	if _, err := svc.RecordPregnancy(ctx, trust, by, r1, p1.ID, personnel.PregnancyInput{CertifiedOn: today.AddDate(0, 0, -7), Weeks: 23,
		Change: change("pregnancy certificate")}); err != nil {
		return fmt.Errorf("pregnancy %s: %w", DemoTermEnding, err)
	}
	// Tokyo, term ended, extended by the Minister for service needs.
	r2, err := admit(DemoExtended, "Nurlan Kassymov", "second_secretary", today.AddDate(-8, 0, 0))
	if err != nil {
		return err
	}
	p2, err := post(r2, "second_secretary", UnitTokyo, today.AddDate(-3, -6, 0))
	if err != nil {
		return fmt.Errorf("posting %s: %w", DemoExtended, err)
	}
	if _, err := svc.Extend(ctx, trust, by, r2, p2.ID, personnel.ExtensionInput{Until: today.AddDate(0, 3, 0), Authority: "minister",
		ServiceNeed: "the Astana International Forum delegation", Change: change("extension")}); err != nil {
		return fmt.Errorf("extension: %w", err)
	}
	// back from Istanbul five and a half months ago, appointed; the attestation is due.
	r3, err := admit(DemoAttestation, "Saule Akhmetova", "first_secretary", today.AddDate(-9, 0, 0))
	if err != nil {
		return err
	}
	p3, err := post(r3, "first_secretary", UnitIstanbul, today.AddDate(-4, 0, 0))
	if err != nil {
		return fmt.Errorf("posting %s: %w", DemoAttestation, err)
	}
	back := today.AddDate(0, -6, 14)
	if _, err := svc.Return(ctx, trust, by, r3, p3.ID, personnel.PostingReturnInput{ReturnedOn: back, Change: change("return")}); err != nil {
		return fmt.Errorf("return: %w", err)
	}
	if err := notice(r3, p3.ID, "Consulate General in Istanbul", back.AddDate(0, 0, 2)); err != nil {
		return fmt.Errorf("notice: %w", err)
	}
	if err := home(r3, p3.ID, "first_secretary", back.AddDate(0, 1, 0)); err != nil {
		return fmt.Errorf("home appointment: %w", err)
	}
	// back from Berlin a few days ago; the notice of return is due.
	r4, err := admit(DemoJustReturned, "Arman Zhaksylykov", "attache", today.AddDate(-5, 0, 0))
	if err != nil {
		return err
	}
	p4, err := post(r4, "attache", UnitBerlin, today.AddDate(-3, 0, -2))
	if err != nil {
		return fmt.Errorf("posting %s: %w", DemoJustReturned, err)
	}
	// Back a few days ago: late enough that the notice's 5-working-day
	// deadline (R§10) falls within the alert's default 3-day lead today,
	// whatever the weekday or holidays.
	rc, err := personnel.LoadCalendar(ctx, pool)
	if err != nil {
		return err
	}
	returned := today.AddDate(0, 0, -1)
	for i := 1; i <= 14; i++ {
		d := today.AddDate(0, 0, -i)
		if due := personnel.NoticeDeadline(rc, d); due.Before(today) {
			break
		} else if !due.After(today.AddDate(0, 0, 3)) {
			returned = d
			break
		}
	}
	if _, err := svc.Return(ctx, trust, by, r4, p4.ID, personnel.PostingReturnInput{ReturnedOn: returned, Change: change("return")}); err != nil {
		return fmt.Errorf("return: %w", err)
	}
	// a candidate; and an out-of-plan case for a minister-counsellor post, documents missing.
	r5, err := admit(DemoCandidate, "Aigerim Tulegenova", "counsellor", today.AddDate(-7, 0, 0))
	if err != nil {
		return err
	}
	c, err := svc.OpenRotationCase(ctx, trust, by, r5, personnel.CaseOpenInput{Direction: "outbound", OutOfPlan: "business_necessity",
		Position: "minister_counsellor", Unit: UnitTokyo, Change: change("rotation case")})
	if err != nil {
		return fmt.Errorf("case: %w", err)
	}
	for _, to := range []string{"in_plan", "training_exempt", "appointed"} {
		if _, err := svc.TransitionCase(ctx, trust, by, r5, c.ID, personnel.CaseTransitionInput{To: to, On: today.AddDate(0, 0, -5), Change: change(to)}); err != nil {
			return fmt.Errorf("case %s: %w", to, err)
		}
	}
	for _, code := range []string{"personal_sheet", "autobiography", "education_doc", "medical_cert_abroad"} {
		if _, err := svc.RecordDocument(ctx, trust, by, r5, c.ID, personnel.DocumentInput{Code: code, Holder: "officer", Status: "received",
			ReceivedOn: today.AddDate(0, 0, -3), Change: change("document")}); err != nil {
			return fmt.Errorf("document: %w", err)
		}
	}
	// Next year's plan, with the units reviewing the draft since three days.
	plan, err := svc.CreatePlan(ctx, trust, by, personnel.PlanInput{Year: today.Year() + 1, Change: change("rotation plan")})
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	for _, e := range []personnel.PlanEntryInput{
		{Unit: UnitBerlin, StaffID: r1, PlannedRotation: "June", MinistryProposal: "Third Secretary, Department of Europe", Candidates: []string{r5}},
		{Unit: UnitTokyo, StaffID: r2, PlannedRotation: "July", ExtensionTerm: "extended to " + today.AddDate(0, 3, 0).String(), MinistryProposal: "Second Secretary, Department of Asia"},
	} {
		e.Change = change("plan entry")
		if _, err := svc.AddPlanEntry(ctx, trust, by, plan.ID, e); err != nil {
			return fmt.Errorf("plan entry: %w", err)
		}
	}
	if _, err := svc.TransitionPlan(ctx, trust, by, plan.ID, personnel.PlanTransitionInput{To: "drafting", On: today.AddDate(0, 0, -10), Change: change("drafting")}); err != nil {
		return err
	}
	for _, u := range []string{UnitBerlin, UnitTokyo} {
		if _, err := svc.SetPlanUnit(ctx, trust, by, plan.ID, personnel.PlanUnitInput{Unit: u, DraftReceived: today.AddDate(0, 0, -3), Change: change("draft sent")}); err != nil {
			return err
		}
	}
	_, err = svc.TransitionPlan(ctx, trust, by, plan.ID, personnel.PlanTransitionInput{To: "unit_review", On: today.AddDate(0, 0, -3), Change: change("unit review")})
	return err
}
