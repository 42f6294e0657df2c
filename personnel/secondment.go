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
	"valise/policy"
)

// Body is a state body or organisation.
type Body struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// ExternalPerson is a secondee without an MFA staff record (R2; R3 into the MFA).
type ExternalPerson struct {
	FullName  string `json:"full_name"`
	BirthDate Date   `json:"birth_date"`
	Category  string `json:"category"` // civil_servant, political_civil_servant, nb_employee, military_law_enforcement_special
}

// TargetPosition is the vacant staff unit the person is seconded to.
type TargetPosition struct {
	Title    string `json:"title"`
	Vacant   bool   `json:"vacant"`
	Category string `json:"category,omitempty"` // "" or military_law_enforcement_special
	// R2: the foreign institution (unit code) and the position code (reference position) setting the Art. 15(4) term.
	Unit string `json:"unit,omitempty"`
	Code string `json:"code,omitempty"`
}

// SecondmentInput is the proposal: the justified letter with its documents.
type SecondmentInput struct {
	RuleSet   string          `json:"rule_set"`
	StaffID   string          `json:"staff_id,omitempty"`
	Person    *ExternalPerson `json:"person,omitempty"`
	Unit      string          `json:"unit,omitempty"` // R3 into the MFA: the unit that keeps the file
	Sending   Body            `json:"sending"`
	Receiving Body            `json:"receiving"`
	Position  TargetPosition  `json:"position"`
	// On: the date the letter was received (by the receiving body; for R2 by the MFA).
	On        Date      `json:"on"`
	Documents []Doc     `json:"documents"`
	Facts     Facts     `json:"facts"`
	Override  *Override `json:"override,omitempty"`
	// Replaces: the refused proposal this one replaces (R1 §14, R2 §15, R3 §14).
	Replaces string `json:"replaces,omitempty"`
	Change
}

// StepInput records one step.
type StepInput struct {
	On      Date   `json:"on"`                // the date of the event (receipt, signature, decision)
	Outcome string `json:"outcome,omitempty"` // agreed or refused, for a decision
	Written bool   `json:"written,omitempty"` // the notice or decision is in writing
	// Coordinator: head_of_presidential_administration or prime_minister (R1/R3 §11);
	// DecidedBy: R2 §17 president or head_of_presidential_administration; an extension's decision-maker.
	Coordinator   string `json:"coordinator,omitempty"`
	DecidedBy     string `json:"decided_by,omitempty"`
	Authorization *Act   `json:"authorization,omitempty"` // the President's authorisation (R2 §10)
	Documents     []Doc  `json:"documents,omitempty"`
	// StartDate: the date in the confirming document (R1/R3), in the MFA order (R2).
	StartDate Date `json:"start_date"`
	TermEnd   Date `json:"term_end"`  // the order's last day of the term
	Until     Date `json:"until"`     // an extension's new last day
	MFAOrder  *Act `json:"mfa_order"` // R2 §19: the MFA order the sending body's order rests on
	// Consents to an extension (R1: receiving_body and person; R2: mfa and person; R3: receiving_body and person).
	Consents []Consent `json:"consents,omitempty"`
	// DocumentsChecked and Interview: R2 §14 p1.
	DocumentsChecked bool       `json:"documents_checked,omitempty"`
	Interview        *Clearance `json:"interview,omitempty"`
	// Ground of an early recall, with its basis; Offence for misconduct and an offence ground.
	Ground  string   `json:"ground,omitempty"`
	Basis   *Basis   `json:"basis,omitempty"`
	Offence *Offence `json:"offence,omitempty"`
	// R2 §12: the KPIs, the reporting interval (months, from the sending body's order), a report.
	Indicators     []Indicator `json:"indicators,omitempty"`
	IntervalMonths int         `json:"interval_months,omitempty"`
	Results        []KPIResult `json:"results,omitempty"`
	// Facts: at the order (order_issued, mfa_order), the eligibility facts as
	// they stand then, if they changed since the proposal (else the proposal's).
	Facts *Facts `json:"facts,omitempty"`
	Change
}

// Offence is a disciplinary offence of a secondee.
type Offence struct {
	Severity    string `json:"severity"` // minor, significant, gross
	CommittedOn Date   `json:"committed_on"`
	DetectedOn  Date   `json:"detected_on"`
}

// Indicator is a KPI with its goal-achievement indicator.
type Indicator struct {
	Name string `json:"name"`
	Goal string `json:"goal"`
}

// Step is a recorded step.
type Step struct {
	Step    string          `json:"step"`
	Para    string          `json:"paragraph"`
	On      Date            `json:"on"`
	Due     Date            `json:"due"`
	Late    bool            `json:"late"`
	Outcome string          `json:"outcome,omitempty"`
	Data    json.RawMessage `json:"data"`
	EventID string          `json:"event_id"`
}

// Pending is a step expected next, with its deadline (zero: none in the text).
type Pending struct {
	Step    string `json:"step"`
	Para    string `json:"paragraph"`
	Actor   string `json:"actor"`
	Due     Date   `json:"due"`
	Overdue bool   `json:"overdue"`
}

// Secondment is a secondment file.
type Secondment struct {
	ID          string         `json:"id"`
	RuleSet     string         `json:"rule_set"`
	Title       string         `json:"title"`
	StaffID     string         `json:"staff_id,omitempty"`
	Person      ExternalPerson `json:"person"`
	Unit        string         `json:"unit"`
	Sending     Body           `json:"sending"`
	Receiving   Body           `json:"receiving"`
	Position    TargetPosition `json:"position"`
	Coordinator string         `json:"coordinator"`
	Pay         Pay            `json:"pay"`
	// HomePosition: the position the person keeps (R1 §4, R2 §4, R3 §4; HR-29), for MFA staff.
	HomePosition *Position       `json:"home_position"`
	LegalBasis   string          `json:"legal_basis"`
	State        string          `json:"state"`
	Replaces     string          `json:"replaces,omitempty"`
	ProposedOn   Date            `json:"proposed_on"`
	StartDate    Date            `json:"start_date"`
	TermEnd      Date            `json:"term_end"`
	ExtendedTo   Date            `json:"extended_to"`
	Override     *Override       `json:"override"`
	Reporting    json.RawMessage `json:"reporting"`
	Steps        []Step          `json:"steps"`
	Next         []Pending       `json:"next"`
	Warnings     []string        `json:"warnings"`
	Version      int             `json:"version"`
}

