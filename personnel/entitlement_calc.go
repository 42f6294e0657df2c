package personnel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
)

// ---- the computation ----------------------------------------------------------------------------

// calc is one computation over one record, in one transaction.
type calc struct {
	ctx        context.Context
	q          db.Querier
	id         string
	in         EntitlementInput
	c          *Computation
	birth      Date
	terminated Date
	positions  []heldPosition
}

type heldPosition struct {
	code, title, category, staffKind, unit, unitKind string
	start, end                                       Date
}

func (h heldPosition) on(d Date) bool {
	return !d.Before(h.start) && (h.end.IsZero() || !d.After(h.end))
}

var foreignUnitKinds = []string{"embassy", "consulate", "permanent_mission"}

// entitlementKind is a kind's rule, article, title and computation.
type entitlementKind struct {
	rule, article, title string
	run                  func(*calc) error
}

var entitlementMeta = map[string]entitlementKind{
	EntDeathInDuty:     {"HR-40", "25(9)", "One-time compensation: death in the line of duty abroad", (*calc).deathInDuty},
	EntDisability:      {"HR-40", "25(12)", "One-time compensation: disability from a duty injury or illness abroad", (*calc).disability},
	EntDutyInjury:      {"HR-40", "25(13)", "One-time compensation: injury in the line of duty abroad without disability", (*calc).dutyInjury},
	EntBurial:          {"HR-40", "26(1)", "One-time burial allowance", (*calc).burial},
	EntDeathAllowance:  {"HR-43", "25(1) part 4", "One-time allowance: death while working at a foreign institution", (*calc).deathAllowance},
	EntFamilyRetention: {"HR-42", "25(10)", "Accompanying family keep the Art. 25 guarantees after a death", (*calc).familyRetention},
	EntAnnualLeave:     {"HR-44", "30, 25(4)", "Annual paid leave, health-improvement allowance and leave travel", (*calc).annualLeave},
	EntPayment:         {"HR-45", "29", "Cash payment", (*calc).payment},
	EntVeteran:         {"HR-46", "1(7), 29-1", "Veteran of the diplomatic service and the veterans' monthly payment", (*calc).veteran},
}

func (s *Service) compute(ctx context.Context, q db.Querier, id string, in EntitlementInput) (Computation, error) {
	meta, ok := entitlementMeta[in.Kind]
	if !ok {
		return Computation{}, refusal("the computation is invalid", fe("kind", fmt.Sprintf("one of %v", EntitlementKinds)))
	}
	if in.On.IsZero() {
		in.On = Today(s.now())
	}
	c := &Computation{Kind: in.Kind, Rule: meta.rule, Article: meta.article, Title: meta.title, StaffID: id, On: in.On,
		Inputs: []Input{}, Conditions: []Condition{}, Factors: []Factor{}, References: []RefUsed{}, Arithmetic: []string{}, Notes: []string{}}
	k := &calc{ctx: ctx, q: q, id: id, in: in, c: c}
	var term *Date
	if err := q.QueryRow(ctx, `SELECT personnel_number, full_name, birth_date, terminated_on FROM staff WHERE id = $1`, id).Scan(
		&c.PersonnelNumber, &c.FullName, &k.birth, &term); err != nil {
		return *c, err
	}
	if term != nil {
		k.terminated = *term
	}
	rows, err := q.Query(ctx, `SELECT p.position_code, p.title, p.category, p.staff_kind, u.code, u.kind, p.start_date, p.end_date
		FROM staff_positions p JOIN units u ON u.id = p.unit_id WHERE p.staff_id = $1 ORDER BY p.start_date`, id)
	if err != nil {
		return *c, err
	}
	if k.positions, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (heldPosition, error) {
		var h heldPosition
		err := row.Scan(&h.code, &h.title, &h.category, &h.staffKind, &h.unit, &h.unitKind, &h.start, &h.end)
		return h, err
	}); err != nil {
		return *c, err
	}
	if fs := k.validate(); len(fs) > 0 {
		return *c, refusal("the computation is invalid", fs...)
	}
	if in.Payee != nil {
		c.Payee = in.Payee
	}
	err = meta.run(k)
	return *c, err
}

