package personnel

import (
	"context"
	"fmt"
	"slices"

	"valise"
	"valise/internal/db"
)

// Secondment rule sets of Government Decree No. 755 (secondment-digest.md):
// each is its own workflow, an ordered list of steps with the paragraph that
// sets them, the legal actor, and the deadline counted on the working-day
// calendar. The numbers below are the Decree's own; values the Decree takes
// from other acts (the Law's 15(4) terms for R2 secondees, how long a
// penalty stays unexpunged) are reference data.
const (
	RuleR1 = "r1" // diplomatic service personnel → RK state bodies and other organisations (Law Art. 15-1)
	RuleR2 = "r2" // civil servants of other bodies, National Bank employees → RK foreign institutions (Art. 15-2)
	RuleR3 = "r3" // civil servants → state bodies, international and other organisations (Civil Service Law Art. 39)

	// LegalBasis is stored on every secondment: the Decree in its wording
	// after the last amendment (No. 206 of 03.04.2025, in force 10 days after
	// publication).
	LegalBasis = "decree755@2025-04-03"

	RefPenaltyTerm = "penalty_term"        // months a penalty stays unexpunged, by penalty kind (civil-service legislation)
	RefSecondTerm  = "secondment_law_term" // R2: Law Art. 15(4) term and extension cap by position (erratum 1)
)

// Receiving and sending body kinds.
const (
	BodyCentralExecutive = "central_executive_body"     // → Prime Minister (R1 §11(2), R3 §11(2))
	BodyPresidential     = "president_body"             // directly subordinate and accountable to the President
	BodyState            = "state_body"                 // any other state body
	BodyOther            = "other_organization"         // → Prime Minister
	BodyInternational    = "international_organization" // R3 only (Law 15-1(1) as amended in 2025: not for R1)
	BodyNonRK            = "non_rk_organization"        // an organisation that is not an RK organisation
	BodyForeignInst      = "foreign_institution"        // R2: an RK foreign institution (a unit)
	BodyNationalBank     = "national_bank"              // R2 sending body
	BodyPA               = "presidential_administration"
	BodyMFA              = "mfa"
)

// Person categories of an R2/R3 secondee who has no MFA staff record.
const (
	PersonCivilServant = "civil_servant"
	PersonPolitical    = "political_civil_servant"
	PersonNB           = "nb_employee"
	PersonMilitary     = "military_law_enforcement_special"
)

// Secondment states.
const (
	SProposed        = "proposed"
	SRefused         = "refused"
	SUnderReview     = "under_review"
	SAgreed          = "agreed"
	SSubmitted       = "submitted"
	SCoordAgreed     = "coordination_agreed"
	SCoordRefused    = "coordination_refused"
	SAppointed       = "appointed"
	SOrdered         = "ordered"
	SServing         = "serving"
	SExpiryNoticed   = "expiry_noticed"
	SReleased        = "released"
	SEarlyRecall     = "early_recall"
	SClosed          = "closed"
	anchorProposal   = "proposal"
	proposalPara     = "§12"
	maxReportMonths  = 12
	termYears        = 3 // R1 §8, R2 §8, R3 §8 p1
	extensionCapDays = 365
)

// SecondmentStates lists the states of a file, in workflow order.
var SecondmentStates = []string{SProposed, SRefused, SUnderReview, SAgreed, SSubmitted, SCoordAgreed, SCoordRefused,
	SAppointed, SOrdered, SServing, SExpiryNoticed, SReleased, SEarlyRecall, SClosed}

// Deadline is when a step is due: working days (or months) after the date
// of an earlier step.
type Deadline struct {
	From   string `json:"from"` // the step whose date anchors it ("proposal": the letter's receipt)
	WD     int    `json:"working_days,omitempty"`
	Months int    `json:"months,omitempty"`
	// Overridable: yields to a recorded override (a charter of a non-RK or
	// international organisation, an international treaty).
	Overridable bool `json:"overridable,omitempty"`
}