// SecondmentEvent is one entry of a secondment's history.
type SecondmentEvent struct {
	ID         string          `json:"id"`
	Seq        int64           `json:"seq"`
	Kind       string          `json:"kind"`
	Data       json.RawMessage `json:"data"`
	Reason     string          `json:"reason"`
	Act        Act             `json:"act"`
	RecordedBy string          `json:"recorded_by"`
	RecordedAt time.Time       `json:"recorded_at"`
}

func recordSecondment(ctx context.Context, tx pgx.Tx, id, kind string, data any, c Change, by policy.Subject) (string, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return "", err
	}
	var ev string
	err = tx.QueryRow(ctx, `INSERT INTO secondment_events (secondment_id, kind, data, reason, act_number, act_date, recorded_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, id, kind, b, c.Reason, c.Act.Number, c.Act.Date, by.Username).Scan(&ev)
	if err != nil {
		return "", fmt.Errorf("record secondment %s: %w", kind, err)
	}
	_, err = tx.Exec(ctx, `UPDATE secondments SET version = version + 1 WHERE id = $1`, id)
	return ev, err
}

func secondmentResource(id, unit, person string) policy.Resource {
	return policy.Resource{Kind: "staff", ID: id, Origin: unit, Person: person}
}

// Propose records a proposal (R1 §12, R2 §13, R3 §12): every eligibility
// and scope condition is evaluated, and a refusal names each failed one.
func (s *Service) Propose(ctx context.Context, check Check, by policy.Subject, in SecondmentInput) (Secondment, error) {
	_, ok := RuleSets[in.RuleSet]
	fs := in.fields()
	if !ok {
		return Secondment{}, refusal("the proposal is invalid", append(fs, fe("rule_set", "one of r1, r2, r3 (Decree 755)"))...)
	}
	var id string
	cal, err := LoadCalendar(ctx, s.pool)
	if err != nil {
		return Secondment{}, err
	}
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var unit, person string
		switch {
		case in.StaffID != "" && in.Person != nil:
			fs = append(fs, fe("person", "give staff_id (an MFA staff record) or person, not both"))
		case in.RuleSet == RuleR1 && in.StaffID == "":
			fs = append(fs, fe("staff_id", "R1 §1, §5(3): R1 seconds the MFA's diplomatic service personnel: their staff record"))
		case in.RuleSet == RuleR2 && in.StaffID != "":
			fs = append(fs, fe("staff_id", "R2 §1 (Law Art. 15-2): R2 takes civil servants of other state bodies and National Bank employees: describe the person"))
		case in.StaffID == "" && in.Person == nil:
			fs = append(fs, fe("person", "required (or staff_id)"))
		}
		if in.StaffID != "" {
			r, err := lockStaff(ctx, tx, in.StaffID, check, policy.ActStaffManage)
			if err != nil {
				return err
			}
			unit, person = r.unit, r.userID
			var name string
			var bd Date
			var terminated *Date
			if err := tx.QueryRow(ctx, `SELECT full_name, birth_date, terminated_on FROM staff WHERE id = $1`, in.StaffID).Scan(&name, &bd, &terminated); err != nil {
				return err
			}
			if terminated != nil && !terminated.IsZero() && !terminated.After(in.On) {
				fs = append(fs, fe("staff_id", fmt.Sprintf("HR-33: the person's service ended on %s", terminated)))
			}
			in.Person = &ExternalPerson{FullName: name, BirthDate: bd, Category: PersonCivilServant}
			if in.RuleSet == RuleR1 {
				in.Sending = Body{Name: "Ministry of Foreign Affairs", Kind: BodyMFA}
			}
		} else if in.Person != nil {
			if strings.TrimSpace(in.Person.FullName) == "" {
				fs = append(fs, fe("person.full_name", "required"))
			}
			if in.Person.BirthDate.IsZero() {
				fs = append(fs, fe("person.birth_date", "required"))
			}
			cats := []string{PersonCivilServant, PersonPolitical, PersonNB, PersonMilitary}
			if !slices.Contains(cats, in.Person.Category) {
				fs = append(fs, fe("person.category", fmt.Sprintf("one of %v", cats)))
			}
			unit = in.Unit
			if in.RuleSet == RuleR2 {
				unit = in.Position.Unit
			}
		}
		// Bodies.
		if strings.TrimSpace(in.Receiving.Name) == "" && in.RuleSet != RuleR2 {
			fs = append(fs, fe("receiving.name", "required"))
		}
		recvKinds := []string{BodyCentralExecutive, BodyPresidential, BodyState, BodyOther, BodyInternational, BodyNonRK}
		if in.RuleSet == RuleR2 {
			var kind string
			err := tx.QueryRow(ctx, `SELECT kind FROM units WHERE code = $1`, in.Position.Unit).Scan(&kind)
			if errors.Is(err, pgx.ErrNoRows) || err == nil && !slices.Contains([]string{"embassy", "consulate", "permanent_mission"}, kind) {
				fs = append(fs, fe("position.unit", "R2 §3 p2, HR-30: a vacant position in an RK foreign institution (the code of an embassy, consulate or permanent mission)"))
			} else if err != nil {
				return err
			}
			in.Receiving = Body{Name: in.Position.Unit, Kind: BodyForeignInst}
			if in.Person != nil && in.Person.Category == PersonNB {
				in.Sending.Kind = BodyNationalBank
			}
			if !slices.Contains([]string{BodyState, BodyNationalBank, BodyPA}, in.Sending.Kind) {
				fs = append(fs, fe("sending.kind", "R2 §5: the sending body is a state body, the National Bank or the Presidential Administration"))
			}
		} else if !slices.Contains(recvKinds, in.Receiving.Kind) {
			fs = append(fs, fe("receiving.kind", fmt.Sprintf("one of %v", recvKinds)))
		}
		if in.RuleSet == RuleR3 && in.StaffID != "" {
			in.Sending = Body{Name: "Ministry of Foreign Affairs", Kind: BodyMFA}
		}
		if in.RuleSet != RuleR1 && strings.TrimSpace(in.Sending.Name) == "" {
			fs = append(fs, fe("sending.name", "required"))
		}
		if in.RuleSet == RuleR3 && in.StaffID == "" && in.Receiving.Kind != BodyState && in.Receiving.Kind != BodyCentralExecutive {
			fs = append(fs, fe("receiving.kind", "R3 into the MFA: the MFA is the receiving (central executive) body"))
		}
		if strings.TrimSpace(in.Position.Title) == "" {
			fs = append(fs, fe("position.title", "required"))
		}
		if in.Position.Category != "" && in.Position.Category != PersonMilitary {
			fs = append(fs, fe("position.category", "empty, or "+PersonMilitary))
		}
		if in.On.IsZero() {
			fs = append(fs, fe("on", "the date the letter was received"))
		} else if in.On.After(Today(s.now())) {
			fs = append(fs, fe("on", "a proposal is recorded once received: not a future date"))
		}
		if in.StaffID == "" && unit == "" {
			fs = append(fs, fe("unit", "the MFA unit that keeps the file"))
		}
		fs = append(fs, overrideFailures(in.RuleSet, in.Receiving, in.Override)...)
		// Every condition is evaluated, whatever else is wrong, so a refusal names them all.
		el, err := eligibility(ctx, tx, in)
		if err != nil {
			return err
		}
		fs = append(fs, el...)
		var late bool
		if in.Replaces != "" {
			var state, prs string
			var refusedOn Date
			if db.ValidUUID(in.Replaces) {
				err := tx.QueryRow(ctx, `SELECT s.state, s.rule_set, coalesce((SELECT on_date FROM secondment_steps WHERE secondment_id = s.id AND outcome = 'refused' ORDER BY id DESC LIMIT 1), s.proposed_on)
					FROM secondments s WHERE s.id = $1`, in.Replaces).Scan(&state, &prs, &refusedOn)
				if err != nil && !errors.Is(err, pgx.ErrNoRows) {
					return err
				}
			}
			switch {
			case state == "" || prs != in.RuleSet:
				fs = append(fs, fe("replaces", "the id of a refused proposal under the same rule set"))
			case state != SRefused:
				fs = append(fs, fe("replaces", fmt.Sprintf("%s §14: only a refused proposal is replaced (this one is %s)", up(in.RuleSet), state)))
			case in.RuleSet != RuleR3 && !in.On.IsZero():
				late = in.On.After(dueDate(cal, refusedOn, Deadline{WD: 5}))
			}
		}
		if len(fs) > 0 {
			return refusal("secondment refused", fs...)
		}
		var unitID string
		if err := tx.QueryRow(ctx, `SELECT id FROM units WHERE code = $1`, unit).Scan(&unitID); errors.Is(err, pgx.ErrNoRows) {
			return refusal("secondment refused", fe("unit", fmt.Sprintf("no unit has code %q", unit)))
		} else if err != nil {
			return err
		}
		if err := check(ctx, policy.ActStaffManage, secondmentResource("", unit, person)); err != nil {
			return err
		}
		pj, _ := json.Marshal(in.Person)
		sj, _ := json.Marshal(in.Sending)
		rj, _ := json.Marshal(in.Receiving)
		posj, _ := json.Marshal(in.Position)
		var ov []byte
		if in.Override != nil {
			ov, _ = json.Marshal(in.Override)
		}
		err = tx.QueryRow(ctx, `INSERT INTO secondments (rule_set, staff_id, person, unit_id, sending, receiving, position,
			legal_basis, state, replaces, proposed_on, override)
			VALUES ($1, nullif($2, '')::uuid, $3, $4, $5, $6, $7, $8, $9, nullif($10, '')::uuid, $11, $12) RETURNING id`,
			in.RuleSet, in.StaffID, pj, unitID, sj, rj, posj, LegalBasis, SProposed, in.Replaces, in.On, ov).Scan(&id)
		if err != nil {
			return err
		}
		data := in
		data.Change = Change{}
		ev, err := recordSecondment(ctx, tx, id, "proposed", data, in.Change, by)
		if err != nil {
			return err
		}
		dj, _ := json.Marshal(map[string]any{"documents": in.Documents, "replaces": in.Replaces})
		_, err = tx.Exec(ctx, `INSERT INTO secondment_steps (secondment_id, step, on_date, late, data, event_id) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, anchorProposal, in.On, late, dj, ev)
		if err == nil && in.StaffID != "" {
			_, err = record(ctx, tx, in.StaffID, "secondment_proposed", map[string]string{"secondment_id": id, "rule_set": in.RuleSet}, in.Change, "", by)
		}
		return err
	})
	if err != nil {
		return Secondment{}, err
	}
	return s.GetSecondment(ctx, check, id)
}