// validate checks the request's shape for its kind: what is missing or
// malformed is a 422 that changes nothing.
func (k *calc) validate() []valise.FieldError {
	in := k.in
	var fs []valise.FieldError
	need := func(ok bool, field, why string) {
		if !ok {
			fs = append(fs, fe(field, why))
		}
	}
	deathKinds := []string{EntDeathInDuty, EntBurial, EntDeathAllowance, EntFamilyRetention}
	if slices.Contains(deathKinds, in.Kind) {
		need(!in.DiedOn.IsZero(), "died_on", "required: the date of death")
		need(in.DiedOn.IsZero() || !in.DiedOn.After(in.On), "died_on", "must be on or before the accrual date (on)")
	} else if !in.DiedOn.IsZero() {
		fs = append(fs, fe("died_on", "only for death_in_duty, burial, death_allowance and family_retention"))
	}
	incidentKinds := []string{EntDeathInDuty, EntDisability, EntDutyInjury}
	if slices.Contains(incidentKinds, in.Kind) {
		need(db.ValidUUID(in.IncidentID), "incident_id", "required: the duty incident abroad (POST /staff/{id}/duty-incidents)")
	} else {
		need(in.IncidentID == "", "incident_id", "only for death_in_duty, disability and duty_injury")
		// HR-40: the Art. 25(14) block is for 25(9), (12) and (13) only.
		need(in.UnrelatedToDuties == nil, "unrelated_to_duties", "Art. 25(14) applies only to the amounts of Art. 25(9), (12) and (13)")
	}
	if u := in.UnrelatedToDuties; u != nil {
		need(strings.TrimSpace(u.Number) != "" && !u.Date.IsZero(), "unrelated_to_duties", "the act that established it: {number, date}")
	}
	if in.Kind == EntDeathInDuty {
		need(in.Cause == "killed_on_duty" || in.Cause == "died_of_injury", "cause", "killed_on_duty or died_of_injury (Art. 25(9))")
	} else {
		need(in.Cause == "", "cause", "only for death_in_duty")
	}
	if in.Kind == EntDisability {
		_, ok := DisabilityMultipliers[in.DisabilityGroup]
		need(ok, "disability_group", "1, 2 or 3 (Art. 25(12))")
		need(!in.DisabilityEstablishedOn.IsZero() && !in.DisabilityEstablishedOn.After(in.On), "disability_established_on",
			"required: the date the disability was established, on or before the accrual date")
	} else {
		need(in.DisabilityGroup == 0 && in.DisabilityEstablishedOn.IsZero(), "disability_group", "only for disability")
	}
	if in.Kind == EntBurial {
		need(in.FamilyMemberID == "" || db.ValidUUID(in.FamilyMemberID), "family_member_id", "the id of a family member of this record")
	} else {
		need(in.FamilyMemberID == "" && !in.DiedAbroad, "family_member_id", "family_member_id and died_abroad are only for burial")
	}
	if in.Kind == EntDeathAllowance {
		need(in.AverageMonthlyWage != nil && *in.AverageMonthlyWage > 0, "average_monthly_wage",
			"required: the deceased's average monthly wage, as computed under the labour legislation")
	} else {
		need(in.AverageMonthlyWage == nil, "average_monthly_wage", "only for death_allowance")
	}
	if in.Kind == EntFamilyRetention {
		need(in.EndsOn.IsZero() || !in.EndsOn.Before(in.DiedOn), "ends_on", "on or after the date of death")
	} else {
		need(in.EndsOn.IsZero(), "ends_on", "only for family_retention")
	}
	if in.Kind == EntAnnualLeave {
		need(!in.LeaveStart.IsZero(), "leave_start", "required: the first day of the regular leave")
	} else {
		need(in.LeaveStart.IsZero(), "leave_start", "only for annual_leave")
	}
	if in.Kind == EntPayment {
		need(slices.Contains([]string{PayRareLanguage, PayStateSecrets, PayRepresentation, PayRank}, in.Payment), "payment",
			"one of rare_language, state_secrets, representation_attire, rank (Art. 29)")
		need((in.Payment == PayRareLanguage) == (in.Language != ""), "language", "required for rare_language, and only for it")
		need(in.Language == "" || langRe.MatchString(in.Language), "language", "an ISO 639-1 code")
	} else {
		need(in.Payment == "" && in.Language == "", "payment", "payment and language are only for kind payment")
	}
	if in.Kind == EntVeteran {
		need(in.TotalExperienceYears != nil && *in.TotalExperienceYears >= 0 && *in.TotalExperienceYears <= 80, "total_experience_years",
			"required: full years of total work experience (0-80), from the labour record (Art. 1(7))")
		need(refCodeRe.MatchString(in.RetirementAge), "retirement_age", "required: the retirement_age reference code that applies to the person")
	} else {
		need(in.TotalExperienceYears == nil && in.RetirementAge == "", "total_experience_years", "only for veteran")
	}
	need(in.OtherServiceYears >= 0 && in.OtherServiceYears <= 60, "other_service_years", "0-60")
	need(in.LastMFAPosition == "" || refCodeRe.MatchString(in.LastMFAPosition), "last_mfa_position", "a position code")
	if p := in.Payee; p != nil {
		need(strings.TrimSpace(p.FullName) != "", "payee.full_name", "required")
		want := []string{"spouse", "close_relative"}
		if in.Kind == EntBurial {
			want = []string{"family_member"}
		}
		switch in.Kind {
		case EntDeathInDuty, EntDeathAllowance, EntBurial:
			need(slices.Contains(want, p.Relation), "payee.relation", fmt.Sprintf("one of %v", want))
		default:
			fs = append(fs, fe("payee", "this amount is paid to the staff member; no payee"))
		}
	}
	return fs
}

func (k *calc) input(name string, v any, source string) {
	k.c.Inputs = append(k.c.Inputs, Input{Name: name, Value: v, Source: source})
}