// StepSpec is one step of a rule set's workflow.
type StepSpec struct {
	Step  string    `json:"step"`
	Para  string    `json:"paragraph"`
	Actor string    `json:"actor"`
	What  string    `json:"what"`
	After []string  `json:"after"` // states from which it may be recorded
	Due   *Deadline `json:"due,omitempty"`
	// Outcome: a decision, agreed or refused.
	Outcome bool `json:"outcome,omitempty"`
	// Sets is the state after the step ("" = unchanged); Refused after a refusal.
	Sets    string `json:"sets,omitempty"`
	Refused string `json:"refused,omitempty"`
	// Once: recorded at most once; otherwise repeatable when not Sets.
	Once bool `json:"once,omitempty"`
}

// RuleSet is one of the Decree's three rule sets.
type RuleSet struct {
	Code  string     `json:"code"`
	Title string     `json:"title"`
	Basis string     `json:"basis"`
	Steps []StepSpec `json:"steps"`
}

func wd(from string, n int, overridable bool) *Deadline {
	return &Deadline{From: from, WD: n, Overridable: overridable}
}

// afterOrder are the states of a running secondment.
var afterOrder = []string{SServing}

func commonTail(rs string) []StepSpec {
	var recallAfter []string
	var recallDue *Deadline
	recallPara, notice, release, early, recallBy, earlyBy := "§19 p2", "§19 p1", "§19 p1", "§20", "mfa", "mfa"
	noticeBy, releaseBy, materialsBy, earlyNotice, extBy := "receiving_body", "receiving_body", "receiving_body → mfa", "mfa → receiving_body", "mfa"
	switch rs {
	case RuleR1:
		recallAfter, recallDue = []string{SExpiryNoticed, SReleased}, wd("expiry_notice", 5, false)
	case RuleR2:
		recallAfter, recallPara, notice, release, early = []string{SReleased}, "§21 p2", "§21 p1", "§21 p1", "§22"
		noticeBy, releaseBy, recallBy, earlyBy, materialsBy, earlyNotice, extBy = "mfa", "mfa", "sending_body", "sending_body", "mfa → sending_body", "sending_body → mfa", "sending_body"
	case RuleR3:
		recallAfter, recallBy, earlyBy, materialsBy, earlyNotice, extBy = []string{SReleased}, "sending_body", "sending_body", "receiving_body → sending_body", "sending_body → receiving_body (written)", "sending_body"
	}
	grounds := "§18"
	if rs == RuleR2 {
		grounds = "§20"
	}
	return []StepSpec{
		{Step: "extension", Para: "§8 p2", Actor: extBy, What: "extend the term by at most one year in all, with the consents", After: afterOrder},
		{Step: "misconduct_materials", Para: "§9 p2", Actor: materialsBy, What: "information and materials on a disciplinary offence, within 5 working days of its commission or detection",
			After: []string{SServing, SExpiryNoticed}},
		{Step: "expiry_notice", Para: notice, Actor: noticeBy, What: "written notice, 10 working days before the release decision on expiry", After: afterOrder, Sets: SExpiryNoticed},
		{Step: "release", Para: release, Actor: releaseBy, What: "release from the seconded position on expiry", After: []string{SExpiryNoticed}, Sets: SReleased},
		{Step: "recall", Para: recallPara, Actor: recallBy, What: "recall on expiry", After: recallAfter, Due: recallDue, Sets: SClosed},
		{Step: "early_recall", Para: grounds + ", " + early, Actor: earlyBy, What: "early recall on an enumerated ground", After: []string{SAppointed, SOrdered, SServing}, Sets: SEarlyRecall},
		{Step: "early_recall_notice", Para: early, Actor: earlyNotice, What: "notice of the early recall within 3 working days", After: []string{SEarlyRecall},
			Due: wd("early_recall", 3, false), Sets: SClosed},
	}
}