// secondmentRow is what a step needs of the file.
type secondmentRow struct {
	id, rs, state, unit, person, staffID string
	who                                  ExternalPerson
	sending, receiving                   Body
	position                             TargetPosition
	override                             *Override
	proposed, start, termEnd, extended   Date
	reporting                            json.RawMessage
	steps                                []Step
}

func loadSecondmentRow(ctx context.Context, q db.Querier, id string, lock bool) (secondmentRow, error) {
	if !db.ValidUUID(id) {
		return secondmentRow{}, valise.Errorf(valise.ENOTFOUND, "not found")
	}
	rs, err := loadSecondmentRows(ctx, q, `s.id = $1`, lock, id)
	if err == nil && len(rs) == 0 {
		err = valise.Errorf(valise.ENOTFOUND, "not found")
	}
	if err != nil {
		return secondmentRow{}, err
	}
	return rs[0], nil
}

// loadSecondmentRows loads the files matching where (on secondments s) with
// their steps, in two queries (lock: FOR UPDATE of the files).
func loadSecondmentRows(ctx context.Context, q db.Querier, where string, lock bool, args ...any) ([]secondmentRow, error) {
	l := ""
	if lock {
		l = " FOR UPDATE OF s"
	}
	rows, err := q.Query(ctx, `SELECT s.id::text, s.rule_set, s.state, u.code, coalesce(st.user_id::text, ''), coalesce(s.staff_id::text, ''),
		s.person, s.sending, s.receiving, s.position, s.override, s.proposed_on, s.start_date, s.term_end, s.extended_to, s.reporting
		FROM secondments s JOIN units u ON u.id = s.unit_id LEFT JOIN staff st ON st.id = s.staff_id WHERE `+where+`
		ORDER BY s.proposed_on, s.id`+l, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (secondmentRow, error) {
		var r secondmentRow
		var pe, sj, rj, pj, ov []byte
		if err := row.Scan(&r.id, &r.rs, &r.state, &r.unit, &r.person, &r.staffID, &pe, &sj, &rj, &pj, &ov, &r.proposed, &r.start,
			&r.termEnd, &r.extended, &r.reporting); err != nil {
			return r, err
		}
		_ = json.Unmarshal(pe, &r.who)
		_ = json.Unmarshal(sj, &r.sending)
		_ = json.Unmarshal(rj, &r.receiving)
		_ = json.Unmarshal(pj, &r.position)
		if len(ov) > 0 {
			r.override = &Override{}
			_ = json.Unmarshal(ov, r.override)
		}
		return r, nil
	})
	if err != nil || len(out) == 0 {
		return out, err
	}
	ids := make([]string, len(out))
	at := map[string]int{}
	for i, r := range out {
		ids[i], at[r.id] = r.id, i
	}
	srows, err := q.Query(ctx, `SELECT secondment_id::text, step, on_date, due, late, outcome, data, event_id::text
		FROM secondment_steps WHERE secondment_id = ANY($1::uuid[]) ORDER BY id`, ids)
	if err != nil {
		return nil, err
	}
	defer srows.Close()
	for srows.Next() {
		var id string
		var st Step
		if err := srows.Scan(&id, &st.Step, &st.On, &st.Due, &st.Late, &st.Outcome, &st.Data, &st.EventID); err != nil {
			return nil, err
		}
		r := &out[at[id]]
		if spec, ok := RuleSets[r.rs].spec(st.Step); ok {
			st.Para = spec.Para
		} else {
			st.Para = map[string]string{RuleR1: "§12", RuleR2: "§13", RuleR3: "§12"}[r.rs]
		}
		r.steps = append(r.steps, st)
	}
	return out, srows.Err()
}