func (k *calc) cond(rule string, met bool, format string, args ...any) bool {
	k.c.Conditions = append(k.c.Conditions, Condition{Rule: rule, Text: fmt.Sprintf(format, args...), Met: met})
	return met
}

func (k *calc) step(format string, args ...any) {
	k.c.Arithmetic = append(k.c.Arithmetic, fmt.Sprintf(format, args...))
}

func (k *calc) note(format string, args ...any) {
	k.c.Notes = append(k.c.Notes, fmt.Sprintf(format, args...))
}

func (k *calc) allMet() bool {
	return !slices.ContainsFunc(k.c.Conditions, func(c Condition) bool { return !c.Met })
}

// pay sets the outcome from the conditions: not entitled (amount 0) when
// one fails, else payable with amount.
func (k *calc) pay(amount func() (Money, error)) error {
	k.c.Currency = "KZT"
	if !k.allMet() {
		k.c.Outcome = OutcomeNotEntitled
		zero := Money(0)
		k.c.Amount = &zero
		k.step("a condition is not met: nothing is payable")
		return nil
	}
	m, err := amount()
	if err != nil {
		return err
	}
	k.c.Outcome, k.c.Amount = OutcomePayable, &m
	return nil
}

// block applies Art. 25(14) when the request names the act establishing
// that the death, illness or injury was unrelated to official duties.
func (k *calc) block() bool {
	u := k.in.UnrelatedToDuties
	if u == nil {
		k.c.Factors = append(k.c.Factors, Factor{Kind: "block", Name: "unrelated to official duties", Value: "not established", Article: "25(14)"})
		return false
	}
	k.input("unrelated_to_duties", *u, "request")
	k.c.Factors = append(k.c.Factors, Factor{Kind: "block", Name: "unrelated to official duties",
		Value: fmt.Sprintf("established by %s of %s", u.Number, u.Date), Article: "25(14)"})
	zero := Money(0)
	k.c.Outcome, k.c.Amount, k.c.Currency = OutcomeBlocked, &zero, "KZT"
	k.step("Art. 25(14): established (%s of %s) that it was unrelated to official duties: the amount is not paid = 0.00", u.Number, u.Date)
	return true
}

func (k *calc) incident() (Incident, error) {
	var x Incident
	err := scanIncident(k.q.QueryRow(k.ctx, `SELECT `+incidentCols+` FROM duty_incidents WHERE id = $1 AND staff_id = $2`, k.in.IncidentID, k.id), &x)
	if errors.Is(err, pgx.ErrNoRows) {
		return x, refusal("the computation is invalid", fe("incident_id", "no duty incident of this record has this id"))
	}
	if err == nil {
		k.c.incidentID = x.ID
		k.input("incident", strings.TrimSpace(fmt.Sprintf("%s %s on %s in %s (incident %s)", x.Severity, x.Kind, x.OccurredOn, x.Country, x.ID)), "record")
	}
	return x, err
}

// atForeignInstitution is the position held on d in a foreign institution.
func (k *calc) atForeignInstitution(d Date) (heldPosition, bool) {
	for _, p := range k.positions {
		if p.on(d) && slices.Contains(foreignUnitKinds, p.unitKind) && (k.terminated.IsZero() || !d.After(k.terminated)) {
			return p, true
		}
	}
	return heldPosition{}, false
}

func (k *calc) serving(d Date) bool {
	if len(k.positions) == 0 || d.Before(k.positions[0].start) {
		return false
	}
	return k.terminated.IsZero() || !d.After(k.terminated)
}

// base is the Art. 25(9) base: the official salary by length of service for
// the last position held in the MFA, on the accrual date. Service counts up
// to serviceEnd (inclusive): the accrual date, or the date of death.
func (k *calc) base(serviceEnd Date) (Money, error) {
	rule := k.c.Rule
	var last *heldPosition
	for i := range k.positions {
		p := k.positions[i]
		if !p.start.After(serviceEnd) && !slices.Contains(foreignUnitKinds, p.unitKind) {
			last = &p
		}
	}
	code, title := "", ""
	if last != nil {
		code, title = last.code, last.title
		k.input("last_mfa_position", fmt.Sprintf("%s (%s, %s, from %s)", code, title, last.unit, last.start), "record")
		if k.in.LastMFAPosition != "" {
			k.note("last_mfa_position %q in the request is ignored: the record holds the last MFA position", k.in.LastMFAPosition)
		}
	} else if k.in.LastMFAPosition != "" {
		code = k.in.LastMFAPosition
		k.input("last_mfa_position", code, "request")
		k.note("the record holds no position in the MFA; the officer named the last one (%s)", code)
	} else {
		return 0, conflict(rule, "the record holds no position in the MFA (ministry or its departments) before %s: name the last one held (last_mfa_position)", serviceEnd)
	}
	ps, err := periodsOf(k.ctx, k.q, k.id)
	if err != nil {
		return 0, err
	}
	years := completeYears(ps, serviceEnd)
	k.input("length_of_service_years", fmt.Sprintf("%d full years of counted service on record up to %s", years, serviceEnd), "record")
	if k.in.OtherServiceYears > 0 {
		k.input("other_service_years", k.in.OtherServiceYears, "request")
		years += k.in.OtherServiceYears
	}
	var sal struct {
		Steps []SalaryStep `json:"steps"`
	}
	ref, err := entRefAt(k.ctx, k.q, rule, ERefSalary, code, k.c.On, &sal)
	if err != nil {
		return 0, err
	}
	k.c.References = append(k.c.References, ref)
	st := sal.Steps[0]
	for _, x := range sal.Steps {
		if x.FromYears <= years {
			st = x
		}
	}
	if title == "" {
		title = code
	}
	k.step("official salary of %s on %s, %d years of service (step from %d years) = %s", title, k.c.On, years, st.FromYears, st.Amount)
	return st.Amount, nil
}

