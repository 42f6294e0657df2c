package personnel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// The annual external rotation plan (Rules R§4-7, Annex 1; rotation-digest
// §3.1). There is no commission (§0.1): heads of units propose by 30
// January, the personnel service drafts by the end of February, units
// comment within 10 working days (agreed with the supervising deputy
// minister or the chief of staff), the personnel service finalises within 10
// working days and submits it to the Minister, who approves; the approved
// plan goes to the budget unit by 1 April; training in April-May, orders in
// June, moves June-August.

// Plan states, in order.
var PlanStates = []string{"nominations_open", "drafting", "unit_review", "finalising", "submitted", "approved", "budget_submitted", "in_execution", "closed"}

// planMoves are the allowed transitions; submitted → finalising (returned
// by the Minister) is not in the Rules and is allowed as a correction.
var planMoves = map[string][]string{
	"nominations_open": {"drafting"},
	"drafting":         {"unit_review"},
	"unit_review":      {"finalising"},
	"finalising":       {"submitted"},
	"submitted":        {"approved", "finalising"},
	"approved":         {"budget_submitted"},
	"budget_submitted": {"in_execution"},
	"in_execution":     {"closed"},
}

// More reference lists.
const (
	RefMedicalForm  = "medical_form"  // R§25(5) / Annex 4 item 8: form code of the medical certificate (code abroad)
	RefRotationRule = "rotation_rule" // date_deadlines {inclusive}: «дейін» read as inclusive (erratum 11)
	actPlanManage   = actRefManage
)

// planResource: the plan is the personnel service's, ministry-wide (names
// of every unit): an officer of every unit reads and changes it.
var planResource = policy.Resource{Kind: resReference, ID: "rotation_plan"}

// Plan is a rotation plan with its units, entries and calendar.
type Plan struct {
	ID        string          `json:"id"`
	Year      int             `json:"year"`
	State     string          `json:"state"`
	Steps     map[string]Date `json:"steps"`
	Units     []PlanUnit      `json:"units"`
	Entries   []PlanEntry     `json:"entries"`
	Deadlines []PlanDeadline  `json:"deadlines"`
	Version   int             `json:"version"`
	Totals    map[string]int  `json:"totals"`
}

// PlanUnit is a unit's part in the review (R§5(3)).
type PlanUnit struct {
	Unit          string `json:"unit"`
	DraftReceived Date   `json:"draft_received"`
	ProposalsOn   Date   `json:"proposals_on"`
	AgreedWith    string `json:"agreed_with,omitempty"`
	Deadline      Date   `json:"deadline"`
}

// PlanEntry is a row of Annex 1.
type PlanEntry struct {
	ID               string   `json:"id"`
	Unit             string   `json:"unit"`
	UnitName         string   `json:"unit_name"`
	StaffID          string   `json:"staff_id,omitempty"`
	FullName         string   `json:"full_name,omitempty"`
	StaffKind        string   `json:"staff_kind,omitempty"`
	PostingStart     Date     `json:"posting_start"`
	PostingTerm      int      `json:"posting_term_years,omitempty"`
	PlannedRotation  string   `json:"planned_rotation"`
	ExtensionTerm    string   `json:"extension_term"`
	MinistryProposal string   `json:"ministry_proposal"`
	Candidates       []string `json:"candidates"`
	CandidateNames   []string `json:"candidate_names"`
	Note             string   `json:"note"`
}

// PlanDeadline is one deadline of the plan's calendar (rotation-digest §4.2).
type PlanDeadline struct {
	ID       string `json:"id"`   // D01 …
	Rule     string `json:"rule"` // R§5(1) …
	What     string `json:"what"`
	From     Date   `json:"from,omitzero"` // a window's first day
	Due      Date   `json:"due"`
	Step     string `json:"step,omitempty"` // the state whose date meets it
	Done     Date   `json:"done"`
	Met      *bool  `json:"met,omitempty"`
	Unit     string `json:"unit,omitempty"`
	Overdue  bool   `json:"overdue"`
	Original Date   `json:"original"` // before moving off a day off
}

// PlanInput opens a plan for a year.
type PlanInput struct {
	Year int `json:"year"`
	Change
}