// last returns the latest recorded step of that name.
func (r secondmentRow) last(step string) (Step, bool) {
	for i := len(r.steps) - 1; i >= 0; i-- {
		if r.steps[i].Step == step {
			return r.steps[i], true
		}
	}
	return Step{}, false
}

// due is the deadline of spec for this file (zero: none, or overridden, or its anchor not yet recorded).
func (r secondmentRow) due(cal *Calendar, spec StepSpec) Date {
	d := spec.Due
	if d == nil || d.Overridable && r.override != nil && r.override.Deadlines != nil {
		return Date{}
	}
	if spec.Step == "pa_submitted" && r.sending.Kind == BodyPA {
		return Date{}
	}
	a, ok := r.last(d.From)
	if !ok {
		return Date{}
	}
	return dueDate(cal, a.On, *d)
}

// RecordStep records one step of the file's workflow: in order, with the
// checks its paragraph sets; a late step is recorded and marked late (the
// Decree attaches no sanction to a missed deadline, so it never blocks).
func (s *Service) RecordStep(ctx context.Context, check Check, by policy.Subject, id, step string, in StepInput) (Secondment, error) {
	cal, err := LoadCalendar(ctx, s.pool)
	if err != nil {
		return Secondment{}, err
	}
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := loadSecondmentRow(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := check(ctx, policy.ActStaffManage, secondmentResource(id, r.unit, r.person)); err != nil {
			return err
		}
		rs := RuleSets[r.rs]
		spec, ok := rs.spec(step)
		if !ok {
			names := make([]string, len(rs.Steps))
			for i, x := range rs.Steps {
				names[i] = x.Step
			}
			return valise.Errorf(valise.ENOTFOUND, "%s has no step %q (steps: %s)", up(r.rs), step, strings.Join(names, ", "))
		}
		fs := in.fields()
		if in.On.IsZero() {
			fs = append(fs, fe("on", "the date of the event"))
		} else if in.On.After(Today(s.now())) {
			fs = append(fs, fe("on", "not a future date: a step is recorded once it has happened"))
		}
		if spec.Outcome && in.Outcome != "agreed" && in.Outcome != "refused" {
			fs = append(fs, fe("outcome", "agreed or refused"))
		}
		if !spec.Outcome && in.Outcome != "" {
			fs = append(fs, fe("outcome", "only a decision has an outcome"))
		}
		if len(fs) > 0 {
			return refusal("the step is invalid", fs...)
		}
		if !slices.Contains(spec.After, r.state) {
			return conflict(up(r.rs)+" "+spec.Para, "%s is recorded when the file is %s; it is %s", step, strings.Join(spec.After, " or "), r.state)
		}
		if _, done := r.last(step); done && (spec.Once || spec.Sets != "") {
			return conflict(up(r.rs)+" "+spec.Para, "%s is already recorded", step)
		}
		if prev := r.steps[len(r.steps)-1]; in.On.Before(prev.On) && spec.Sets != "" {
			return refusal("the step is invalid", fe("on", fmt.Sprintf("not before the previous step (%s on %s)", prev.Step, prev.On)))
		}
		due := r.due(cal, spec)
		late := !due.IsZero() && in.On.After(due)
		upd := map[string]any{}
		var warnings []string
		fs, err = s.stepRules(ctx, tx, cal, r, spec, in, upd, &warnings, &due, &late)
		if err != nil {
			return err
		}
		if len(fs) > 0 {
			return refusal(fmt.Sprintf("%s %s refused", up(r.rs), step), fs...)
		}
		state := r.state
		if spec.Sets != "" {
			state = spec.Sets
		}
		if in.Outcome == "refused" {
			state = spec.Refused
		}
		data := in
		data.Change = Change{}
		ev, err := recordSecondment(ctx, tx, id, step, map[string]any{"step": data, "due": due, "late": late, "warnings": warnings}, in.Change, by)
		if err != nil {
			return err
		}
		dj, _ := json.Marshal(map[string]any{"input": data, "act": in.Act, "warnings": warnings})
		if _, err := tx.Exec(ctx, `INSERT INTO secondment_steps (secondment_id, step, on_date, due, late, outcome, data, event_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, id, step, in.On, due, late, in.Outcome, dj, ev); err != nil {
			return err
		}
		sets := []string{"state = $2"}
		args := []any{id, state}
		for _, col := range []string{"start_date", "term_end", "extended_to", "reporting"} {
			if v, ok := upd[col]; ok {
				args = append(args, v)
				sets = append(sets, fmt.Sprintf("%s = $%d", col, len(args)))
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE secondments SET `+strings.Join(sets, ", ")+` WHERE id = $1`, args...); err != nil {
			return err
		}
		if r.staffID != "" && spec.Sets != "" {
			_, err = record(ctx, tx, r.staffID, "secondment_"+step, map[string]string{"secondment_id": id, "outcome": in.Outcome}, in.Change, "", by)
		}
		return err
	})
	if err != nil {
		return Secondment{}, err
	}
	return s.GetSecondment(ctx, check, id)
}

