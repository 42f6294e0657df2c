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

// Individual rotation cases (rotation-digest §3.2): nomination, the plan
// (or an out-of-plan decision), pre-departure training (Annex 3, R§15-19) or
// its exemption, the Minister's appointment order, the Annex 4 documents and
// medical certificates (R§20, R§25-28), accompanying family with its own
// state machine (§3.3, R§24-29-1), departure, arrival and hand-over. The
// departure of an outbound case starts the posting (postings.go); an
// inter-mission case moves it; an inbound case is the return.

// Case states and their moves.
var CaseStates = []string{"nominated", "in_plan", "training_exempt", "in_training", "training_concluded", "departure_recommended",
	"departure_denial_recommended", "appointed", "docs_complete", "departed", "arrived", "handed_over", "cancelled"}

var caseMoves = map[string][]string{
	"nominated":                    {"in_plan", "cancelled"},
	"in_plan":                      {"training_exempt", "in_training", "cancelled"},
	"in_training":                  {"training_concluded", "cancelled"},
	"training_concluded":           {"departure_recommended", "departure_denial_recommended"},
	"departure_recommended":        {"appointed", "cancelled"},
	"departure_denial_recommended": {"appointed", "cancelled"}, // who decides is not in the Rules: a recorded decision
	"training_exempt":              {"appointed", "cancelled"},
	"appointed":                    {"docs_complete", "cancelled"},
	"docs_complete":                {"departed", "cancelled"},
	"departed":                     {"arrived"},
	"arrived":                      {"handed_over"},
}

// Family states (rotation-digest §3.3) and their moves.
var familyMoves = map[string][]string{
	"proposed":                 {"docs_pending", "rejected"},
	"docs_pending":             {"eligible", "rejected"},
	"eligible":                 {"included", "rejected"},
	"included":                 {"exclusion_ground", "early_recall_trigger"},
	"exclusion_ground":         {"exclusion_docs_submitted"},
	"exclusion_docs_submitted": {"excluded"},
}

// Annex 4 documents: code → what. holder "officer" or a family member.
var Annex4 = map[string]string{
	"personal_sheet":            "1. personal sheet with photo, 2 copies",
	"autobiography":             "2. autobiography, 2 copies",
	"education_doc":             "3. education document with supplement",
	"spouse_id":                 "4. identity card of the spouse",
	"marriage_divorce_cert":     "5. marriage or divorce certificate",
	"child_birth_cert":          "6. birth certificate of the child",
	"driving_licence":           "7. driving licence (if any)",
	"medical_cert_abroad":       "8. medical certificate for those travelling abroad (form: reference medical_form)",
	"training_plan_a3":          "9. pre-departure training plan (Annex 3)",
	"work_record_book":          "10. work record book (original)",
	"tax_declaration_cert":      "11. income and property declaration certificate",
	"departure_clearance_sheet": "12. departure sheet",
	"military_id":               "13. military ID and the registration office's receipt (if liable)",
	"fin_appt_order":            "14(1). appointment order (to the Currency-Finance Department)",
	"fin_id":                    "14(2). identity card",
	"fin_bank_card":             "14(3). bank payment card",
	"fin_iban_cert":             "14(4). bank notice of the IBAN account",
	"fin_pension_contract":      "14(5). pension fund contract",
	"air_tickets":               "15. air tickets to the destination",
	"kinship_doc":               "R§28(2). document of kinship with the officer",
	"parent_id":                 "R§28(3). identity document of the parent",
	"care_need_doc":             "R§26(3), R§28(6). document of disability or need of care",
}

// Items an officer may declare not applicable (with a note).
var annex4Conditional = []string{"driving_licence", "military_id"}

// Family bases of inclusion (R§24-29; errata 7, 16).
var familyBases = []string{"spouse", "minor_child", "adult_child_unable_to_work", "parent_needing_care", "parent_unable_to_work_exceptional"}

// TrainingItem is a line of the Annex 3 plan.
type TrainingItem struct {
	Code           string `json:"code"` // activity code of Annex 3 (1.1 … 4.4.1)
	CompletedOn    Date   `json:"completed_on,omitzero"`
	Recommendation string `json:"recommendation,omitempty"`
	Head           string `json:"head,omitempty"`
}