func planEvent(ctx context.Context, tx pgx.Tx, planID, kind string, data any, c Change, by policy.Subject) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO rotation_plan_events (plan_id, kind, data, reason, act_number, act_date, recorded_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, planID, kind, b, c.Reason, c.Act.Number, c.Act.Date, by.Username); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE rotation_plans SET version = version + 1 WHERE id = $1`, planID)
	return err
}

// CreatePlan opens the year's plan (state nominations_open).
func (s *Service) CreatePlan(ctx context.Context, check Check, by policy.Subject, in PlanInput) (Plan, error) {
	fs := in.fields()
	if in.Year < 2000 || in.Year > 2200 {
		fs = append(fs, fe("year", "a year between 2000 and 2200"))
	}
	if len(fs) > 0 {
		return Plan{}, refusal("the plan is invalid", fs...)
	}
	if err := check(ctx, actPlanManage, planResource); err != nil {
		return Plan{}, err
	}
	var out Plan
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, `INSERT INTO rotation_plans (year, state) VALUES ($1, 'nominations_open') ON CONFLICT (year) DO NOTHING RETURNING id`, in.Year).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return valise.Errorf(valise.ECONFLICT, "R§4: the external rotation plan for %d exists", in.Year)
		}
		if err != nil {
			return err
		}
		if err := planEvent(ctx, tx, id, "plan_opened", map[string]any{"year": in.Year}, in.Change, by); err != nil {
			return err
		}
		out, err = loadPlan(ctx, tx, id, time.Now())
		return err
	})
	return out, err
}

// GetPlan returns a plan with its calendar as of asOf.
func (s *Service) GetPlan(ctx context.Context, check Check, id string, asOf time.Time) (Plan, error) {
	if err := check(ctx, actPlanManage, planResource); err != nil {
		return Plan{}, err
	}
	var out Plan
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = loadPlan(ctx, tx, id, asOf)
		return err
	})
	return out, err
}

func loadPlan(ctx context.Context, q db.Querier, id string, asOf time.Time) (Plan, error) {
	var p Plan
	if !db.ValidUUID(id) {
		return p, valise.Errorf(valise.ENOTFOUND, "no such plan")
	}
	var steps []byte
	err := q.QueryRow(ctx, `SELECT id, year, state, steps, version FROM rotation_plans WHERE id = $1`, id).Scan(&p.ID, &p.Year, &p.State, &steps, &p.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, valise.Errorf(valise.ENOTFOUND, "no such plan")
	}
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(steps, &p.Steps); err != nil {
		return p, err
	}
	cal, err := LoadCalendar(ctx, q)
	if err != nil {
		return p, err
	}
	rows, err := q.Query(ctx, `SELECT u.code, pu.draft_received, pu.proposals_on, coalesce(pu.agreed_with, '') FROM rotation_plan_units pu
		JOIN units u ON u.id = pu.unit_id WHERE pu.plan_id = $1 ORDER BY u.code`, id)
	if err != nil {
		return p, err
	}
	p.Units, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (PlanUnit, error) {
		var u PlanUnit
		err := row.Scan(&u.Unit, &u.DraftReceived, &u.ProposalsOn, &u.AgreedWith)
		u.Deadline = Date{cal.AddWorkingDays(u.DraftReceived.Time, 10)}
		return u, err
	})
	if err != nil {
		return p, err
	}
	rows, err = q.Query(ctx, `SELECT e.id, u.code, u.name, coalesce(e.staff_id::text, ''), coalesce(s.full_name, ''), coalesce(s.staff_kind, ''),
		coalesce((SELECT start_date FROM postings x WHERE x.staff_id = e.staff_id AND x.returned_on IS NULL ORDER BY start_date DESC LIMIT 1), NULL),
		coalesce((SELECT category FROM postings x WHERE x.staff_id = e.staff_id AND x.returned_on IS NULL ORDER BY start_date DESC LIMIT 1), ''),
		e.planned_rotation, e.extension_term, e.ministry_proposal, e.candidates::text[],
		coalesce((SELECT array_agg(c.full_name ORDER BY c.full_name) FROM staff c WHERE c.id = ANY(e.candidates)), '{}'), e.note
		FROM rotation_plan_entries e JOIN units u ON u.id = e.unit_id LEFT JOIN staff s ON s.id = e.staff_id
		WHERE e.plan_id = $1 ORDER BY u.name, s.full_name NULLS LAST, e.id`, id)
	if err != nil {
		return p, err
	}
	p.Totals = map[string]int{"total": 0, KindDiplomatic: 0, KindAdminTechnical: 0}
	p.Entries, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (PlanEntry, error) {
		var e PlanEntry
		var cat string
		err := row.Scan(&e.ID, &e.Unit, &e.UnitName, &e.StaffID, &e.FullName, &e.StaffKind, &e.PostingStart, &cat, &e.PlannedRotation,
			&e.ExtensionTerm, &e.MinistryProposal, &e.Candidates, &e.CandidateNames, &e.Note)
		e.PostingTerm = TermYears[cat]
		if e.StaffID != "" {
			p.Totals["total"]++
			p.Totals[e.StaffKind]++
		}
		return e, err
	})
	if err != nil {
		return p, err
	}
	var rule struct {
		Inclusive bool `json:"inclusive"`
	}
	if _, err := refValue(ctx, q, RefRotationRule, "date_deadlines", &rule); err != nil {
		return p, err
	}
	p.Deadlines = planDeadlines(cal, p, rule.Inclusive, asOf)
	return p, nil
}

// planDeadlines computes the plan's calendar (rotation-digest §4.2 D01-D08).
// A fixed date «дейін» is the day itself when read inclusively, the day
// before otherwise (erratum 11, reference rotation_rule date_deadlines); a
// deadline on a day off moves to the next working day.
func planDeadlines(cal *Calendar, p Plan, inclusive bool, asOf time.Time) []PlanDeadline {
	y := p.Year
	by := func(m time.Month, d int) Date {
		t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		if !inclusive {
			t = t.AddDate(0, 0, -1)
		}
		return Date{t}
	}
	mk := func(id, rule, what string, due Date, step string) PlanDeadline {
		d := PlanDeadline{ID: id, Rule: rule, What: what, Original: due, Due: Date{cal.NextWorkingDay(due.Time)}, Step: step}
		return d
	}
	ds := []PlanDeadline{
		mk("D01", "R§5(1)", "heads of units and foreign institutions submit the lists of personnel for rotation", by(time.January, 30), "drafting"),
		mk("D02", "R§5(2)", "the personnel service sends the draft plan to the units", Date{time.Date(y, time.March, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)}, "unit_review"),
	}
	var lastProposal Date
	for _, u := range p.Units {
		d := mk("D03", "R§5(3)", "proposals of "+u.Unit+" on the draft, agreed with the supervising deputy minister or the chief of staff", u.Deadline, "")
		d.Unit, d.Done = u.Unit, u.ProposalsOn
		ds = append(ds, d)
		if u.ProposalsOn.After(lastProposal) {
			lastProposal = u.ProposalsOn
		}
	}
	if !lastProposal.IsZero() {
		ds = append(ds, mk("D04", "R§5(4)", "the personnel service finalises the draft, agrees it with the leadership and submits it to the Minister", Date{cal.AddWorkingDays(lastProposal.Time, 10)}, "submitted"))
	}
	ds = append(ds,
		mk("D05", "R§7", "the approved plan goes to the budget-planning unit", by(time.April, 1), "budget_submitted"))
	win := func(id, rule, what string, from, to Date) PlanDeadline {
		d := mk(id, rule, what, to, "")
		d.From = from
		return d
	}
	ds = append(ds,
		win("D06", "R§5(5)", "pre-departure training", D(y, time.April, 1), D(y, time.May, 31)),
		win("D07", "R§5(6)", "appointment orders", D(y, time.June, 1), D(y, time.June, 30)),
		win("D08", "R§4, R§5(7)", "moves between the ministry and the foreign institutions", D(y, time.June, 1), D(y, time.August, 31)))
	today := Today(asOf)
	for i := range ds {
		d := &ds[i]
		if d.Step != "" {
			d.Done = p.Steps[d.Step]
		}
		if !d.Done.IsZero() {
			met := !d.Done.After(d.Due)
			d.Met = &met
		} else if d.From.IsZero() {
			d.Overdue = today.After(d.Due)
		}
	}
	return ds
}

// PlanTransitionInput moves a plan to its next state on a date.
type PlanTransitionInput struct {
	To string `json:"to"`
	On Date   `json:"on"`
	Change
}

// planEv is the event a plan change records.
type planEv struct {
	kind string
	data any
}

// writePlan authorizes, loads the plan, runs fn (which returns the event
// kind and data), records the event and returns the plan as it stands.
func (s *Service) writePlan(ctx context.Context, check Check, by policy.Subject, id string, c Change, fn func(tx pgx.Tx, p Plan, ev *planEv) error) (Plan, error) {
	if err := check(ctx, actPlanManage, planResource); err != nil {
		return Plan{}, err
	}
	var out Plan
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		p, err := loadPlan(ctx, tx, id, time.Now())
		if err != nil {
			return err
		}
		var ev planEv
		if err := fn(tx, p, &ev); err != nil {
			return err
		}
		if err := planEvent(ctx, tx, id, ev.kind, ev.data, c, by); err != nil {
			return err
		}
		out, err = loadPlan(ctx, tx, id, time.Now())
		return err
	})
	return out, err
}

// TransitionPlan moves a plan along its state machine (rotation-digest
// §3.1): the units' review needs every unit's proposals with the agreement
// R§5(3) requires; approval needs entries (V03); the budget step needs the
// approval (V04). The act is the step's document (the Minister's approval).
func (s *Service) TransitionPlan(ctx context.Context, check Check, by policy.Subject, id string, in PlanTransitionInput) (Plan, error) {
	return s.writePlan(ctx, check, by, id, in.Change, func(tx pgx.Tx, p Plan, ev *planEv) error {
		fs := in.fields()
		if !slices.Contains(PlanStates, in.To) {
			fs = append(fs, fe("to", "one of "+strings.Join(PlanStates, ", ")))
		}
		if in.On.IsZero() {
			fs = append(fs, fe("on", "required"))
		}
		if len(fs) > 0 {
			return refusal("the transition is invalid", fs...)
		}
		if !slices.Contains(planMoves[p.State], in.To) {
			return conflict("R§5", "the plan is %s: it moves to %v, not %s", p.State, planMoves[p.State], in.To)
		}
		switch in.To {
		case "unit_review":
			if len(p.Units) == 0 {
				return conflict("R§5(2)", "record which units received the draft first")
			}
		case "finalising":
			for _, u := range p.Units {
				if u.ProposalsOn.IsZero() {
					return conflict("R§5(3)", "the proposals of %s are not in (due %s)", u.Unit, u.Deadline)
				}
			}
		case "approved":
			if len(p.Entries) == 0 {
				return conflict("R§4", "an empty plan is not approved (Annex 1 lists the rotations)")
			}
		}
		if p.Steps == nil {
			p.Steps = map[string]Date{}
		}
		p.Steps[in.To] = in.On
		b, _ := json.Marshal(p.Steps)
		if _, err := tx.Exec(ctx, `UPDATE rotation_plans SET state = $2, steps = $3 WHERE id = $1`, id, in.To, b); err != nil {
			return err
		}
		ev.kind, ev.data = "plan_"+in.To, map[string]any{"from": p.State, "to": in.To, "on": in.On}
		return nil
	})
}

// PlanUnitInput records a unit's part in the review.
type PlanUnitInput struct {
	Unit          string `json:"unit"`
	DraftReceived Date   `json:"draft_received"`
	ProposalsOn   Date   `json:"proposals_on,omitzero"`
	AgreedWith    string `json:"agreed_with,omitempty"` // deputy_minister or chief_of_staff (R§5(3))
	Change
}

// SetPlanUnit records when a unit received the draft and when its
// proposals came back, agreed with the supervising deputy minister or the
// chief of staff (R§5(3)); the deadline is 10 working days after receipt.
func (s *Service) SetPlanUnit(ctx context.Context, check Check, by policy.Subject, id string, in PlanUnitInput) (Plan, error) {
	return s.writePlan(ctx, check, by, id, in.Change, func(tx pgx.Tx, p Plan, ev *planEv) error {
		fs := in.fields()
		if in.DraftReceived.IsZero() {
			fs = append(fs, fe("draft_received", "required"))
		}
		if !in.ProposalsOn.IsZero() {
			if in.ProposalsOn.Before(in.DraftReceived) {
				fs = append(fs, fe("proposals_on", "on or after the draft was received"))
			}
			if in.AgreedWith != "deputy_minister" && in.AgreedWith != "chief_of_staff" {
				fs = append(fs, fe("agreed_with", "R§5(3): proposals are agreed with the supervising deputy_minister or the chief_of_staff"))
			}
		}
		var unitID string
		if err := tx.QueryRow(ctx, `SELECT id FROM units WHERE code = $1`, in.Unit).Scan(&unitID); errors.Is(err, pgx.ErrNoRows) {
			fs = append(fs, fe("unit", "no such unit"))
		} else if err != nil {
			return err
		}
		if len(fs) > 0 {
			return refusal("the unit's review is invalid", fs...)
		}
		if p.State != "drafting" && p.State != "unit_review" {
			return conflict("R§5(3)", "units review the draft while the plan is drafting or in unit review (now %s)", p.State)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO rotation_plan_units (plan_id, unit_id, draft_received, proposals_on, agreed_with)
			VALUES ($1, $2, $3, $4, nullif($5, '')) ON CONFLICT (plan_id, unit_id) DO UPDATE SET draft_received = $3, proposals_on = $4, agreed_with = nullif($5, '')`,
			id, unitID, in.DraftReceived, in.ProposalsOn, in.AgreedWith); err != nil {
			return err
		}
		ev.kind, ev.data = "plan_unit_review", in
		return nil
	})
}