// recheckAtOrder evaluates the proposal's eligibility and scope conditions
// again on the date of the order: the facts are the proposal's, or those the
// order step gives (recorded with the step); the staff
// record's (tenure, penalties, end of service) are read as of that date.
// Each failed condition is named "at the order".
func recheckAtOrder(ctx context.Context, tx pgx.Tx, id string, in StepInput) ([]valise.FieldError, error) {
	var b []byte
	if err := tx.QueryRow(ctx, `SELECT data FROM secondment_events WHERE secondment_id = $1 AND kind = 'proposed' ORDER BY seq LIMIT 1`, id).Scan(&b); err != nil {
		return nil, err
	}
	var p SecondmentInput
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	if in.Facts != nil {
		p.Facts = *in.Facts
	}
	p.On = in.On
	fs, err := eligibility(ctx, tx, p)
	if err != nil {
		return nil, err
	}
	if p.StaffID != "" {
		var terminated *Date
		if err := tx.QueryRow(ctx, `SELECT terminated_on FROM staff WHERE id = $1`, p.StaffID).Scan(&terminated); err != nil {
			return nil, err
		}
		if terminated != nil && !terminated.IsZero() && !terminated.After(in.On) {
			fs = append(fs, fe("staff_id", fmt.Sprintf("HR-33: the person's service ended on %s", terminated)))
		}
	}
	for i := range fs {
		if !strings.HasPrefix(fs[i].Field, "facts.") || in.Facts != nil || fs[i].Field == "facts.consent" {
			fs[i].Reason = fmt.Sprintf("at the order (%s): %s", in.On, fs[i].Reason)
			continue
		}
		fs[i].Reason = fmt.Sprintf("at the order (%s): %s (give the facts as they stand now in the step's facts)", in.On, fs[i].Reason)
	}
	return fs, nil
}