// completeYears is the number of full years of counted service completed on
// day end (the counting convention of docs/personnel.md).
func completeYears(ps []period, end Date) int {
	var clipped []period
	for _, p := range ps {
		if p.from.After(end) {
			continue
		}
		if p.to.IsZero() || p.to.After(end.AddDate(0, 0, 1)) {
			p.to = end.AddDate(0, 0, 1)
		}
		clipped = append(clipped, p)
	}
	if len(clipped) == 0 {
		return 0
	}
	since := clipped[0].from
	n := 0
	for n < 80 {
		d, ok := MinimumReached(clipped, since, n+1)
		if !ok || d.After(end) {
			break
		}
		n++
	}
	return n
}

func (k *calc) multiply(name, article string, mult int64, base Money) Money {
	k.c.Factors = append(k.c.Factors, Factor{Kind: "multiplier", Name: name, Value: fmt.Sprint(mult), Article: article})
	out := Money(int64(base) * mult)
	k.step("%d × %s = %s", mult, base, out)
	return out
}

// payBase pays mult times the base (payable when every condition is met).
func (k *calc) payBase(serviceEnd Date, name, article string, mult int64) error {
	return k.pay(func() (Money, error) {
		b, err := k.base(serviceEnd)
		if err != nil {
			return 0, err
		}
		return k.multiply(name, article, mult, b), nil
	})
}

// resolveAmount turns a payment or minimum value into tenge on the accrual
// date: a fixed amount, or a multiple of the monthly calculation index.
func (k *calc) resolveAmount(kind, code string) (Money, error) {
	var v amountValue
	ref, err := entRefAt(k.ctx, k.q, k.c.Rule, kind, code, k.c.On, &v)
	if err != nil {
		return 0, err
	}
	k.c.References = append(k.c.References, ref)
	if v.Amount != nil {
		k.step("%s/%s on %s = %s", kind, code, k.c.On, *v.Amount)
		return *v.Amount, nil
	}
	var mci amountValue
	mref, err := entRefAt(k.ctx, k.q, k.c.Rule, ERefMCI, "mci", k.c.On, &mci)
	if err != nil {
		return 0, err
	}
	k.c.References = append(k.c.References, mref)
	out := mci.Amount.Times(int64(*v.MCI))
	k.step("%s/%s on %s = %s MCI × %s (MCI valid from %s) = %s", kind, code, k.c.On, *v.MCI, *mci.Amount, mref.ValidFrom, out)
	return out, nil
}

// HR-40, HR-41: Art. 25(9).
func (k *calc) deathInDuty() error {
	x, err := k.incident()
	if err != nil {
		return err
	}
	in := k.in
	k.input("died_on", in.DiedOn, "request")
	k.input("cause", in.Cause, "request")
	k.c.Period, k.c.key = "one_time", "death"
	if in.DiedOn.Before(x.OccurredOn) {
		return refusal("the computation is invalid", fe("died_on", fmt.Sprintf("before the incident of %s", x.OccurredOn)))
	}
	k.cond("HR-41", x.Kind == "injury", "an injury (not an illness) received while performing official duties abroad (the incident is an %s)", x.Kind)
	if in.Cause == "killed_on_duty" {
		k.cond("HR-40", in.DiedOn.Equal(x.OccurredOn), "killed while performing official duties abroad: the death (%s) is the incident's day (%s); a later death is died_of_injury", in.DiedOn, x.OccurredOn)
	} else {
		limit := x.OccurredOn.AddDate(DutyDeathYears, 0, 0)
		k.input("within_one_year_until", limit, "law")
		k.cond("HR-41", !in.DiedOn.After(limit), "death within one year of the injury: injured %s, died %s (day %d after the injury); the year ends on %s",
			x.OccurredOn, in.DiedOn, days(x.OccurredOn, in.DiedOn), limit)
	}
	if !k.allMet() {
		return k.pay(nil)
	}
	if k.block() {
		return nil
	}
	return k.payBase(in.DiedOn, "monthly maintenance amounts (death in the line of duty abroad)", "25(9)", MultDeathInDuty)
}