// RuleSets are the three workflows, in the Decree's order.
var RuleSets = map[string]RuleSet{
	RuleR1: {Code: RuleR1, Basis: "Law Art. 15-1; Decree 755 R1",
		Title: "Diplomatic service personnel to RK state bodies and other organisations",
		Steps: append([]StepSpec{
			{Step: "receiver_decision", Para: "§13", Actor: "receiving_body", What: "agree or refuse within 10 working days of receiving the letter",
				After: []string{SProposed}, Due: wd(anchorProposal, 10, true), Outcome: true, Sets: SAgreed, Refused: SRefused},
			{Step: "coordination_submitted", Para: "§11, §15", Actor: "mfa", What: "the proposal, the §12 documents and a copy of the receiver's letter to the Head of the Presidential Administration or the Prime Minister, within 3 working days",
				After: []string{SAgreed}, Due: wd("receiver_decision", 3, false), Sets: SSubmitted},
			{Step: "coordination_decision", Para: "§16", Actor: "coordinator", What: "the coordinating official agrees (no deadline)",
				After: []string{SSubmitted}, Outcome: true, Sets: SCoordAgreed, Refused: SCoordRefused},
			{Step: "appointment_confirmed", Para: "§16, §17", Actor: "receiving_body", What: "appointment by way of secondment within 3 working days; the copy of the confirming document gives the start date",
				After: []string{SCoordAgreed}, Due: wd("coordination_decision", 3, true), Sets: SAppointed},
			{Step: "order_issued", Para: "§8, §17", Actor: "mfa", What: "the MFA order from the date in the confirming document, within 3 working days of receiving its copy; term at most 3 years",
				After: []string{SAppointed}, Due: wd("appointment_confirmed", 3, false), Sets: SServing},
			{Step: "order_dispatched", Para: "§17", Actor: "mfa", What: "copy or extract of the order and a copy of the personal file to the receiving body, within 5 working days of signing",
				After: afterOrder, Due: wd("order_issued", 5, false), Once: true},
		}, commonTail(RuleR1)...)},
	RuleR2: {Code: RuleR2, Basis: "Law Art. 15-2; Decree 755 R2",
		Title: "Civil servants of other state bodies and National Bank employees to RK foreign institutions",
		Steps: append([]StepSpec{
			{Step: "review_done", Para: "§14 p1", Actor: "mfa", What: "check the documents and interview the candidate, within 15 working days",
				After: []string{SProposed}, Due: wd(anchorProposal, 15, false), Sets: SUnderReview},
			{Step: "mfa_decision", Para: "§14 p2", Actor: "mfa", What: "agree or refuse within 3 months of receiving the letter",
				After: []string{SUnderReview}, Due: &Deadline{From: anchorProposal, Months: 3}, Outcome: true, Sets: SAgreed, Refused: SRefused},
			{Step: "pa_submitted", Para: "§16", Actor: "sending_body", What: "letter to the Presidential Administration with the §13 documents and a copy of the MFA letter, within 3 working days (not for a civil servant of the Presidential Administration)",
				After: []string{SAgreed}, Due: wd("mfa_decision", 3, false), Sets: SSubmitted},
			{Step: "presidential_decision", Para: "§10, §17; HR-30", Actor: "president", What: "the President, or the Head of the Presidential Administration by his authorisation, decides (no deadline)",
				After: []string{SSubmitted, SAgreed}, Outcome: true, Sets: SCoordAgreed, Refused: SCoordRefused},
			{Step: "mfa_order", Para: "§8, §18; HR-30", Actor: "mfa", What: "the MFA order on appointment by way of secondment within 3 working days; term within the Law's Art. 15(4) limit",
				After: []string{SCoordAgreed}, Due: wd("presidential_decision", 3, false), Sets: SAppointed},
			{Step: "sending_body_order", Para: "§19", Actor: "sending_body", What: "the sending body's order on the basis of the MFA order (no deadline)",
				After: []string{SAppointed}, Sets: SOrdered},
			{Step: "dispatched", Para: "§12", Actor: "sending_body", What: "the person is sent to the foreign institution",
				After: []string{SOrdered}, Sets: SServing},
			{Step: "kpi_approved", Para: "§12 p2", Actor: "sending_body (agreed with the mfa)", What: "key performance indicators with goal-achievement indicators, within 1 month of the dispatch",
				After: afterOrder, Due: &Deadline{From: "dispatched", Months: 1}, Once: true},
			{Step: "reporting_procedure", Para: "§12 p1", Actor: "sending_body (agreed with the mfa)", What: "the order on the procedure of activity, analysis of results on the KPIs and reporting",
				After: afterOrder, Once: true},
			{Step: "report", Para: "§12 p1", Actor: "secondee → sending_body", What: "a performance report under the reporting procedure",
				After: []string{SServing, SExpiryNoticed}},
		}, commonTail(RuleR2)...)},
	RuleR3: {Code: RuleR3, Basis: "Civil Service Law Art. 39(1); Decree 755 R3",
		Title: "Civil servants to state bodies, international and other organisations",
		Steps: append([]StepSpec{
			{Step: "receiver_decision", Para: "§13", Actor: "receiving_body", What: "agree or refuse within 10 working days of receiving the letter",
				After: []string{SProposed}, Due: wd(anchorProposal, 10, true), Outcome: true, Sets: SAgreed, Refused: SRefused},
			{Step: "coordination_submitted", Para: "§11, §15", Actor: "sending_body", What: "the proposal with the §12 documents and a copy of the receiver's letter to the Head of the Presidential Administration or the Prime Minister, within 3 working days",
				After: []string{SAgreed}, Due: wd("receiver_decision", 3, false), Sets: SSubmitted},
			{Step: "coordination_decision", Para: "§16", Actor: "coordinator", What: "the coordinating official agrees (no deadline)",
				After: []string{SSubmitted}, Outcome: true, Sets: SCoordAgreed, Refused: SCoordRefused},
			{Step: "appointment_confirmed", Para: "§16, §17", Actor: "receiving_body", What: "appointment by way of secondment within 3 working days; the confirming document gives the start date",
				After: []string{SCoordAgreed}, Due: wd("coordination_decision", 3, true), Sets: SAppointed},
			{Step: "order_issued", Para: "§8, §17", Actor: "sending_body", What: "the sending body's order from the date in the confirming document, within 3 working days; term at most 3 years",
				After: []string{SAppointed}, Due: wd("appointment_confirmed", 3, false), Sets: SServing},
			{Step: "order_dispatched", Para: "§17", Actor: "sending_body", What: "copy or extract of the order and a copy of the personal file to the receiving body (no deadline)",
				After: afterOrder, Once: true},
		}, commonTail(RuleR3)...)},
}