// stepRules are the checks of each step; they fill upd with the columns to set.
func (s *Service) stepRules(ctx context.Context, tx pgx.Tx, cal *Calendar, r secondmentRow, spec StepSpec, in StepInput,
	upd map[string]any, warnings *[]string, due *Date, late *bool) ([]valise.FieldError, error) {
	var fs []valise.FieldError
	R := up(r.rs)
	hasDoc := func(kind string) bool {
		return slices.ContainsFunc(in.Documents, func(d Doc) bool { return d.Kind == kind && d.Number != "" && !d.Date.IsZero() })
	}
	switch spec.Step {
	case "coordination_submitted":
		want := Coordinator(r.rs, r.receiving.Kind)
		if in.Coordinator != want {
			fs = append(fs, fe("coordinator", fmt.Sprintf("%s §11: a secondment to a %s is agreed with the %s", R, r.receiving.Kind, want)))
		}
		if !hasDoc("receiver_letter_copy") {
			fs = append(fs, fe("documents", R+" §15: the package includes a copy of the receiving body's letter (receiver_letter_copy)"))
		}
	case "coordination_decision":
		want := Coordinator(r.rs, r.receiving.Kind)
		if in.Coordinator != want {
			fs = append(fs, fe("coordinator", fmt.Sprintf("%s §11, §16: the agreement is the %s's", R, want)))
		}
	case "review_done":
		if !in.DocumentsChecked {
			fs = append(fs, fe("documents_checked", "R2 §14 p1: the MFA checks the documents"))
		}
		if in.Interview == nil || in.Interview.Date.IsZero() || in.Interview.Result == "" {
			fs = append(fs, fe("interview", "R2 §14 p1: the interview, its date and result (preparedness, §11 compliance)"))
		}
	case "pa_submitted":
		if r.sending.Kind == BodyPA {
			return nil, conflict("R2 §16 p2", "the candidate is a civil servant of the Presidential Administration: the letter to it is not required; record presidential_decision")
		}
		if !hasDoc("mfa_letter_copy") {
			fs = append(fs, fe("documents", "R2 §16 p1: the letter carries a copy of the MFA letter (mfa_letter_copy)"))
		}
	case "presidential_decision":
		if r.state == SAgreed && r.sending.Kind != BodyPA {
			return nil, conflict("R2 §16", "the sending body's letter to the Presidential Administration (pa_submitted) comes first")
		}
		switch in.DecidedBy {
		case "president":
		case "head_of_presidential_administration":
			if in.Authorization == nil || in.Authorization.Number == "" || in.Authorization.Date.IsZero() {
				fs = append(fs, fe("authorization", "HR-30, R2 §10: the Head of the Presidential Administration decides by the President's authorisation: cite it"))
			}
		default:
			fs = append(fs, fe("decided_by", "HR-30, R2 §10, §17: the President, or the Head of the Presidential Administration by his authorisation"))
		}
	case "appointment_confirmed":
		if in.StartDate.IsZero() {
			fs = append(fs, fe("start_date", R+" §17: the confirming document gives the date the secondment runs from"))
		}
		upd["start_date"] = in.StartDate
	case "order_issued", "mfa_order":
		start := in.StartDate
		if spec.Step == "order_issued" {
			if !start.Equal(r.start) {
				fs = append(fs, fe("start_date", fmt.Sprintf("%s §17: the order runs from the date in the confirming document (%s)", R, r.start)))
			}
		} else if start.IsZero() {
			fs = append(fs, fe("start_date", "R2 §18: the date of the appointment in the MFA order"))
		}
		years, basis := termYears, fmt.Sprintf("%s §8 p1: at most 3 years", R)
		if r.override != nil && r.override.Term != nil {
			years, basis = r.override.TermYears, fmt.Sprintf("%s §8 p1: the term %s %s sets (%d years)", R, r.override.Term.Kind, r.override.Term.Ref, r.override.TermYears)
		} else if r.rs == RuleR2 {
			t, err := r2Term(ctx, tx, r.position.Code)
			if err != nil {
				return nil, err
			}
			years, basis = t.Years, fmt.Sprintf("HR-30, erratum 1: Law Art. 15-2(2) applies the Art. 15(4) term of the position (%d years)", t.Years)
		}
		switch {
		case in.TermEnd.IsZero() || !in.TermEnd.After(start):
			fs = append(fs, fe("term_end", "the last day of the term, after the start"))
		case !start.IsZero() && in.TermEnd.After(start.AddDate(years, 0, 0)):
			fs = append(fs, fe("term_end", fmt.Sprintf("%s: the last day is at most %s", basis, start.AddDate(years, 0, 0))))
		}
		upd["start_date"], upd["term_end"], upd["extended_to"] = start, in.TermEnd, in.TermEnd
		// Every condition again as of the order's date (R1 §10, R2 §11, R3 §10
		// hold for the person seconded, not only for the one proposed).
		again, err := recheckAtOrder(ctx, tx, r.id, in)
		if err != nil {
			return nil, err
		}
		fs = append(fs, again...)
	case "sending_body_order":
		o, _ := r.last("mfa_order")
		var mo struct {
			Act Act `json:"act"`
		}
		_ = json.Unmarshal(o.Data, &mo)
		if in.MFAOrder == nil || in.MFAOrder.Number != mo.Act.Number {
			fs = append(fs, fe("mfa_order", fmt.Sprintf("R2 §19: the sending body's order rests on a copy or extract of the MFA order (%s)", mo.Act.Number)))
		}
	case "extension":
		var parties []string
		decider := "mfa"
		switch r.rs {
		case RuleR1, RuleR3:
			parties = []string{"receiving_body", "person"}
			if r.rs == RuleR3 {
				decider = "sending_body"
			}
		case RuleR2:
			parties, decider = []string{"mfa", "person"}, "sending_body"
		}
		if in.DecidedBy != decider {
			fs = append(fs, fe("decided_by", fmt.Sprintf("%s §8 p2: the extension is decided by the %s", R, decider)))
		}
		for _, p := range parties {
			if !slices.ContainsFunc(in.Consents, func(c Consent) bool { return c.Party == p && !c.Date.IsZero() && !c.Date.After(in.On) }) {
				fs = append(fs, fe("consents", fmt.Sprintf("%s §8 p2: the consent of the %s, dated on or before the decision", R, p)))
			}
		}
		capDays := extensionCapDays
		limit := r.termEnd.AddDate(1, 0, 0)
		what := "at most one year in all"
		if r.rs == RuleR2 {
			t, err := r2Term(ctx, tx, r.position.Code)
			if err != nil {
				return nil, err
			}
			if t.ExtensionCapDays == nil {
				capDays = -1
			} else if *t.ExtensionCapDays != extensionCapDays {
				capDays, limit, what = *t.ExtensionCapDays, r.termEnd.AddDate(0, 0, *t.ExtensionCapDays), fmt.Sprintf("at most %d days in all", *t.ExtensionCapDays)
			}
		}
		switch {
		case in.Until.IsZero() || !in.Until.After(r.extended):
			fs = append(fs, fe("until", fmt.Sprintf("the new last day, after the current one (%s)", r.extended)))
		case capDays >= 0 && in.Until.After(limit):
			fs = append(fs, fe("until", fmt.Sprintf("%s §8 p2: an extension is %s: the last day is at most %s", R, what, limit)))
		}
		upd["extended_to"] = in.Until
	case "misconduct_materials":
		o := in.Offence
		if o == nil || o.CommittedOn.IsZero() || !slices.Contains([]string{"minor", "significant", "gross"}, o.Severity) {
			fs = append(fs, fe("offence", "the offence: committed_on, detected_on (if later) and severity (minor, significant, gross)"))
			break
		}
		anchor := o.CommittedOn
		if o.DetectedOn.After(anchor) {
			anchor = o.DetectedOn
		}
		*due = dueDate(cal, anchor, Deadline{WD: 5})
		*late = in.On.After(*due)
	case "expiry_notice":
		if !in.Written {
			fs = append(fs, fe("written", R+" "+spec.Para+": the notice before a release on expiry is written"))
		}
		if end := r.extended; !end.IsZero() && in.On.After(end) {
			*warnings = append(*warnings, fmt.Sprintf("the term ended on %s, before the notice", end))
		}
	case "release":
		n, _ := r.last("expiry_notice")
		if earliest := dueDate(cal, n.On, Deadline{WD: 10}); in.On.Before(earliest) {
			*warnings = append(*warnings, fmt.Sprintf("%s %s: the written notice came less than 10 working days before the release (not before %s)", R, spec.Para, earliest))
		}
	case "early_recall":
		grounds := recallGrounds[r.rs]
		if !slices.Contains(grounds, in.Ground) {
			fs = append(fs, fe("ground", fmt.Sprintf("%s %s: one of %v", R, spec.Para, grounds)))
			break
		}
		switch in.Ground {
		case "joint_decision":
			if !in.Written || !hasDoc("joint_decision") {
				fs = append(fs, fe("documents", R+": the joint decision is written: attach it (joint_decision)"))
			}
		case "offence":
			o := in.Offence
			nb := r.rs == RuleR2 && r.who.Category == PersonNB
			if o == nil || o.CommittedOn.IsZero() {
				fs = append(fs, fe("offence", "the offence (committed_on, severity)"))
			} else if !nb && o.Severity != "significant" && o.Severity != "gross" {
				fs = append(fs, fe("offence.severity", fmt.Sprintf("%s %s: only a significant or gross disciplinary offence (an NB employee under R2: any)", R, map[string]string{RuleR1: "§18(3)", RuleR2: "§20(4)", RuleR3: "§18(3)"}[r.rs])))
			} else if nb && !slices.Contains([]string{"minor", "significant", "gross"}, o.Severity) {
				fs = append(fs, fe("offence.severity", "minor, significant or gross"))
			}
		default:
			if in.Basis == nil || in.Basis.Ref == "" {
				fs = append(fs, fe("basis", "cite the act that gives the ground"))
			}
		}
	case "early_recall_notice":
		if r.rs == RuleR3 && !in.Written {
			fs = append(fs, fe("written", "R3 §20: the receiving body is notified in writing"))
		}
	case "kpi_approved":
		if len(in.Indicators) == 0 {
			fs = append(fs, fe("indicators", "R2 §12 p2: the KPIs"))
		}
		for i, k := range in.Indicators {
			if strings.TrimSpace(k.Name) == "" || strings.TrimSpace(k.Goal) == "" {
				fs = append(fs, fe(fmt.Sprintf("indicators[%d]", i), "R2 §12 p2: each KPI contains its goal-achievement indicator (name and goal)"))
			}
		}
	case "reporting_procedure":
		if in.IntervalMonths < 1 || in.IntervalMonths > maxReportMonths {
			fs = append(fs, fe("interval_months", "the reporting interval the sending body's order sets, 1-12 months"))
		}
		upd["reporting"] = map[string]any{"order": in.Act, "interval_months": in.IntervalMonths, "since": in.On}
	case "report":
		var rep struct {
			IntervalMonths int `json:"interval_months"`
		}
		if len(r.reporting) == 0 || json.Unmarshal(r.reporting, &rep) != nil || rep.IntervalMonths == 0 {
			return nil, conflict("R2 §12 p1", "reports follow the reporting procedure: record reporting_procedure first")
		}
		if len(in.Results) == 0 {
			fs = append(fs, fe("results", "R2 §12 p1: the results on the KPIs"))
		}
		*due = nextReport(cal, r, rep.IntervalMonths)
		*late = in.On.After(*due)
	}
	return fs, nil
}