// HR-40: Art. 25(12).
func (k *calc) disability() error {
	x, err := k.incident()
	if err != nil {
		return err
	}
	in := k.in
	k.input("disability_group", in.DisabilityGroup, "request")
	k.input("disability_established_on", in.DisabilityEstablishedOn, "request")
	k.c.Period, k.c.key = "one_time", fmt.Sprintf("incident:%s:group:%d", x.ID, in.DisabilityGroup)
	k.cond("HR-40", !in.DisabilityEstablishedOn.Before(x.OccurredOn), "disability established (%s) after the %s received abroad on duty (%s)",
		in.DisabilityEstablishedOn, x.Kind, x.OccurredOn)
	if !k.allMet() {
		return k.pay(nil)
	}
	if k.block() {
		return nil
	}
	return k.payBase(k.c.On, fmt.Sprintf("monthly maintenance amounts (disability group %d)", in.DisabilityGroup),
		fmt.Sprintf("25(12)(%d)", in.DisabilityGroup), DisabilityMultipliers[in.DisabilityGroup])
}

// HR-40: Art. 25(13).
func (k *calc) dutyInjury() error {
	x, err := k.incident()
	if err != nil {
		return err
	}
	k.c.Period, k.c.key = "one_time", "incident:"+x.ID
	if k.cond("HR-40", x.Kind == "injury", "an injury (wound, trauma, contusion), not an illness: the incident is an %s", x.Kind) {
		var n int
		if err := k.q.QueryRow(k.ctx, `SELECT count(*) FROM entitlement_decisions WHERE staff_id = $1 AND kind = $2
			AND incident_id = $3 AND outcome = 'payable' AND NOT EXISTS (SELECT 1 FROM entitlement_decisions n WHERE n.supersedes = entitlement_decisions.id)`, k.id, EntDisability, x.ID).Scan(&n); err != nil {
			return err
		}
		k.cond("HR-40", n == 0, "the injury did not lead to disability (no disability compensation is recorded for it)")
	}
	if !k.allMet() {
		return k.pay(nil)
	}
	if k.block() {
		return nil
	}
	return k.payBase(k.c.On, fmt.Sprintf("monthly maintenance amounts (%s injury)", x.Severity), "25(13)", InjuryMultipliers[x.Severity])
}

// HR-40: Art. 26(1) parts 1 and 2.
func (k *calc) burial() error {
	in := k.in
	k.input("died_on", in.DiedOn, "request")
	k.input("died_abroad", in.DiedAbroad, "request")
	k.c.Period = "one_time"
	k.c.Factors = append(k.c.Factors, Factor{Kind: "block", Name: "unrelated to official duties", Value: "does not apply", Article: "25(14) names only 25(9), (12), (13)"})
	serviceEnd := in.DiedOn
	if in.FamilyMemberID == "" {
		k.c.Article, k.c.key = "26(1) part 1", "staff"
		k.cond("HR-40", in.DiedAbroad, "the staff member died abroad")
		k.cond("HR-40", k.serving(in.DiedOn), "the staff member was in service on the day of death")
	} else {
		k.c.Article, k.c.key = "26(1) part 2", "family:"+in.FamilyMemberID
		serviceEnd = k.c.On
		fam, err := familyOf(k.ctx, k.q, k.id, in.DiedOn)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(fam, func(m FamilyMember) bool { return m.ID == in.FamilyMemberID })
		if i < 0 {
			return refusal("the computation is invalid", fe("family_member_id", "no family member of this record has this id"))
		}
		m := fam[i]
		k.input("deceased_family_member", fmt.Sprintf("%s (%s)", m.FullName, m.Relation), "record")
		k.cond("HR-39", m.Accompanying, "an accompanying family member on the day of death: %s", m.Ground)
		k.cond("HR-40", in.DiedAbroad, "the family member died abroad")
		_, abroad := k.atForeignInstitution(in.DiedOn)
		k.cond("HR-40", abroad, "the staff member worked at a foreign institution on the day of death (the family accompanied them abroad)")
	}
	return k.payBase(serviceEnd, "monthly maintenance amounts (burial)", k.c.Article, MultBurial)
}

// HR-43: Art. 25(1) part 4.
func (k *calc) deathAllowance() error {
	in := k.in
	k.input("died_on", in.DiedOn, "request")
	k.input("average_monthly_wage", *in.AverageMonthlyWage, "request")
	k.c.Period, k.c.key = "one_time", "death"
	p, ok := k.atForeignInstitution(in.DiedOn)
	if ok {
		k.cond("HR-43", true, "died while working at a foreign institution (%s, %s), of any cause", p.title, p.unit)
	} else {
		k.cond("HR-43", false, "died while working at a foreign institution: the record holds no foreign-institution position on %s", in.DiedOn)
	}
	return k.pay(func() (Money, error) {
		three := k.multiply("average monthly wages", "25(1) part 4", MultDeathAllowance, *in.AverageMonthlyWage)
		min, err := k.resolveAmount(ERefMinimum, "death_allowance")
		if err != nil {
			return 0, err
		}
		k.c.Factors = append(k.c.Factors, Factor{Kind: "minimum", Name: "not lower than the Social Code amount", Value: min.String(), Article: "25(1) part 4"})
		if three < min {
			k.step("max(%s, Social Code minimum %s) = %s", three, min, min)
			return min, nil
		}
		k.step("max(%s, Social Code minimum %s) = %s", three, min, three)
		return three, nil
	})
}