// Training is the Annex 3 plan of a case.
type Training struct {
	StartDate        Date           `json:"start_date"`
	EndDate          Date           `json:"end_date,omitzero"`
	Consular         bool           `json:"consular"`
	Extended         bool           `json:"extended"`
	Items            []TrainingItem `json:"items"`
	AckJobDesc       bool           `json:"ack_job_descriptions"`
	AckMemo          bool           `json:"ack_memo"`
	DeputyMinister   string         `json:"deputy_minister_recommendation,omitempty"`
	ChiefOfStaff     string         `json:"chief_of_staff_recommendation,omitempty"`
	Conclusion       string         `json:"conclusion,omitempty"` // depart or deny (R§17)
	Limit            Date           `json:"limit"`                // the last day the training may run (R§16)
	WorkingDaysSoFar int            `json:"working_days"`
}

// CaseDocument is one Annex 4 item of a holder.
type CaseDocument struct {
	Code       string `json:"code"`
	What       string `json:"what"`
	Holder     string `json:"holder"`
	Status     string `json:"status"` // received, not_applicable, missing
	ReceivedOn Date   `json:"received_on"`
	Note       string `json:"note,omitempty"`
}

// CaseFamily is a family member in a case.
type CaseFamily struct {
	FamilyMemberID string `json:"family_member_id"`
	FullName       string `json:"full_name"`
	Relation       string `json:"relation"`
	Basis          string `json:"basis"`
	State          string `json:"state"`
	GroundOn       Date   `json:"ground_on"`
	DocsDue        Date   `json:"exclusion_docs_due"`
}

// RotationCase is an individual case.
type RotationCase struct {
	ID              string         `json:"id"`
	StaffID         string         `json:"staff_id"`
	PlanID          string         `json:"plan_id,omitempty"`
	Direction       string         `json:"direction"`
	OutOfPlan       string         `json:"out_of_plan,omitempty"`
	Unit            string         `json:"unit"`
	Position        string         `json:"position"`
	Category        string         `json:"category"`
	State           string         `json:"state"`
	Training        *Training      `json:"training,omitempty"`
	DepartureOn     Date           `json:"departure_on"`
	PostingID       string         `json:"posting_id,omitempty"`
	Documents       []CaseDocument `json:"documents"`
	MissingDocs     int            `json:"missing_documents"`
	Family          []CaseFamily   `json:"family"`
	MedicalFormCode string         `json:"medical_form"`
	Version         int            `json:"version"`
}

// CaseInput opens a case.
type CaseOpenInput struct {
	PlanID    string `json:"plan_id,omitempty"`
	Direction string `json:"direction"`             // outbound, inbound, inter_mission
	OutOfPlan string `json:"out_of_plan,omitempty"` // business_necessity or family_circumstances (R§4)
	Position  string `json:"position"`              // the post the case is about
	Unit      string `json:"unit"`
	Change
}