func (r RuleSet) spec(step string) (StepSpec, bool) {
	for _, s := range r.Steps {
		if s.Step == step {
			return s, true
		}
	}
	return StepSpec{}, false
}

// Coordinator is the official whose agreement R1 §11 and R3 §11 require,
// by the kind of receiving body.
func Coordinator(rs, kind string) string {
	switch kind {
	case BodyCentralExecutive, BodyOther, BodyNonRK:
		return "prime_minister"
	case BodyInternational:
		if rs == RuleR3 {
			return "prime_minister"
		}
	}
	return "head_of_presidential_administration"
}

// dueDate computes a deadline from its anchor on the calendar: n working
// days counted from the day after the anchor; months by the calendar, a
// last day that is not a working day moving to the next working day.
func dueDate(cal *Calendar, anchor Date, d Deadline) Date {
	if d.Months > 0 {
		t := anchor.AddDate(0, d.Months, 0).Time
		if !cal.IsWorkingDay(t) {
			t = cal.NextWorkingDay(t)
		}
		return Date{t}
	}
	return Date{cal.AddWorkingDays(anchor.Time, d.WD)}
}

// Basis is the legal basis of an override or of a ground.
type Basis struct {
	Kind string `json:"kind"` // law, charter, treaty
	Ref  string `json:"ref"`
}

// Override records that another act displaces the Decree's term (§8) or
// its receiving-body deadlines (R1 §13, §16; R3 §13, §16).
type Override struct {
	TermYears int    `json:"term_years,omitempty"`
	Term      *Basis `json:"term,omitempty"`
	Deadlines *Basis `json:"deadlines,omitempty"`
}