// AddMonthsNoOverflow adds n months; when the target month is shorter, the
// result is its last day (31 January + 1 month = 28 or 29 February), so a
// limit of "not more than one month" is never exceeded.
func AddMonthsNoOverflow(d Date, n int) Date {
	first := Date{time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)}.AddDate(0, n, 0)
	last := first.AddDate(0, 1, -1)
	if d.Day() > last.Day() {
		return last
	}
	return first.AddDate(0, 0, d.Day()-1)
}

// HR-42: Art. 25(10).
func (k *calc) familyRetention() error {
	in := k.in
	k.input("died_on", in.DiedOn, "request")
	k.c.Outcome = OutcomeDetermined
	p, ok := k.atForeignInstitution(in.DiedOn)
	if !k.cond("HR-42", ok, "died during the posting: worked at a foreign institution on %s%s", in.DiedOn, map[bool]string{true: " (" + p.unit + ")", false: ""}[ok]) {
		k.c.Outcome = OutcomeNotEntitled
		return nil
	}
	max := AddMonthsNoOverflow(in.DiedOn, RetentionMonths)
	k.input("not_more_than_one_month", max, "law")
	until := max
	if !in.EndsOn.IsZero() {
		k.input("ends_on", in.EndsOn, "request")
		if in.EndsOn.After(max) {
			return refusal("the computation is invalid", fe("ends_on", fmt.Sprintf("HR-42: not more than one month from the date of death: %s at the latest (Art. 25(10))", max)))
		}
		until = in.EndsOn
		k.step("a reasonable period set by the officer: until %s (≤ %s)", until, max)
	} else {
		k.step("died %s + 1 month = %s: the guarantees are kept until then, at the latest", in.DiedOn, max)
	}
	k.c.Determination.MaxUntil, k.c.Determination.RetainedUntil = max, until
	fam, err := familyOf(k.ctx, k.q, k.id, in.DiedOn)
	if err != nil {
		return err
	}
	for _, m := range fam {
		if m.Accompanying {
			k.c.Determination.Family = append(k.c.Determination.Family, FamilyRetained{ID: m.ID, FullName: m.FullName, Relation: m.Relation, Ground: m.Ground, Until: until})
		}
	}
	state := "keep"
	if k.c.On.After(until) {
		state = "no longer have"
	}
	k.step("on %s the accompanying family (%d) %s the Art. 25 guarantees", k.c.On, len(k.c.Determination.Family), state)
	return nil
}

// HR-44: Art. 30, 25(4).
func (k *calc) annualLeave() error {
	in := k.in
	k.c.On = in.LeaveStart
	k.input("leave_start", in.LeaveStart, "request")
	k.input("annual_leave_days", AnnualLeaveDays, "law")
	k.c.Determination.LeaveDays = AnnualLeaveDays
	k.c.Period = "per_leave"
	k.step("annual paid labour leave = %d calendar days (Art. 30(1))", AnnualLeaveDays)
	if !k.cond("HR-44", k.serving(in.LeaveStart), "in service on the first day of leave") {
		return k.pay(nil)
	}
	p, abroad := k.atForeignInstitution(in.LeaveStart)
	if !abroad {
		k.c.Outcome = OutcomeDetermined
		k.note("not working at a foreign institution on %s: no health-improvement allowance (Art. 30(2)) and no leave travel (Art. 25(4))", in.LeaveStart)
		return nil
	}
	k.cond("HR-44", true, "working at a foreign institution on the first day of leave (%s, %s)", p.title, p.unit)
	travel := []string{k.c.FullName + " (staff member)"}
	fam, err := familyOf(k.ctx, k.q, k.id, in.LeaveStart)
	if err != nil {
		return err
	}
	for _, m := range fam {
		if m.Accompanying {
			travel = append(travel, fmt.Sprintf("%s (%s; %s)", m.FullName, m.Relation, m.Ground))
		}
	}
	k.c.Determination.TravelRoundTrip = travel
	k.step("round-trip transport costs paid for %d person(s) (Art. 25(4) part 1)", len(travel))
	var prev int
	if err := k.q.QueryRow(k.ctx, `SELECT count(*) FROM entitlement_decisions WHERE staff_id = $1 AND kind = $2 AND outcome = 'payable'
		AND extract(year FROM (computation->>'on')::date) = $3 AND NOT EXISTS (SELECT 1 FROM entitlement_decisions n WHERE n.supersedes = entitlement_decisions.id)`, k.id, EntAnnualLeave, in.LeaveStart.Year()).Scan(&prev); err != nil {
		return err
	}
	if prev > 0 {
		k.note("%d health-improvement allowance(s) already recorded for %d: the Law sets no yearly cap (\"when going on regular leave\"); check the leave is a regular one", prev, in.LeaveStart.Year())
	}
	return k.payBase(in.LeaveStart, "official salaries (health-improvement allowance)", "30(2)", MultHealth)
}