// OpenRotationCase opens an individual case (state nominated).
func (s *Service) OpenRotationCase(ctx context.Context, check Check, by policy.Subject, id string, in CaseOpenInput) (RotationCase, error) {
	var out RotationCase
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		fs := in.fields()
		if !slices.Contains([]string{"outbound", "inbound", "inter_mission"}, in.Direction) {
			fs = append(fs, fe("direction", "outbound (ministry → foreign institution), inbound or inter_mission (R§2)"))
		}
		if in.OutOfPlan != "" && in.OutOfPlan != "business_necessity" && in.OutOfPlan != "family_circumstances" {
			fs = append(fs, fe("out_of_plan", "R§4: business_necessity or family_circumstances"))
		}
		if (in.PlanID == "") == (in.OutOfPlan == "") {
			fs = append(fs, fe("plan_id", "R§4: a case is in the year's plan, or out of plan with its reason (not both)"))
		}
		var p PositionRef
		found, err := refValue(ctx, tx, RefPosition, in.Position, &p)
		if err != nil {
			return err
		}
		if !found {
			fs = append(fs, fe("position", "no such position in the reference list"))
		}
		var unitID string
		if err := tx.QueryRow(ctx, `SELECT id FROM units WHERE code = $1`, in.Unit).Scan(&unitID); errors.Is(err, pgx.ErrNoRows) {
			fs = append(fs, fe("unit", "no such unit"))
		} else if err != nil {
			return err
		}
		if in.PlanID != "" {
			var n int
			if db.ValidUUID(in.PlanID) {
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM rotation_plans WHERE id = $1`, in.PlanID).Scan(&n); err != nil {
					return err
				}
			}
			if n == 0 {
				fs = append(fs, fe("plan_id", "no such plan"))
			}
		}
		if f, err := secondeeOfOtherBody(ctx, tx, id); err != nil {
			return err
		} else if f != nil {
			fs = append(fs, *f)
		}
		if len(fs) > 0 {
			return refusal("the rotation case is invalid", fs...)
		}
		cat := postingCategory(in.Position, p, false)
		if err := tx.QueryRow(ctx, `INSERT INTO rotation_cases (staff_id, plan_id, direction, out_of_plan, unit_id, position_code, category, state)
			VALUES ($1, nullif($2, '')::uuid, $3, nullif($4, ''), $5, $6, $7, 'nominated') RETURNING id`,
			id, in.PlanID, in.Direction, in.OutOfPlan, unitID, in.Position, cat).Scan(&out.ID); err != nil {
			return err
		}
		if _, err := record(ctx, tx, id, "rotation_case_opened", map[string]any{"case_id": out.ID, "direction": in.Direction,
			"out_of_plan": in.OutOfPlan, "plan_id": in.PlanID, "position": in.Position, "unit": in.Unit, "rotation_type": "external"}, in.Change, "", by); err != nil {
			return err
		}
		out, err = loadCase(ctx, tx, id, out.ID, false)
		return err
	})
	return out, err
}

// GetRotationCase returns a case with its checklist.
func (s *Service) GetRotationCase(ctx context.Context, check Check, id, caseID string) (RotationCase, error) {
	var out RotationCase
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockStaffRead(ctx, tx, id, check); err != nil {
			return err
		}
		var err error
		out, err = loadCase(ctx, tx, id, caseID, false)
		return err
	})
	return out, err
}

func loadCase(ctx context.Context, q db.Querier, staffID, caseID string, lock bool) (RotationCase, error) {
	var c RotationCase
	if !db.ValidUUID(caseID) {
		return c, valise.Errorf(valise.ENOTFOUND, "no such rotation case")
	}
	forUpdate := ""
	if lock {
		forUpdate = " FOR UPDATE OF c"
	}
	var tr []byte
	err := q.QueryRow(ctx, `SELECT c.id, c.staff_id, coalesce(c.plan_id::text, ''), c.direction, coalesce(c.out_of_plan, ''), u.code,
		c.position_code, c.category, c.state, c.training, c.departure_on, coalesce(c.posting_id::text, ''), c.version
		FROM rotation_cases c JOIN units u ON u.id = c.unit_id WHERE c.id = $1 AND c.staff_id = $2`+forUpdate, caseID, staffID).
		Scan(&c.ID, &c.StaffID, &c.PlanID, &c.Direction, &c.OutOfPlan, &c.Unit, &c.Position, &c.Category, &c.State, &tr, &c.DepartureOn, &c.PostingID, &c.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, valise.Errorf(valise.ENOTFOUND, "no such rotation case")
	}
	if err != nil {
		return c, err
	}
	cal, err := LoadCalendar(ctx, q)
	if err != nil {
		return c, err
	}
	if len(tr) > 0 {
		if err := json.Unmarshal(tr, &c.Training); err != nil {
			return c, err
		}
		c.Training.Limit = trainingLimit(cal, *c.Training)
		end := c.Training.EndDate
		if end.IsZero() {
			end = Today(time.Now())
		}
		c.Training.WorkingDaysSoFar = workingDays(cal, c.Training.StartDate, end)
	}
	var form struct {
		Form string `json:"form"`
	}
	if _, err := refValue(ctx, q, RefMedicalForm, "abroad", &form); err != nil {
		return c, err
	}
	c.MedicalFormCode = form.Form
	rows, err := q.Query(ctx, `SELECT f.family_member_id, m.full_name, m.relation, f.basis, f.state, f.ground_on FROM rotation_case_family f
		JOIN family_members m ON m.id = f.family_member_id WHERE f.case_id = $1 ORDER BY m.birth_date`, caseID)
	if err != nil {
		return c, err
	}
	c.Family, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (CaseFamily, error) {
		var f CaseFamily
		err := row.Scan(&f.FamilyMemberID, &f.FullName, &f.Relation, &f.Basis, &f.State, &f.GroundOn)
		if !f.GroundOn.IsZero() {
			f.DocsDue = Date{cal.AddWorkingDays(f.GroundOn.Time, 10)}
		}
		return f, err
	})
	if err != nil {
		return c, err
	}
	got := map[[2]string]CaseDocument{}
	rows, err = q.Query(ctx, `SELECT code, holder, status, received_on, note FROM rotation_case_documents WHERE case_id = $1`, caseID)
	if err != nil {
		return c, err
	}
	var d CaseDocument
	if _, err := pgx.ForEachRow(rows, []any{&d.Code, &d.Holder, &d.Status, &d.ReceivedOn, &d.Note}, func() error {
		got[[2]string{d.Code, d.Holder}] = d
		return nil
	}); err != nil {
		return c, err
	}
	c.Documents = []CaseDocument{}
	for _, req := range requiredDocs(c) {
		doc, ok := got[req]
		if !ok {
			doc = CaseDocument{Code: req[0], Holder: req[1], Status: "missing"}
			c.MissingDocs++
		}
		doc.What = Annex4[doc.Code]
		c.Documents = append(c.Documents, doc)
	}
	return c, nil
}

// requiredDocs is the Annex 4 checklist of a case (R§20, R§25-28): the
// officer's items, and per accompanying family member its own.
func requiredDocs(c RotationCase) [][2]string {
	officer := []string{"personal_sheet", "autobiography", "education_doc", "driving_licence", "medical_cert_abroad", "work_record_book",
		"tax_declaration_cert", "departure_clearance_sheet", "military_id", "fin_appt_order", "fin_id", "fin_bank_card",
		"fin_iban_cert", "fin_pension_contract", "air_tickets"}
	if c.State != "training_exempt" && (c.Training != nil || !slices.Contains([]string{CategoryHeadOfMission}, c.Category)) {
		officer = append(officer, "training_plan_a3")
	}
	var out [][2]string
	for _, code := range officer {
		out = append(out, [2]string{code, "officer"})
	}
	for _, f := range c.Family {
		if f.State == "rejected" || f.State == "excluded" {
			continue
		}
		var codes []string
		switch f.Basis {
		case "spouse":
			codes = []string{"personal_sheet", "autobiography", "spouse_id", "marriage_divorce_cert", "medical_cert_abroad"}
		case "minor_child":
			codes = []string{"child_birth_cert", "medical_cert_abroad"}
		case "adult_child_unable_to_work":
			codes = []string{"child_birth_cert", "care_need_doc", "medical_cert_abroad"}
		case "parent_needing_care":
			codes = []string{"kinship_doc", "parent_id", "personal_sheet", "care_need_doc", "medical_cert_abroad"}
		default: // parent_unable_to_work_exceptional: R§28 without item (6) (R§29, erratum 16)
			codes = []string{"kinship_doc", "parent_id", "personal_sheet", "medical_cert_abroad"}
		}
		for _, code := range codes {
			out = append(out, [2]string{code, f.FamilyMemberID})
		}
	}
	return out
}

// workingDays counts the working days from start to end, both included.
func workingDays(cal *Calendar, start, end Date) int {
	n := 0
	for d := start.Time; !d.After(end.Time); d = d.AddDate(0, 0, 1) {
		if cal.IsWorkingDay(d) {
			n++
		}
	}
	return n
}

// trainingLimit is the last day of the training: its 15th working day
// (R§16); for consular functions, extended, one month later (erratum 5).
func trainingLimit(cal *Calendar, t Training) Date {
	first := cal.NextWorkingDay(t.StartDate.Time)
	limit := Date{cal.AddWorkingDays(first, 14)}
	if t.Consular && t.Extended {
		limit = limit.AddDate(0, 1, 0)
	}
	return limit
}

// TrainingInput sets the Annex 3 plan.
type TrainingInput struct {
	Training
	Change
}

// SetTraining records the pre-departure training plan (Annex 3): at most 15
// working days, or for consular functions that plus one month when extended
// (R§16, erratum 5, V08); a conclusion needs the officer's two
// acknowledgements.
func (s *Service) SetTraining(ctx context.Context, check Check, by policy.Subject, id, caseID string, in TrainingInput) (RotationCase, error) {
	return s.writeCase(ctx, check, id, caseID, func(tx pgx.Tx, cal *Calendar, c *RotationCase) error {
		t := in.Training
		fs := in.fields()
		if t.StartDate.IsZero() {
			fs = append(fs, fe("start_date", "required"))
		}
		if t.Extended && !t.Consular {
			fs = append(fs, fe("extended", "R§16: only training for consular functions is extended"))
		}
		if t.Conclusion != "" && t.Conclusion != "depart" && t.Conclusion != "deny" {
			fs = append(fs, fe("conclusion", "R§17: depart or deny"))
		}
		if t.Conclusion != "" && (!t.AckJobDesc || !t.AckMemo || t.EndDate.IsZero()) {
			fs = append(fs, fe("conclusion", "Annex 3: a concluded plan has its end date and both acknowledgements (job descriptions, memo)"))
		}
		for i, it := range t.Items {
			if strings.TrimSpace(it.Code) == "" {
				fs = append(fs, fe(fmt.Sprintf("items[%d].code", i), "the Annex 3 activity code"))
			}
		}
		if len(fs) > 0 {
			return refusal("the training plan is invalid", fs...)
		}
		limit := trainingLimit(cal, t)
		if !t.EndDate.IsZero() && (t.EndDate.After(limit) || t.EndDate.Before(t.StartDate)) {
			return refusal("the training plan is invalid", fe("end_date", fmt.Sprintf("R§16: the training from %s ends by %s at the latest (15 working days%s)", t.StartDate, limit,
				map[bool]string{true: " plus one month for consular functions", false: ""}[t.Consular && t.Extended])))
		}
		if slices.Contains([]string{"nominated", "in_plan", "in_training"}, c.State) == false {
			return conflict("R§15", "the training plan is set before the training is concluded (the case is %s)", c.State)
		}
		if t.Items == nil {
			t.Items = []TrainingItem{}
		}
		t.Limit, t.WorkingDaysSoFar = Date{}, 0
		b, _ := json.Marshal(t)
		if _, err := tx.Exec(ctx, `UPDATE rotation_cases SET training = $2, version = version + 1 WHERE id = $1`, c.ID, b); err != nil {
			return err
		}
		_, err := record(ctx, tx, id, "training_plan_set", map[string]any{"case_id": c.ID, "training": t}, in.Change, "", by)
		return err
	})
}

func (s *Service) writeCase(ctx context.Context, check Check, id, caseID string, fn func(tx pgx.Tx, cal *Calendar, c *RotationCase) error) (RotationCase, error) {
	var out RotationCase
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		c, err := loadCase(ctx, tx, id, caseID, true)
		if err != nil {
			return err
		}
		cal, err := LoadCalendar(ctx, tx)
		if err != nil {
			return err
		}
		if err := fn(tx, cal, &c); err != nil {
			return err
		}
		out, err = loadCase(ctx, tx, id, caseID, false)
		return err
	})
	return out, err
}

// DocumentInput records an Annex 4 item (or declares a conditional one not
// applicable).
type DocumentInput struct {
	Code       string `json:"code"`
	Holder     string `json:"holder"` // officer, or a family member id in the case
	Status     string `json:"status"` // received or not_applicable
	ReceivedOn Date   `json:"received_on,omitzero"`
	Note       string `json:"note,omitempty"`
	Change
}

// RecordDocument records a document of the Annex 4 checklist.
func (s *Service) RecordDocument(ctx context.Context, check Check, by policy.Subject, id, caseID string, in DocumentInput) (RotationCase, error) {
	return s.writeCase(ctx, check, id, caseID, func(tx pgx.Tx, cal *Calendar, c *RotationCase) error {
		fs := in.fields()
		if _, ok := Annex4[in.Code]; !ok {
			fs = append(fs, fe("code", "an Annex 4 item code (see GET of the case)"))
		}
		switch in.Status {
		case "received":
			if in.ReceivedOn.IsZero() {
				fs = append(fs, fe("received_on", "required"))
			}
		case "not_applicable":
			if !slices.Contains(annex4Conditional, in.Code) || in.Holder != "officer" {
				fs = append(fs, fe("status", "V11: only the driving licence and the military ID may be not applicable (the officer's)"))
			}
			if strings.TrimSpace(in.Note) == "" {
				fs = append(fs, fe("note", "say why the item does not apply"))
			}
		default:
			fs = append(fs, fe("status", "received or not_applicable"))
		}
		if in.Holder != "officer" && !slices.ContainsFunc(c.Family, func(f CaseFamily) bool { return f.FamilyMemberID == in.Holder }) {
			fs = append(fs, fe("holder", "officer, or a family member of the case"))
		}
		if len(fs) > 0 {
			return refusal("the document is invalid", fs...)
		}
		if slices.Index(CaseStates, c.State) >= slices.Index(CaseStates, "departed") && c.State != "cancelled" {
			return conflict("R§20", "the documents are submitted before departure (the case is %s)", c.State)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO rotation_case_documents (case_id, code, holder, status, received_on, note) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (case_id, code, holder) DO UPDATE SET status = $4, received_on = $5, note = $6`, c.ID, in.Code, in.Holder, in.Status, in.ReceivedOn, in.Note); err != nil {
			return err
		}
		_, err := record(ctx, tx, id, "rotation_document", map[string]any{"case_id": c.ID, "code": in.Code, "holder": in.Holder,
			"status": in.Status, "received_on": in.ReceivedOn, "note": in.Note}, in.Change, "", by)
		return err
	})
}