// PlanEntryInput adds a row to Annex 1.
type PlanEntryInput struct {
	Unit             string   `json:"unit"`
	StaffID          string   `json:"staff_id,omitempty"`
	PlannedRotation  string   `json:"planned_rotation"`
	ExtensionTerm    string   `json:"extension_term,omitempty"`
	MinistryProposal string   `json:"ministry_proposal,omitempty"`
	Candidates       []string `json:"candidates,omitempty"`
	Note             string   `json:"note,omitempty"`
	Change
}

// AddPlanEntry adds a row (foreign institution, person to rotate, planned
// rotation, extension term, proposal for the ministry appointment,
// candidates, note) until the plan is approved.
func (s *Service) AddPlanEntry(ctx context.Context, check Check, by policy.Subject, id string, in PlanEntryInput) (Plan, error) {
	return s.writePlan(ctx, check, by, id, in.Change, func(tx pgx.Tx, p Plan, ev *planEv) error {
		fs := in.fields()
		var unitID, unitKind string
		if err := tx.QueryRow(ctx, `SELECT id, kind FROM units WHERE code = $1`, in.Unit).Scan(&unitID, &unitKind); errors.Is(err, pgx.ErrNoRows) || (err == nil && !foreignUnit(unitKind)) {
			fs = append(fs, fe("unit", "Annex 1 is grouped by foreign institution: an embassy, consulate or permanent mission"))
		} else if err != nil {
			return err
		}
		if strings.TrimSpace(in.PlannedRotation) == "" {
			fs = append(fs, fe("planned_rotation", "Annex 1: the planned rotation"))
		}
		ids := append([]string{}, in.Candidates...)
		if in.StaffID != "" {
			ids = append(ids, in.StaffID)
		}
		for _, x := range ids {
			var n int
			if db.ValidUUID(x) {
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM staff WHERE id = $1 AND terminated_on IS NULL`, x).Scan(&n); err != nil {
					return err
				}
			}
			if n == 0 {
				fs = append(fs, fe("candidates", fmt.Sprintf("%q is not a serving staff record", x)))
			}
		}
		if len(fs) > 0 {
			return refusal("the plan entry is invalid", fs...)
		}
		if slices.Index(PlanStates, p.State) >= slices.Index(PlanStates, "approved") {
			return conflict("R§4", "the plan was approved: a change is an out-of-plan rotation (business necessity or family circumstances)")
		}
		cands := in.Candidates
		if cands == nil {
			cands = []string{}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO rotation_plan_entries (plan_id, unit_id, staff_id, planned_rotation, extension_term, ministry_proposal, candidates, note)
			VALUES ($1, $2, nullif($3, '')::uuid, $4, $5, $6, $7::uuid[], $8)`, id, unitID, in.StaffID, in.PlannedRotation, in.ExtensionTerm,
			in.MinistryProposal, cands, in.Note); err != nil {
			return err
		}
		ev.kind, ev.data = "plan_entry_added", in
		return nil
	})
}

var annex1 = template.Must(template.New("a1").Funcs(template.FuncMap{
	"inc":  func(i int) int { return i + 1 },
	"join": strings.Join,
}).Parse(`<!DOCTYPE html>
<html lang="kk"><head><meta charset="utf-8"><title>Сыртқы ротациялау жоспары {{.Year}}</title>
<style>
@page { size: A4 landscape; margin: 15mm }
body { font: 11pt "Times New Roman", serif }
h1 { font-size: 13pt; text-align: center }
table { border-collapse: collapse; width: 100% }
th, td { border: 1px solid #000; padding: 3px 5px; vertical-align: top }
th { font-weight: normal }
tr.institution td { font-weight: bold; text-align: center }
.approve { text-align: right; margin-bottom: 1em }
</style></head><body>
<div class="approve">Annex 1 to the Rules for the rotation of diplomatic service personnel<br>APPROVED: Minister of Foreign Affairs{{with .Steps.approved}} — {{.}}{{end}}</div>
<h1>{{.Year}} жылға арналған сыртқы ротациялау ЖОСПАРЫ<br>External rotation plan for the year {{.Year}}</h1>
<p>State: {{.State}}</p>
<table>
<thead><tr><th>№</th><th>Аты-жөні мен тегі (бар болған жағдайда)<br>Full name</th>
<th>Шетелдік мекемеге тағайындалған күні және шетелдік мекемеде болу мерзімі<br>Appointed abroad on, term</th>
<th>Жоспарланған ротация<br>Planned rotation</th><th>Ұзарту мерзімі<br>Extension term</th>
<th>Министрлікке тағайындау бойынша ұсыныс<br>Proposal for appointment in the Ministry</th>
<th>Шетелдік мекемеге шығуға үміткерлер<br>Candidates for departure</th><th>Ескертпе<br>Note</th></tr></thead>
<tbody>
{{range .Groups}}<tr class="institution"><td colspan="8">{{.Name}}</td></tr>
{{range $i, $e := .Entries}}<tr><td>{{inc $i}}</td><td>{{$e.FullName}}</td><td>{{if not $e.PostingStart.IsZero}}{{$e.PostingStart}}{{if $e.PostingTerm}}, {{$e.PostingTerm}} years{{end}}{{end}}</td>
<td>{{$e.PlannedRotation}}</td><td>{{$e.ExtensionTerm}}</td><td>{{$e.MinistryProposal}}</td><td>{{join $e.CandidateNames "; "}}</td><td>{{$e.Note}}</td></tr>
{{end}}{{end}}</tbody></table>
<p>Барлығы: {{.Totals.total}} — Қазақстан Республикасы шетелдегі мекемелерінің қызметкерлері мен жұмыскерлері ротациялауға жатады
(total subject to rotation), оның ішінде: дипломатиялық құрам (diplomatic staff) — {{.Totals.diplomatic}};
әкімшілік-техникалық құрам (administrative-technical staff) — {{.Totals.admin_technical}}.</p>
</body></html>
`))

// WriteAnnex1 prints the plan in the layout of Annex 1 (HTML for printing):
// one section per foreign institution, rows numbered, the totals by staff
// kind at the foot.
func (s *Service) WriteAnnex1(ctx context.Context, check Check, id string, w io.Writer) error {
	p, err := s.GetPlan(ctx, check, id, time.Now())
	if err != nil {
		return err
	}
	type group struct {
		Name    string
		Entries []PlanEntry
	}
	var groups []group
	for _, e := range p.Entries {
		if len(groups) == 0 || groups[len(groups)-1].Name != e.UnitName {
			groups = append(groups, group{Name: e.UnitName})
		}
		groups[len(groups)-1].Entries = append(groups[len(groups)-1].Entries, e)
	}
	return annex1.Execute(w, map[string]any{"Year": p.Year, "State": p.State, "Steps": p.Steps, "Groups": groups, "Totals": p.Totals})
}

func init() { RegisterAlertSource("rotation_plan", planAlerts) }

// planAlerts: each deadline of an open plan not yet met, from the general
// lead time (ministry-wide: for personnel officers).
func planAlerts(ctx context.Context, q db.Querier, cal *Calendar, asOf time.Time) ([]Alert, error) {
	lead, err := LeadTime(ctx, q, "personnel.alert_lead")
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, `SELECT id FROM rotation_plans WHERE state <> 'closed'`)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var out []Alert
	for _, id := range ids {
		p, err := loadPlan(ctx, q, id, asOf)
		if err != nil {
			return nil, err
		}
		for _, d := range p.Deadlines {
			if !d.Done.IsZero() || !d.From.IsZero() || !Within(d.Due.Time, asOf, lead) {
				continue
			}
			out = append(out, Alert{Kind: "plan_deadline", Rule: d.Rule, Subject: fmt.Sprintf("%d plan, %s: %s", p.Year, d.ID, d.What), Due: d.Due.Time, Ref: p.ID})
		}
	}
	return out, nil
}