// nextReport is when the next R2 report is due: an interval after the
// reporting procedure or the last report.
func nextReport(cal *Calendar, r secondmentRow, months int) Date {
	a, ok := r.last("report")
	if !ok {
		a, _ = r.last("reporting_procedure")
	}
	return dueDate(cal, a.On, Deadline{Months: months})
}

// pending is what the file expects next, with deadlines.
func (r secondmentRow) pending(cal *Calendar, today Date) []Pending {
	out := []Pending{}
	rs := RuleSets[r.rs]
	for _, spec := range rs.Steps {
		if !slices.Contains(spec.After, r.state) {
			continue
		}
		if _, done := r.last(spec.Step); done && (spec.Once || spec.Sets != "") {
			continue
		}
		if spec.Step == "pa_submitted" && r.sending.Kind == BodyPA || spec.Step == "presidential_decision" && r.state == SAgreed && r.sending.Kind != BodyPA {
			continue
		}
		due := r.due(cal, spec)
		switch spec.Step {
		case "report":
			var rep struct {
				IntervalMonths int `json:"interval_months"`
			}
			if len(r.reporting) == 0 || json.Unmarshal(r.reporting, &rep) != nil || rep.IntervalMonths == 0 {
				continue
			}
			due = nextReport(cal, r, rep.IntervalMonths)
		case "expiry_notice":
			// The notice goes 10 working days before the release decision,
			// taken at the end of the term at the latest.
			if !r.extended.IsZero() {
				due = Date{cal.AddWorkingDays(r.extended.Time, -10)}
			}
		case "extension", "misconduct_materials", "early_recall":
			continue // on events, not on a schedule
		}
		out = append(out, Pending{Step: spec.Step, Para: spec.Para, Actor: spec.Actor, Due: due, Overdue: !due.IsZero() && today.After(due)})
	}
	return out
}