// HR-45: Art. 29.
func (k *calc) payment() error {
	in := k.in
	k.input("payment", in.Payment, "request")
	k.c.Title = map[string]string{PayRareLanguage: "Cash payment for knowledge of a rare foreign language",
		PayStateSecrets: "Cash payment for work with information constituting state secrets", PayRepresentation: "Annual cash payment for the cost of representational attire",
		PayRank: "Cash payment for the diplomatic rank"}[in.Payment]
	k.c.Period = "as_set"
	if in.Payment == PayRepresentation {
		k.c.Period = "annual"
	}
	serving := k.cond("HR-45", k.serving(k.c.On), "personnel: in service on %s", k.c.On)
	var kind string
	for _, p := range k.positions {
		if p.on(k.c.On) {
			kind = p.staffKind
		}
	}
	if serving {
		k.input("staff_kind", kind, "record")
	}
	code := in.Payment
	switch in.Payment {
	case PayRank:
		k.c.Article = "29 part 2"
		k.cond("HR-45", kind == KindDiplomatic, "a diplomatic officer (дипломатиялық қызмет қызметкері), not an administrative-technical worker: staff kind %q", kind)
		r, err := rankOn(k.ctx, k.q, k.id, k.c.On)
		if err != nil {
			return err
		}
		if k.cond("HR-45", r != nil, "holds a diplomatic rank") {
			k.input("rank", fmt.Sprintf("%d %s (since %s)", r.Rank, r.Name, r.Since), "record")
			code = fmt.Sprintf("rank_%d", r.Rank)
		}
	case PayRareLanguage:
		k.c.Article = "29 part 1"
		k.input("language", in.Language, "request")
		var lang struct {
			Name string `json:"name"`
		}
		ref, err := entRefAt(k.ctx, k.q, k.c.Rule, ERefRareLanguage, in.Language, k.c.On, &lang)
		listed := err == nil
		if err != nil && valise.ErrorCode(err) != valise.ECONFLICT {
			return err
		}
		if listed {
			k.c.References = append(k.c.References, ref)
		}
		k.cond("HR-21", listed, "%s is on the Minister's list of rare foreign languages on %s", in.Language, k.c.On)
		var langs []byte
		if err := k.q.QueryRow(k.ctx, `SELECT languages FROM staff WHERE id = $1`, k.id).Scan(&langs); err != nil {
			return err
		}
		var ls []Language
		_ = json.Unmarshal(langs, &ls)
		k.cond("HR-45", slices.ContainsFunc(ls, func(l Language) bool { return l.Language == in.Language }), "the record shows knowledge of %s", in.Language)
	default:
		k.c.Article = "29 part 1"
		k.cond("HR-45", kind == KindDiplomatic || kind == KindAdminTechnical, "all personnel (diplomatic and administrative-technical) since the 2025 wording")
	}
	return k.pay(func() (Money, error) { return k.resolveAmount(ERefPayment, code) })
}

// rankOn is the rank held on date on (the newest change in effect by then),
// nil when none (or deprived).
func rankOn(ctx context.Context, q db.Querier, staffID string, on Date) (*RankHeld, error) {
	return scanRankHeld(q.QueryRow(ctx, `SELECT rank, effective_date FROM staff_ranks WHERE staff_id = $1 AND effective_date <= $2
		ORDER BY effective_date DESC, id DESC LIMIT 1`, staffID, on))
}

// veteranPeriodTypes are the periods in diplomatic service bodies and in
// international organisations on referral (Art. 1(7)).
var veteranPeriodTypes = []string{PeriodMFA, PeriodForeignInstitution, PeriodRepresentativeOffice, PeriodInternationalOrg}