func overrideFailures(rs string, receiving Body, o *Override) []valise.FieldError {
	if o == nil {
		return nil
	}
	var fs []valise.FieldError
	termKinds := map[string][]string{RuleR1: {"law", "charter"}, RuleR2: {"law"}, RuleR3: {"law", "treaty", "charter"}}[rs]
	if o.Term != nil {
		switch {
		case !slices.Contains(termKinds, o.Term.Kind):
			fs = append(fs, fe("override.term.kind", fmt.Sprintf("%s §8: the 3-year term yields only to %v", up(rs), termKinds)))
		case o.Term.Ref == "":
			fs = append(fs, fe("override.term.ref", "cite the act that sets another term"))
		}
		if o.TermYears < 1 || o.TermYears > 10 {
			fs = append(fs, fe("override.term_years", "the term the act sets, 1-10 years"))
		}
	} else if o.TermYears != 0 {
		fs = append(fs, fe("override.term", "a term needs the act that sets it"))
	}
	if o.Deadlines != nil {
		ok := false
		switch rs {
		case RuleR1: // only charters of organisations that are not RK organisations
			ok = o.Deadlines.Kind == "charter" && receiving.Kind == BodyNonRK
		case RuleR3: // treaties; charters of international and non-RK organisations
			ok = o.Deadlines.Kind == "treaty" || o.Deadlines.Kind == "charter" && (receiving.Kind == BodyNonRK || receiving.Kind == BodyInternational)
		}
		if !ok {
			fs = append(fs, fe("override.deadlines", map[string]string{
				RuleR1: "R1 §13, §16: only the charter of an organisation that is not an RK organisation changes the receiver's deadlines",
				RuleR2: "R2 sets no receiver deadline that another act may displace",
				RuleR3: "R3 §13, §16: an international treaty, or the charter of an international or non-RK organisation",
			}[rs]))
		} else if o.Deadlines.Ref == "" {
			fs = append(fs, fe("override.deadlines.ref", "cite the treaty or charter"))
		}
	}
	return fs
}

func up(rs string) string {
	if rs == "" {
		return ""
	}
	return string(rs[0]-32) + rs[1:]
}

// Assessment is one annual performance assessment.
type Assessment struct {
	Year   int    `json:"year"`
	Result string `json:"result"` // effective, or another value of the assessment scale
}

// KPIResult is an NB employee's actual performance on the functional KPIs for a year.
type KPIResult struct {
	Year    int     `json:"year"`
	Percent float64 `json:"percent"`
}

// Facts are the eligibility facts, as the documents attest them.
type Facts struct {
	// ServiceSince: start of the civil service in the sending body (or of work in the NB)
	// for a person without an MFA staff record.
	ServiceSince Date `json:"service_since"`
	// PoliticalSince: start of the political position (R2 political civil servant).
	PoliticalSince Date         `json:"political_since"`
	Assessments    []Assessment `json:"assessments"`
	// LastAttestation: R2 §11(5) p2, a military / law-enforcement / special-body candidate.
	LastAttestation *Clearance  `json:"last_attestation,omitempty"`
	KPIResults      []KPIResult `json:"kpi_results"`
	// UnexpungedPenalties: for a person without an MFA staff record, as the sending body attests.
	UnexpungedPenalties int  `json:"unexpunged_penalties"`
	Acting              bool `json:"acting"`
	Substituting        bool `json:"substituting"`
	QualificationsMet   bool `json:"qualifications_met"`
	// Consent: the written consent, naming the receiving body (or the foreign institution).
	Consent *Consent `json:"consent,omitempty"`
	// FirstHeadAgreement: R2 §3, R3 §3.
	FirstHeadAgreement *Act `json:"first_head_agreement,omitempty"`
}

// Consent is a written consent.
type Consent struct {
	Party string `json:"party,omitempty"` // for an extension: person, receiving_body, mfa
	To    string `json:"to,omitempty"`    // the body consented to
	Date  Date   `json:"date"`
}

// proposalDocs are the justified letter and its four attachments (R1 §12, R2 §13, R3 §12).
var proposalDocs = []string{"justified_letter", "nomination", "biography", "service_record", "written_consent"}

// Doc is a document of the file.
type Doc struct {
	Kind   string `json:"kind"`
	Number string `json:"number"`
	Date   Date   `json:"date"`
}