// GetSecondment returns a secondment file the caller may read.
func (s *Service) GetSecondment(ctx context.Context, check Check, id string) (Secondment, error) {
	cal, err := LoadCalendar(ctx, s.pool)
	if err != nil {
		return Secondment{}, err
	}
	var out Secondment
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := loadSecondmentRow(ctx, tx, id, false)
		if err != nil {
			return err
		}
		if err := check(ctx, policy.ActStaffRead, secondmentResource(id, r.unit, r.person)); err != nil {
			return err
		}
		var replaces *string
		if err := tx.QueryRow(ctx, `SELECT replaces::text, version FROM secondments WHERE id = $1`, id).Scan(&replaces, &out.Version); err != nil {
			return err
		}
		out.Person = r.who
		if replaces != nil {
			out.Replaces = *replaces
		}
		out.ID, out.RuleSet, out.Title, out.StaffID, out.Unit = id, r.rs, RuleSets[r.rs].Title, r.staffID, r.unit
		out.Sending, out.Receiving, out.Position, out.LegalBasis, out.State = r.sending, r.receiving, r.position, LegalBasis, r.state
		out.ProposedOn, out.StartDate, out.TermEnd, out.ExtendedTo, out.Override = r.proposed, r.start, r.termEnd, r.extended, r.override
		out.Reporting, out.Steps = r.reporting, r.steps
		if len(out.Reporting) == 0 {
			out.Reporting = json.RawMessage("null")
		}
		out.Coordinator = Coordinator(r.rs, r.receiving.Kind)
		out.Pay = PayOf(r.rs, r.receiving, r.who)
		if r.staffID != "" {
			ps, err := loadPositions(ctx, tx, r.staffID)
			if err != nil {
				return err
			}
			for i := range ps {
				if ps[i].EndDate.IsZero() {
					out.HomePosition = &ps[i]
				}
			}
		}
		if r.rs == RuleR2 {
			out.Coordinator = "president"
		}
		today := Today(s.now())
		out.Next = r.pending(cal, today)
		out.Warnings = []string{}
		for _, st := range r.steps {
			if st.Late {
				out.Warnings = append(out.Warnings, fmt.Sprintf("%s on %s was after its deadline %s", st.Step, st.On, st.Due))
			}
		}
		if (r.state == SServing) && !r.extended.IsZero() && today.After(r.extended) {
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s §8: the term ended on %s and the secondment is still running", up(r.rs), r.extended))
		}
		return nil
	})
	return out, err
}

// SecondmentSummary is one row of the list.
type SecondmentSummary struct {
	ID         string `json:"id"`
	RuleSet    string `json:"rule_set"`
	FullName   string `json:"full_name"`
	Unit       string `json:"unit"`
	Receiving  string `json:"receiving"`
	State      string `json:"state"`
	ExtendedTo Date   `json:"extended_to"`
}

// ListSecondments returns the secondments in the caller's personnel scope (filtered in SQL).
func (s *Service) ListSecondments(ctx context.Context, sc policy.Scope, by policy.Subject, ruleSet, state string) ([]SecondmentSummary, error) {
	where, args := ScopeWhere(sc, by.UserID, 3)
	rows, err := s.pool.Query(ctx, `
		SELECT s.id, s.rule_set, s.person->>'full_name', u.code, s.receiving->>'name', s.state, s.extended_to
		FROM (SELECT x.*, st.user_id FROM secondments x LEFT JOIN staff st ON st.id = x.staff_id) s JOIN units u ON u.id = s.unit_id
		WHERE ($1 = '' OR s.rule_set = $1) AND ($2 = '' OR s.state = $2) AND `+where+`
		ORDER BY s.proposed_on, s.id`, append([]any{ruleSet, state}, args...)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (SecondmentSummary, error) {
		var x SecondmentSummary
		err := row.Scan(&x.ID, &x.RuleSet, &x.FullName, &x.Unit, &x.Receiving, &x.State, &x.ExtendedTo)
		return x, err
	})
}

// SecondmentEvents returns a secondment's history, oldest first.
func (s *Service) SecondmentEvents(ctx context.Context, check Check, id string) ([]SecondmentEvent, error) {
	var out []SecondmentEvent
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := loadSecondmentRow(ctx, tx, id, false)
		if err != nil {
			return err
		}
		if err := check(ctx, policy.ActStaffRead, secondmentResource(id, r.unit, r.person)); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, seq, kind, data, reason, act_number, act_date, recorded_by, recorded_at
			FROM secondment_events WHERE secondment_id = $1 ORDER BY seq`, id)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (SecondmentEvent, error) {
			var e SecondmentEvent
			err := row.Scan(&e.ID, &e.Seq, &e.Kind, &e.Data, &e.Reason, &e.Act.Number, &e.Act.Date, &e.RecordedBy, &e.RecordedAt)
			return e, err
		})
		return err
	})
	return out, err
}