// HR-46: Art. 1(7), 29-1.
func (k *calc) veteran() error {
	in := k.in
	on := k.c.On
	k.c.Period = "monthly"
	former := !k.terminated.IsZero() && !k.terminated.After(on)
	k.cond("HR-46", former, "formerly held a personnel position: service ended%s", map[bool]string{true: " on " + k.terminated.String(), false: ": still in service on " + on.String()}[former])
	total := *in.TotalExperienceYears
	k.input("total_experience_years", total, "request")
	k.cond("HR-46", total >= VeteranTotalYears, "total work experience %d ≥ %d years (Art. 1(7))", total, VeteranTotalYears)
	rows, err := k.q.Query(k.ctx, `SELECT start_date, end_date FROM service_periods WHERE staff_id = $1 AND period_type = ANY($2) ORDER BY start_date`,
		k.id, veteranPeriodTypes)
	if err != nil {
		return err
	}
	ps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (period, error) {
		var p period
		var end Date
		err := row.Scan(&p.from, &end)
		if !end.IsZero() {
			p.to = end.AddDate(0, 0, 1)
		}
		return p, err
	})
	if err != nil {
		return err
	}
	diplo := completeYears(ps, on)
	k.input("diplomatic_service_years", fmt.Sprintf("%d full years in periods of type %v on record up to %s", diplo, veteranPeriodTypes, on), "record")
	k.cond("HR-46", diplo >= VeteranDiploYears, "%d ≥ %d years in diplomatic service bodies and/or international organisations on referral", diplo, VeteranDiploYears)
	var age struct {
		Years  int `json:"years"`
		Months int `json:"months"`
	}
	ref, err := entRefAt(k.ctx, k.q, k.c.Rule, ERefRetirementAge, in.RetirementAge, on, &age)
	if err != nil {
		return err
	}
	k.c.References = append(k.c.References, ref)
	reached := k.birth.AddDate(age.Years, age.Months, 0)
	k.input("birth_date", k.birth, "record")
	k.cond("HR-46", !reached.After(on), "retirement age %d years %d months (%s) reached on %s", age.Years, age.Months, in.RetirementAge, reached)
	vet := k.allMet()
	k.c.Determination.Veteran = &vet
	k.step("veteran of the diplomatic service: %v", vet)
	if !vet {
		k.c.Outcome = OutcomeNotEntitled
		return nil
	}
	// Art. 29-1: held the Ambassador or Permanent Representative position, or holds the Ambassador rank.
	var held string
	for _, p := range k.positions {
		if p.category == "ambassador" || p.category == "permanent_representative" {
			held = fmt.Sprintf("held %s (%s, from %s)", p.title, p.unit, p.start)
		}
	}
	r, err := rankOn(k.ctx, k.q, k.id, k.c.On)
	if err != nil {
		return err
	}
	if held == "" && r != nil && r.Rank == 11 {
		held = "holds the rank of Ambassador Extraordinary and Plenipotentiary (since " + r.Since.String() + ")"
	}
	pays := held != ""
	k.c.Determination.VeteranPayment = &pays
	if !pays {
		k.c.Outcome = OutcomeDetermined
		k.note("Art. 29-1: the monthly payment is for veterans who held the Ambassador or Permanent Representative position or hold the Ambassador rank; this veteran does not")
		return nil
	}
	k.cond("HR-46", true, "Art. 29-1: %s", held)
	return k.pay(func() (Money, error) { return k.resolveAmount(ERefPayment, PayVeteran) })
}

// Text is the printable form of a computation.
func (c Computation) Text() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("%s", strings.ToUpper(c.Title))
	w("Rule %s, Law on the Diplomatic Service Art. %s", c.Rule, c.Article)
	w("%s  %s  (record %s)", c.PersonnelNumber, c.FullName, c.StaffID)
	w("Computed on: %s", c.On)
	w("")
	w("INPUTS")
	for _, i := range c.Inputs {
		w("  %-28s %v  [%s]", i.Name, i.Value, i.Source)
	}
	w("CONDITIONS")
	for _, x := range c.Conditions {
		mark := "met    "
		if !x.Met {
			mark = "NOT MET"
		}
		w("  %s %s: %s", mark, x.Rule, x.Text)
	}
	w("MULTIPLIERS, MINIMUMS AND BLOCKS")
	for _, f := range c.Factors {
		w("  %-10s %s: %s (Art. %s)", f.Kind, f.Name, f.Value, f.Article)
	}
	w("REFERENCE VALUES USED")
	for _, r := range c.References {
		w("  %s/%s valid from %s: %s (act %s of %s, version %d)", r.Kind, r.Code, r.ValidFrom, string(r.Value), r.Act.Number, r.Act.Date, r.Version)
	}
	w("ARITHMETIC")
	for _, s := range c.Arithmetic {
		w("  %s", s)
	}
	d := c.Determination
	if d.LeaveDays > 0 || len(d.TravelRoundTrip) > 0 || !d.RetainedUntil.IsZero() || d.Veteran != nil {
		w("DETERMINED")
	}
	if d.LeaveDays > 0 {
		w("  annual leave: %d calendar days", d.LeaveDays)
	}
	for _, t := range d.TravelRoundTrip {
		w("  round-trip travel: %s", t)
	}
	if !d.RetainedUntil.IsZero() {
		w("  guarantees kept until %s (at the latest %s)", d.RetainedUntil, d.MaxUntil)
		for _, m := range d.Family {
			w("    %s (%s)", m.FullName, m.Relation)
		}
	}
	if d.Veteran != nil {
		w("  veteran: %v", *d.Veteran)
	}
	if d.VeteranPayment != nil {
		w("  veterans' monthly payment (Art. 29-1): %v", *d.VeteranPayment)
	}
	for _, n := range c.Notes {
		w("NOTE %s", n)
	}
	w("")
	amount := "none"
	if c.Amount != nil {
		amount = c.Amount.String() + " " + c.Currency
	}
	w("OUTCOME: %s   AMOUNT: %s   %s", c.Outcome, amount, c.Period)
	if c.Payee != nil {
		w("PAYEE: %s (%s)", c.Payee.FullName, c.Payee.Relation)
	}
	return b.String()
}