// CaseFamilyInput adds a family member to a case or moves it along its
// state machine.
type CaseFamilyInput struct {
	FamilyMemberID string `json:"family_member_id"`
	Basis          string `json:"basis,omitempty"` // on adding
	To             string `json:"to"`              // proposed (to add), or the next state
	GroundOn       Date   `json:"ground_on,omitzero"`
	// Exception: to eligible, for a parent unable to work, the R§29
	// exceptional case (the siblings of the R§29(1) test, or R§29(2)).
	Exception *ParentException `json:"exception,omitempty"`
	Change
}

// SetCaseFamily: proposed → docs_pending → eligible (HR-39 on the departure
// date, and the member's Annex 4 documents in) | rejected → included (named
// in the appointment order, R§24) → exclusion_ground (divorce, 18th
// birthday, care need removed: documents due in 10 working days, R§29-1) →
// exclusion_docs_submitted → excluded; included → early_recall_trigger (R§23).
func (s *Service) SetCaseFamily(ctx context.Context, check Check, by policy.Subject, id, caseID string, in CaseFamilyInput) (RotationCase, error) {
	return s.writeCase(ctx, check, id, caseID, func(tx pgx.Tx, cal *Calendar, c *RotationCase) error {
		fs := in.fields()
		var m FamilyMember
		var mc []byte
		err := error(pgx.ErrNoRows)
		if db.ValidUUID(in.FamilyMemberID) {
			err = tx.QueryRow(ctx, `SELECT id, relation, full_name, birth_date, medical_conclusion, unable_to_work FROM family_members WHERE id = $1 AND staff_id = $2`,
				in.FamilyMemberID, id).Scan(&m.ID, &m.Relation, &m.FullName, &m.BirthDate, &mc, &m.UnableToWork)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			fs = append(fs, fe("family_member_id", "a family member on this record"))
		} else if err != nil {
			return err
		}
		if len(mc) > 0 && string(mc) != "null" {
			m.MedicalConclusion = &MedicalConclusion{}
			_ = json.Unmarshal(mc, m.MedicalConclusion)
		}
		idx := slices.IndexFunc(c.Family, func(f CaseFamily) bool { return f.FamilyMemberID == in.FamilyMemberID })
		if in.To == "proposed" {
			if !slices.Contains(familyBases, in.Basis) {
				fs = append(fs, fe("basis", "R§24-29: one of "+strings.Join(familyBases, ", ")))
			}
		} else if idx < 0 && len(fs) == 0 {
			fs = append(fs, fe("family_member_id", "add the member to the case first (to: proposed)"))
		}
		if in.To == "exclusion_ground" && in.GroundOn.IsZero() {
			fs = append(fs, fe("ground_on", "R§29-1: the date of the divorce, of the 18th birthday, or of the removal of the care need"))
		}
		if len(fs) > 0 {
			return refusal("the family change is invalid", fs...)
		}
		on := c.DepartureOn
		if on.IsZero() {
			on = Today(time.Now())
		}
		if in.To == "proposed" {
			if idx >= 0 {
				return conflict("R§24", "%s is already in the case", m.FullName)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO rotation_case_family (case_id, family_member_id, basis, state) VALUES ($1, $2, $3, 'proposed')`,
				c.ID, m.ID, in.Basis); err != nil {
				return err
			}
		} else {
			f := c.Family[idx]
			if !slices.Contains(familyMoves[f.State], in.To) {
				return conflict("R§24", "%s is %s: next %v, not %s", f.FullName, f.State, familyMoves[f.State], in.To)
			}
			switch in.To {
			case "eligible":
				m.accompanying(on)
				if !m.Accompanying {
					return conflict("HR-39", "%s is not accompanying family on %s: %s", m.FullName, on, m.Ground)
				}
				rs, err := rotationSettings(ctx, tx)
				if err != nil {
					return err
				}
				if rs.needsParentException(f.Basis) {
					xf, err := checkParentException(ctx, tx, id, on, in.Exception)
					if err != nil {
						return err
					}
					if len(xf) > 0 {
						return refusal(fmt.Sprintf("R§29: %s is not admitted as an exceptional case", m.FullName), xf...)
					}
					x, _ := json.Marshal(in.Exception)
					if _, err := tx.Exec(ctx, `UPDATE rotation_case_family SET exception = $3 WHERE case_id = $1 AND family_member_id = $2`, c.ID, m.ID, x); err != nil {
						return err
					}
				} else if in.Exception != nil {
					return refusal("the family change is invalid", fe("exception", "R§29: the exceptional case is for a parent unable to work (basis parent_unable_to_work_exceptional; every parent when the setting rotation/settings r29_all_parents is on)"))
				}
				for _, d := range c.Documents {
					if d.Holder == m.ID && d.Status == "missing" {
						return conflict("R§25", "%s's document is missing: %s", m.FullName, d.What)
					}
				}
			case "included":
				if slices.Index(CaseStates, c.State) < slices.Index(CaseStates, "appointed") {
					return conflict("R§24", "the composition is fixed by the Minister's appointment order: the case is %s", c.State)
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE rotation_case_family SET state = $3, ground_on = coalesce($4, ground_on) WHERE case_id = $1 AND family_member_id = $2`,
				c.ID, m.ID, in.To, in.GroundOn); err != nil {
				return err
			}
		}
		_, err = record(ctx, tx, id, "rotation_family", map[string]any{"case_id": c.ID, "family_member_id": m.ID, "to": in.To,
			"basis": in.Basis, "ground_on": in.GroundOn, "exception": in.Exception}, in.Change, "", by)
		return err
	})
}