// eligibility evaluates every condition of R1 §10, R2 §11 or R3 §10 (and
// the scope rules §2, §3) and returns each failed one.
func eligibility(ctx context.Context, q db.Querier, in SecondmentInput) ([]valise.FieldError, error) {
	var fs []valise.FieldError
	rs, on := in.RuleSet, in.On
	p := func(r1, r2, r3 string) string { return map[string]string{RuleR1: r1, RuleR2: r2, RuleR3: r3}[rs] }
	para := func(n int) string { return up(rs) + " " + p("§10", "§11", "§10") + fmt.Sprintf("(%d)", n) }
	// Scope.
	if !in.Position.Vacant {
		fs = append(fs, fe("position.vacant", up(rs)+" §3 p2: secondment is only to a vacant position (staff unit)"))
	}
	if in.Position.Category == PersonMilitary && rs != RuleR2 {
		fs = append(fs, fe("position.category", up(rs)+" §2: not to a position of a military serviceman, law-enforcement or special state body officer"))
	}
	if rs == RuleR3 && in.Person != nil && in.Person.Category == PersonMilitary {
		fs = append(fs, fe("person.category", "R3 §2(1): R3 does not apply to military servicemen, law-enforcement or special state body officers"))
	}
	if rs == RuleR1 && in.Receiving.Kind == BodyInternational {
		fs = append(fs, fe("receiving.kind", "HR-29: since 2025 Law Art. 15-1(1) seconds diplomatic service personnel to state bodies and other organisations, not international organisations"))
	}
	// Tenure.
	switch {
	case in.StaffID != "":
		var since Date
		ps, err := mfaPeriods(ctx, q, in.StaffID)
		if err != nil {
			return nil, err
		}
		if len(ps) > 0 {
			since = ps[0].from
		}
		if reached, ok := MinimumReached(ps, since, termYears); len(ps) == 0 || !ok || reached.After(on) {
			fs = append(fs, fe("staff_id", fmt.Sprintf("%s: at least 3 years of civil service in the %s (reached on %s)", para(1), p("authorized body (MFA)", "sending body", "sending body"), reached)))
		}
	case in.Person != nil && rs == RuleR2 && in.Person.Category == PersonPolitical:
		if in.Facts.PoliticalSince.IsZero() || in.Facts.PoliticalSince.AddDate(0, 6, 0).After(on) {
			fs = append(fs, fe("facts.political_since", "R2 §11(1): a political civil servant needs 6 months in a political position in the sending body"))
		}
	case in.Person != nil:
		where := "civil service in the sending body"
		if in.Person.Category == PersonNB {
			where = "work in the National Bank"
		}
		if in.Facts.ServiceSince.IsZero() || in.Facts.ServiceSince.AddDate(termYears, 0, 0).After(on) {
			fs = append(fs, fe("facts.service_since", fmt.Sprintf("%s: at least 3 years of %s", para(1), where)))
		}
	}
	// Penalties.
	n := in.Facts.UnexpungedPenalties
	if in.StaffID != "" {
		var err error
		if n, err = unexpunged(ctx, q, in.StaffID, on); err != nil {
			return nil, err
		}
	}
	if n > 0 {
		fs = append(fs, fe("facts.unexpunged_penalties", fmt.Sprintf("%s: %d unexpunged disciplinary penalt%s", p("R1 §10(2)", "R2 §11(3)", "R3 §10(2)"), n, map[bool]string{true: "y", false: "ies"}[n == 1])))
	}
	if in.Facts.Acting {
		fs = append(fs, fe("facts.acting", p("R1 §10(3)", "R2 §11(4)", "R3 §10(3)")+": temporarily acting in a position"))
	}
	if in.Facts.Substituting {
		fs = append(fs, fe("facts.substituting", p("R1 §10(3)", "R2 §11(4)", "R3 §10(3)")+": substituting a temporarily absent employee"))
	}
	// Performance.
	cat := ""
	if in.Person != nil {
		cat = in.Person.Category
	}
	switch {
	case rs == RuleR2 && cat == PersonMilitary:
		if a := in.Facts.LastAttestation; a == nil || a.Result != "positive" {
			fs = append(fs, fe("facts.last_attestation", "R2 §11(5) p2: the attestation commission's decision on the last attestation must be positive"))
		}
	case rs == RuleR2 && cat == PersonNB:
		for _, y := range []int{on.Year() - 1, on.Year() - 2} {
			i := slices.IndexFunc(in.Facts.KPIResults, func(k KPIResult) bool { return k.Year == y })
			if i < 0 || in.Facts.KPIResults[i].Percent < 80 {
				fs = append(fs, fe("facts.kpi_results", fmt.Sprintf("R2 §11(5) p3: actual performance on the functional KPIs for %d must be at least 80%%", y)))
			}
		}
	default:
		for _, y := range []int{on.Year() - 1, on.Year() - 2} {
			i := slices.IndexFunc(in.Facts.Assessments, func(a Assessment) bool { return a.Year == y })
			if i < 0 || in.Facts.Assessments[i].Result != "effective" {
				fs = append(fs, fe("facts.assessments", fmt.Sprintf("%s: the performance for %d must have been assessed \"effective\" (тиімді)", p("R1 §10(4)", "R2 §11(5)", "R3 §10(4)"), y)))
			}
		}
	}
	if !in.Facts.QualificationsMet {
		fs = append(fs, fe("facts.qualifications_met", p("R1 §10(5)", "R2 §11(2)", "R3 §10(5)")+": the qualification requirements of the position must be met (confirm)"))
	}
	to := in.Receiving.Name
	if rs == RuleR2 {
		to = in.Position.Unit
	}
	if c := in.Facts.Consent; c == nil || c.Date.IsZero() || c.Date.After(on) || c.To != to {
		fs = append(fs, fe("facts.consent", fmt.Sprintf("%s: written consent to the secondment to %q, dated on or before the proposal", p("R1 §10(6), §12(4)", "R2 §11(6), §13(4)", "R3 §10(6), §12(4)"), to)))
	}
	if rs != RuleR1 {
		if a := in.Facts.FirstHeadAgreement; a == nil || a.Number == "" || a.Date.IsZero() {
			fs = append(fs, fe("facts.first_head_agreement", up(rs)+" §3 p1: the agreement of the first head"))
		}
	}
	for _, k := range proposalDocs {
		if !slices.ContainsFunc(in.Documents, func(d Doc) bool { return d.Kind == k && d.Number != "" && !d.Date.IsZero() }) {
			fs = append(fs, fe("documents", fmt.Sprintf("%s: the %s (number and date)", p("R1 §12", "R2 §13", "R3 §12"), k)))
		}
	}
	return fs, nil
}

// mfaPeriods are a person's counted periods of service in the MFA and its
// foreign institutions (R1 §10(1): civil service in the authorized body).
func mfaPeriods(ctx context.Context, q db.Querier, staffID string) ([]period, error) {
	return periodsOfTypes(ctx, q, staffID, []string{PeriodMFA, PeriodForeignInstitution})
}

// unexpunged counts a person's penalties still in force on a date: a
// penalty of a kind with a term of M months (reference penalty_term) imposed
// on day I is expunged on I + M months.
func unexpunged(ctx context.Context, q db.Querier, staffID string, on Date) (int, error) {
	rows, err := q.Query(ctx, `SELECT kind, imposed_on FROM penalties WHERE staff_id = $1 AND kind <> 'dismissal'`, staffID)
	if err != nil {
		return 0, err
	}
	type pen struct {
		kind string
		on   Date
	}
	var ps []pen
	for rows.Next() {
		var p pen
		if err := rows.Scan(&p.kind, &p.on); err != nil {
			rows.Close()
			return 0, err
		}
		ps = append(ps, p)
	}
	rows.Close()
	n := 0
	for _, p := range ps {
		var v struct {
			Months int `json:"months"`
		}
		ok, err := refValue(ctx, q, RefPenaltyTerm, p.kind, &v)
		if err != nil {
			return 0, err
		}
		if !ok {
			if _, err := refValue(ctx, q, RefPenaltyTerm, "other", &v); err != nil {
				return 0, err
			}
		}
		if !p.on.After(on) && p.on.AddDate(0, v.Months, 0).After(on) {
			n++
		}
	}
	return n, nil
}