// CaseTransitionInput moves a case; departure carries what the posting
// needs (the authority appointing abroad, the allowance, an exemption).
type CaseTransitionInput struct {
	To           string     `json:"to"`
	On           Date       `json:"on"`
	Authority    string     `json:"authority,omitempty"`
	RareLanguage string     `json:"rare_language,omitempty"`
	Exemption    *Exemption `json:"exemption,omitempty"`
	Allowance    *Allowance `json:"allowance,omitempty"`
	Note         string     `json:"note,omitempty"`
	Change
}

// TransitionCase moves a case along rotation-digest §3.2.
func (s *Service) TransitionCase(ctx context.Context, check Check, by policy.Subject, id, caseID string, in CaseTransitionInput) (RotationCase, error) {
	return s.writeCase(ctx, check, id, caseID, func(tx pgx.Tx, cal *Calendar, c *RotationCase) error {
		fs := in.fields()
		if !slices.Contains(CaseStates, in.To) {
			fs = append(fs, fe("to", "one of "+strings.Join(CaseStates, ", ")))
		}
		if in.On.IsZero() {
			fs = append(fs, fe("on", "required"))
		}
		if in.To == "departed" && in.Authority == "" {
			fs = append(fs, fe("authority", "HR-35: the authority appointing to the post abroad"))
		}
		if in.To == "handed_over" && strings.TrimSpace(in.Note) == "" {
			fs = append(fs, fe("note", "what was handed over and to whom (the Rules set no procedure)"))
		}
		if len(fs) > 0 {
			return refusal("the transition is invalid", fs...)
		}
		if !slices.Contains(caseMoves[c.State], in.To) {
			return conflict("R§5", "the case is %s: next %v, not %s", c.State, caseMoves[c.State], in.To)
		}
		switch in.To {
		case "in_plan":
			if c.PlanID != "" {
				var state string
				var listed bool
				if err := tx.QueryRow(ctx, `SELECT p.state, EXISTS (SELECT 1 FROM rotation_plan_entries e WHERE e.plan_id = p.id
					AND (e.staff_id = $2 OR $2 = ANY(e.candidates))) FROM rotation_plans p WHERE p.id = $1`, c.PlanID, id).Scan(&state, &listed); err != nil {
					return err
				}
				if slices.Index(PlanStates, state) < slices.Index(PlanStates, "approved") || !listed {
					return conflict("R§4", "the person must be in the approved plan (the plan is %s, listed: %v)", state, listed)
				}
			}
		case "training_exempt":
			if c.Category != CategoryHeadOfMission && c.Position != "minister_counsellor" && c.Position != "deputy_permanent_representative" {
				return conflict("R§19", "only heads of foreign institutions, minister-counsellors and deputy permanent representatives are exempt from training")
			}
		case "in_training":
			if c.Training == nil {
				return conflict("R§15", "set the training plan (Annex 3) first")
			}
		case "training_concluded":
			if c.Training == nil || c.Training.Conclusion == "" {
				return conflict("R§17", "the training plan needs its conclusion (depart or deny) and end date")
			}
		case "departure_recommended", "departure_denial_recommended":
			want := map[string]string{"departure_recommended": "depart", "departure_denial_recommended": "deny"}[in.To]
			if c.Training.Conclusion != want {
				return conflict("R§17", "the training concluded %q", c.Training.Conclusion)
			}
		case "docs_complete":
			if c.MissingDocs > 0 {
				var miss []string
				for _, d := range c.Documents {
					if d.Status == "missing" {
						miss = append(miss, d.Code+" ("+d.Holder+")")
					}
				}
				return &valise.Error{Code: valise.ECONFLICT, Message: fmt.Sprintf("V11: %d Annex 4 documents are missing: %s", c.MissingDocs, strings.Join(miss, ", ")),
					Extra: map[string]any{"rule": "R§20", "missing": miss}}
			}
			for _, f := range c.Family {
				if !slices.Contains([]string{"included", "rejected", "excluded"}, f.State) {
					return conflict("R§24", "%s is %s: the family composition is settled before departure", f.FullName, f.State)
				}
			}
		case "departed":
			if c.PlanID != "" && (in.On.Month() < time.June || in.On.Month() > time.August) {
				return conflict("R§4", "a planned move departs between 1 June and 31 August; otherwise it is out of plan (V02)")
			}
			if err := departCase(ctx, tx, check, by, c, in); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE rotation_cases SET state = $2, version = version + 1,
			departure_on = CASE WHEN $2 = 'departed' THEN $3 ELSE departure_on END WHERE id = $1`, c.ID, in.To, in.On); err != nil {
			return err
		}
		_, err := record(ctx, tx, id, "rotation_case_"+in.To, map[string]any{"case_id": c.ID, "from": c.State, "to": in.To, "on": in.On, "note": in.Note}, in.Change, "", by)
		return err
	})
}

// departCase: an outbound case starts the posting; an inter-mission case
// moves the running one; an inbound case records the return.
func departCase(ctx context.Context, tx pgx.Tx, check Check, by policy.Subject, c *RotationCase, in CaseTransitionInput) error {
	a := AppointmentInput{Position: c.Position, Unit: c.Unit, StartDate: in.On, Authority: in.Authority}
	var postingID string
	switch c.Direction {
	case "outbound":
		p, err := startPosting(ctx, tx, check, by, c.StaffID, PostingInput{Kind: PostingForeign, Appointment: &a, RareLanguage: in.RareLanguage,
			Exemption: in.Exemption, Allowance: in.Allowance, Change: in.Change})
		if err != nil {
			return err
		}
		postingID = p.ID
	default:
		err := tx.QueryRow(ctx, `SELECT id FROM postings WHERE staff_id = $1 AND returned_on IS NULL AND kind = $2`, c.StaffID, PostingForeign).Scan(&postingID)
		if errors.Is(err, pgx.ErrNoRows) {
			return conflict("R§8", "no running posting to move or end")
		}
		if err != nil {
			return err
		}
		if c.Direction == "inbound" {
			if _, err := tx.Exec(ctx, `UPDATE postings SET returned_on = $2 WHERE id = $1`, postingID, in.On); err != nil {
				return err
			}
		} else if _, err := appoint(ctx, tx, check, by, c.StaffID, AppointInput{AppointmentInput: a, Change: in.Change}, "posting_moved",
			map[string]any{"posting_id": postingID, "inter_mission_transfer": true, "rotation_type": "external"}); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, `UPDATE rotation_cases SET posting_id = $2 WHERE id = $1`, c.ID, postingID)
	return err
}

func init() { RegisterAlertSource("rotation_cases", caseAlerts) }

// caseAlerts: Annex 4 documents missing for an appointed case (R§20), and
// family exclusion documents due 10 working days after the ground (R§29-1).
func caseAlerts(ctx context.Context, q db.Querier, cal *Calendar, asOf time.Time) ([]Alert, error) {
	rows, err := q.Query(ctx, `SELECT c.id, c.staff_id, s.full_name FROM rotation_cases c JOIN staff s ON s.id = c.staff_id
		WHERE c.state IN ('appointed', 'docs_complete') OR EXISTS (SELECT 1 FROM rotation_case_family f WHERE f.case_id = c.id AND f.state = 'exclusion_ground')`)
	if err != nil {
		return nil, err
	}
	type row struct{ id, staff, name string }
	var cases []row
	var r row
	if _, err := pgx.ForEachRow(rows, []any{&r.id, &r.staff, &r.name}, func() error { cases = append(cases, r); return nil }); err != nil {
		return nil, err
	}
	var out []Alert
	for _, x := range cases {
		c, err := loadCase(ctx, q, x.staff, x.id, false)
		if err != nil {
			return nil, err
		}
		if c.State == "appointed" && c.MissingDocs > 0 {
			due := Date{cal.NextWorkingDay(time.Date(asOf.Year(), time.June, 1, 0, 0, 0, 0, time.UTC))}
			if asOf.Month() > time.June {
				due = Today(asOf)
			}
			out = append(out, Alert{Kind: "document_missing", Rule: "R§20", StaffID: c.StaffID, StaffName: x.name, Ref: c.ID, Due: due.Time,
				Subject: fmt.Sprintf("%d Annex 4 documents missing before departure to %s", c.MissingDocs, c.Unit)})
		}
		for _, f := range c.Family {
			if f.State == "exclusion_ground" {
				out = append(out, Alert{Kind: "family_exclusion_docs_due", Rule: "R§29-1", StaffID: c.StaffID, StaffName: x.name, Ref: c.ID,
					Due: f.DocsDue.Time, Subject: "documents on the exclusion ground of " + f.FullName + " to the foreign institution"})
			}
		}
	}
	return out, nil
}