// lawTerm is the R2 term limit and extension cap of the Law's Art. 15(4)
// for the position (erratum 1): reference secondment_law_term.
type lawTerm struct {
	Years            int  `json:"years"`
	ExtensionCapDays *int `json:"extension_cap_days"`
}

func r2Term(ctx context.Context, q db.Querier, position string) (lawTerm, error) {
	var t lawTerm
	ok, err := refValue(ctx, q, RefSecondTerm, position, &t)
	if err == nil && !ok {
		ok, err = refValue(ctx, q, RefSecondTerm, "other", &t)
	}
	if err == nil && (!ok || t.Years < 1) {
		t = lawTerm{Years: termYears}
		cp := extensionCapDays
		t.ExtensionCapDays = &cp
	}
	return t, err
}

// Early-recall grounds (R1 §18(2)-(5), R2 §20(2)-(6), R3 §18(2)-(5)).
var recallGrounds = map[string][]string{
	RuleR1: {"joint_decision", "offence", "retirement_age", "other"},
	RuleR2: {"joint_decision", "diplomatic_recall", "offence", "retirement_age", "civil_service_ended"},
	RuleR3: {"joint_decision", "offence", "retirement_age", "other"},
}

func init() {
	refKinds = append(refKinds, RefPenaltyTerm, RefSecondTerm)
	refValidators[RefPenaltyTerm] = func(strict func(any) error) []valise.FieldError {
		var x struct {
			Months int `json:"months"`
		}
		if err := strict(&x); err != nil || x.Months < 1 || x.Months > 120 {
			return []valise.FieldError{fe("value", "a penalty term is {months: 1-120}")}
		}
		return nil
	}
	refValidators[RefSecondTerm] = func(strict func(any) error) []valise.FieldError {
		var x lawTerm
		if err := strict(&x); err != nil || x.Years < 1 || x.Years > 10 || x.ExtensionCapDays != nil && (*x.ExtensionCapDays < 0 || *x.ExtensionCapDays > 3660) {
			return []valise.FieldError{fe("value", "a term is {years: 1-10, extension_cap_days: 0-3660 or null (no cap)}")}
		}
		return nil
	}
}

// Pay is who pays what during a secondment (R1 §6-§7, R2 §6-§7, R3 §6-§7):
// the Decree names payers and the salary base, not amounts.
type Pay struct {
	NewPosition    string `json:"new_position"`              // who pays the salary of the seconded position
	FormerPosition string `json:"former_position,omitempty"` // who pays the payments kept for the former position
	Base           string `json:"base,omitempty"`            // what they are calculated on
	Para           string `json:"paragraph"`
}

// PayOf is the pay routing of a file.
func PayOf(rs string, receiving Body, person ExternalPerson) Pay {
	last := "the official salary of the last position in the %s, in national currency"
	stateBody := receiving.Kind == BodyCentralExecutive || receiving.Kind == BodyPresidential || receiving.Kind == BodyState
	switch rs {
	case RuleR1:
		if stateBody {
			return Pay{NewPosition: "receiving_body", FormerPosition: "mfa (Law Art. 29 payments)", Base: fmt.Sprintf(last, "MFA"), Para: "R1 §6"}
		}
		return Pay{NewPosition: "mfa", Base: fmt.Sprintf(last, "MFA"), Para: "R1 §7"}
	case RuleR2:
		if person.Category == PersonNB {
			return Pay{NewPosition: "national_bank (budget estimate)", Para: "R2 §7"}
		}
		return Pay{NewPosition: "mfa (without Law Art. 29 payments)", FormerPosition: "sending_body (sectoral legislation)", Para: "R2 §6"}
	default:
		if stateBody {
			return Pay{NewPosition: "receiving_body", FormerPosition: "sending_body (sectoral legislation)", Base: fmt.Sprintf(last, "sending body"), Para: "R3 §6"}
		}
		return Pay{NewPosition: "sending_body, unless a ratified treaty provides otherwise", Base: fmt.Sprintf(last, "sending body"), Para: "R3 §7"}
	}
}
