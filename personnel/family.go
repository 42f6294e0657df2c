package personnel

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Document is a document on file (birth or marriage certificate, adoption decision, ...).
type Document struct {
	Kind   string `json:"kind"`
	Number string `json:"number"`
	Date   Date   `json:"date"`
}

// MedicalConclusion is a medical organisation's conclusion that the person
// is unable to work and needs care (Art. 1(11)).
type MedicalConclusion struct {
	Organisation string `json:"organisation"`
	Number       string `json:"number"`
	Date         Date   `json:"date"`
}

// FamilyInput records a family member.
type FamilyInput struct {
	Relation          string             `json:"relation"` // spouse, child, adopted_child, parent
	FullName          string             `json:"full_name"`
	BirthDate         Date               `json:"birth_date"`
	Documents         []Document         `json:"documents"`
	MedicalConclusion *MedicalConclusion `json:"medical_conclusion,omitempty"`
	// UnableToWork records the rotation Rules R§29 ground for a parent
	// unable to work, admitted in exceptional cases (errata 7, 16).
	UnableToWork bool `json:"unable_to_work,omitempty"`
	// SpouseStaffID: a spouse who holds a diplomatic-service position has a
	// staff record of their own (rotation Rules R§6, V05).
	SpouseStaffID string `json:"spouse_staff_id,omitempty"`
	Change
}

// FamilyMember is a family member with whether they are accompanying family on a date.
type FamilyMember struct {
	ID                string             `json:"id"`
	Relation          string             `json:"relation"`
	FullName          string             `json:"full_name"`
	BirthDate         Date               `json:"birth_date"`
	Documents         []Document         `json:"documents"`
	MedicalConclusion *MedicalConclusion `json:"medical_conclusion"`
	UnableToWork      bool               `json:"unable_to_work"`
	SpouseStaffID     string             `json:"spouse_staff_id,omitempty"`
	Accompanying      bool               `json:"accompanying"`
	Ground            string             `json:"ground"` // why (or why not) accompanying (HR-39)
}

// accompanying decides HR-39 on date on (Art. 1(11); errata 7 and 16).
func (m *FamilyMember) accompanying(on Date) {
	adult := !on.Before(m.BirthDate.AddDate(18, 0, 0))
	switch {
	case m.Relation == "spouse":
		m.Accompanying, m.Ground = true, "spouse (Art. 1(11))"
	case (m.Relation == "child" || m.Relation == "adopted_child") && !adult:
		m.Accompanying, m.Ground = true, "minor child (Art. 1(11))"
	case m.MedicalConclusion != nil:
		m.Accompanying, m.Ground = true, "adult child or parent unable to work and needing care, by a medical organisation's conclusion (Art. 1(11))"
	case m.Relation == "parent" && m.UnableToWork:
		m.Accompanying, m.Ground = true, "parent unable to work, exceptional case of the rotation Rules R§29 (no R§28(6) document; errata 7, 16)"
	case m.Relation == "parent":
		m.Ground = "HR-39: a parent is accompanying family only with a medical organisation's conclusion (Art. 1(11)) or as an R§29 exceptional case"
	default:
		m.Ground = "HR-39: an adult child is accompanying family only with a medical organisation's conclusion (Art. 1(11))"
	}
}

// AddFamily records a family member.
func (s *Service) AddFamily(ctx context.Context, check Check, by policy.Subject, id string, in FamilyInput) (FamilyMember, error) {
	out := FamilyMember{Relation: in.Relation, FullName: in.FullName, BirthDate: in.BirthDate, Documents: nonNil(in.Documents),
		MedicalConclusion: in.MedicalConclusion, UnableToWork: in.UnableToWork, SpouseStaffID: in.SpouseStaffID}
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		fs := in.fields()
		if !slices.Contains([]string{"spouse", "child", "adopted_child", "parent"}, in.Relation) {
			fs = append(fs, fe("relation", "one of spouse, child, adopted_child, parent (Art. 1(12))"))
		}
		if strings.TrimSpace(in.FullName) == "" {
			fs = append(fs, fe("full_name", "required"))
		}
		if in.BirthDate.IsZero() {
			fs = append(fs, fe("birth_date", "required"))
		}
		if mc := in.MedicalConclusion; mc != nil && (mc.Organisation == "" || mc.Number == "" || mc.Date.IsZero()) {
			fs = append(fs, fe("medical_conclusion", "name the medical organisation, the conclusion's number and date"))
		}
		if in.UnableToWork && in.Relation != "parent" {
			fs = append(fs, fe("unable_to_work", "the R§29 exceptional case is for parents"))
		}
		if in.SpouseStaffID != "" {
			if in.Relation != "spouse" || in.SpouseStaffID == id {
				fs = append(fs, fe("spouse_staff_id", "R§6: the staff record of a spouse who holds a diplomatic-service position (another record)"))
			} else if _, err := lockStaffRead(ctx, tx, in.SpouseStaffID, check); valise.ErrorCode(err) == valise.ENOTFOUND || valise.ErrorCode(err) == valise.EFORBIDDEN {
				fs = append(fs, fe("spouse_staff_id", "no such staff record"))
			} else if err != nil {
				return err
			}
		}
		for i, d := range in.Documents {
			if d.Kind == "" || d.Number == "" {
				fs = append(fs, fe(fmt.Sprintf("documents[%d]", i), "a document has a kind and a number"))
			}
		}
		if len(fs) > 0 {
			return refusal("the family member is invalid", fs...)
		}
		docs, _ := json.Marshal(out.Documents)
		var mc []byte
		if in.MedicalConclusion != nil {
			mc, _ = json.Marshal(in.MedicalConclusion)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO family_members (staff_id, relation, full_name, birth_date, documents, medical_conclusion, unable_to_work, staff_ref)
			VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, '')::uuid) RETURNING id`, id, in.Relation, in.FullName, in.BirthDate, docs, mc, in.UnableToWork, in.SpouseStaffID).Scan(&out.ID); err != nil {
			return err
		}
		_, err := record(ctx, tx, id, "family_member_recorded", out, in.Change, "", by)
		return err
	})
	out.accompanying(Today(s.now()))
	return out, err
}

// Family lists a person's family members and whether each is accompanying family on date on.
func (s *Service) Family(ctx context.Context, check Check, id string, on Date) ([]FamilyMember, error) {
	var out []FamilyMember
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockStaffRead(ctx, tx, id, check); err != nil {
			return err
		}
		var err error
		out, err = familyOf(ctx, tx, id, on)
		return err
	})
	return out, err
}

// familyOf reads a person's family members, each decided for date on (HR-39).
func familyOf(ctx context.Context, q db.Querier, id string, on Date) ([]FamilyMember, error) {
	rows, err := q.Query(ctx, `SELECT id, relation, full_name, birth_date, documents, medical_conclusion, unable_to_work, coalesce(staff_ref::text, '')
		FROM family_members WHERE staff_id = $1 ORDER BY birth_date`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (FamilyMember, error) {
		var m FamilyMember
		var docs, mc []byte
		err := row.Scan(&m.ID, &m.Relation, &m.FullName, &m.BirthDate, &docs, &mc, &m.UnableToWork, &m.SpouseStaffID)
		_ = json.Unmarshal(docs, &m.Documents)
		if len(mc) > 0 {
			m.MedicalConclusion = &MedicalConclusion{}
			_ = json.Unmarshal(mc, m.MedicalConclusion)
		}
		m.accompanying(on)
		return m, err
	})
}

// ReserveEntry is a personnel-reserve membership (HR-31).
type ReserveEntry struct {
	ID        string `json:"id"`
	StaffID   string `json:"staff_id"`
	FullName  string `json:"full_name,omitempty"`
	Basis     string `json:"basis"` // termination (9-1(1)), own_will (18(2)), study_completed (17(2)), application
	Article   string `json:"article"`
	AddedOn   Date   `json:"added_on"`
	Automatic bool   `json:"automatic"`
}

var reserveArticles = map[string]string{"termination": "9-1(1)", "own_will": "18(2)", "study_completed": "17(2)",
	"application": "rotation Rules (recorded only; erratum 4)"}

func addReserve(ctx context.Context, tx pgx.Tx, staffID, basis string, on Date, automatic bool, evID string) (ReserveEntry, error) {
	e := ReserveEntry{StaffID: staffID, Basis: basis, Article: reserveArticles[basis], AddedOn: on, Automatic: automatic}
	err := tx.QueryRow(ctx, `INSERT INTO personnel_reserve (staff_id, basis, added_on, automatic, event_id) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		staffID, basis, on, automatic, evID).Scan(&e.ID)
	return e, err
}

// Reserve lists the reserve entries of the records in scope.
func (s *Service) Reserve(ctx context.Context, sc policy.Scope, by policy.Subject) ([]ReserveEntry, error) {
	where, args := ScopeWhere(sc, by.UserID, 1)
	rows, err := s.pool.Query(ctx, `SELECT r.id, r.staff_id, s.full_name, r.basis, r.added_on, r.automatic
		FROM personnel_reserve r JOIN staff s ON s.id = r.staff_id WHERE `+where+` ORDER BY r.added_on, s.full_name`, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ReserveEntry, error) {
		var e ReserveEntry
		err := row.Scan(&e.ID, &e.StaffID, &e.FullName, &e.Basis, &e.AddedOn, &e.Automatic)
		e.Article = reserveArticles[e.Basis]
		return e, err
	})
}

// StudyInput sends a person to study (Art. 17(1)).
type StudyInput struct {
	Institution string `json:"institution"`
	Purpose     string `json:"purpose"` // professional_training, scientific_study
	StartDate   Date   `json:"start_date"`
	EndDate     Date   `json:"end_date"`
	Consent     struct {
		Given bool `json:"given"`
		Date  Date `json:"date"`
	} `json:"consent"`
	Change
}

// Study is an Art. 17 study referral.
type Study struct {
	ID          string        `json:"id"`
	Institution string        `json:"institution"`
	Purpose     string        `json:"purpose"`
	StartDate   Date          `json:"start_date"`
	EndDate     Date          `json:"end_date"`
	ConsentDate Date          `json:"consent_date"`
	CompletedOn Date          `json:"completed_on"`
	Reserve     *ReserveEntry `json:"reserve,omitempty"`
}

// SendToStudy records a study referral with the person's consent (HR-32);
// its period counts toward time in rank (Art. 12(2)(8)).
func (s *Service) SendToStudy(ctx context.Context, check Check, by policy.Subject, id string, in StudyInput) (Study, error) {
	out := Study{Institution: in.Institution, Purpose: in.Purpose, StartDate: in.StartDate, EndDate: in.EndDate, ConsentDate: in.Consent.Date}
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		fs := in.fields()
		if strings.TrimSpace(in.Institution) == "" {
			fs = append(fs, fe("institution", "required"))
		}
		if in.Purpose != "professional_training" && in.Purpose != "scientific_study" {
			fs = append(fs, fe("purpose", "professional_training or scientific_study (Art. 17(1))"))
		}
		if in.StartDate.IsZero() || in.EndDate.IsZero() || in.EndDate.Before(in.StartDate) {
			fs = append(fs, fe("end_date", "start_date and end_date, in order"))
		}
		if !in.Consent.Given || in.Consent.Date.IsZero() {
			fs = append(fs, fe("consent", "HR-32: the person's consent, with its date, is required (Art. 17(1))"))
		} else if !in.StartDate.IsZero() && in.Consent.Date.After(in.StartDate) {
			fs = append(fs, fe("consent.date", "HR-32: consent must be given before the study starts"))
		}
		if len(fs) > 0 {
			return refusal("the study referral is invalid", fs...)
		}
		var pid string
		if err := tx.QueryRow(ctx, `INSERT INTO service_periods (staff_id, period_type, counted, start_date, end_date, note)
			VALUES ($1, 'study', true, $2, $3, $4) RETURNING id`, id, in.StartDate, in.EndDate, "Art. 17 study: "+in.Institution).Scan(&pid); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO staff_studies (staff_id, institution, purpose, start_date, end_date, consent_date, period_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, id, in.Institution, in.Purpose, in.StartDate, in.EndDate, in.Consent.Date, pid).Scan(&out.ID); err != nil {
			return err
		}
		_, err := record(ctx, tx, id, "study_referred", out, in.Change, "", by)
		return err
	})
	return out, err
}

// CompleteInput records a study's completion.
type CompleteInput struct {
	CompletedOn Date `json:"completed_on"`
	Change
}

// CompleteStudy records a study's completion: the person is taken into the
// reserve automatically (HR-31, Art. 17(2)).
func (s *Service) CompleteStudy(ctx context.Context, check Check, by policy.Subject, id, studyID string, in CompleteInput) (Study, error) {
	var out Study
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		if !db.ValidUUID(studyID) {
			return valise.Errorf(valise.ENOTFOUND, "no such study")
		}
		err := tx.QueryRow(ctx, `SELECT id, institution, purpose, start_date, end_date, consent_date, completed_on FROM staff_studies
			WHERE id = $1 AND staff_id = $2 FOR UPDATE`, studyID, id).Scan(&out.ID, &out.Institution, &out.Purpose, &out.StartDate,
			&out.EndDate, &out.ConsentDate, &out.CompletedOn)
		if err == pgx.ErrNoRows {
			return valise.Errorf(valise.ENOTFOUND, "no such study")
		}
		if err != nil {
			return err
		}
		fs := in.fields()
		if in.CompletedOn.IsZero() || in.CompletedOn.Before(out.StartDate) {
			fs = append(fs, fe("completed_on", "required, on or after the start of the study"))
		}
		if len(fs) > 0 {
			return refusal("the completion is invalid", fs...)
		}
		if !out.CompletedOn.IsZero() {
			return valise.Errorf(valise.ECONFLICT, "the study was completed on %s", out.CompletedOn)
		}
		out.CompletedOn = in.CompletedOn
		if _, err := tx.Exec(ctx, `UPDATE staff_studies SET completed_on = $2 WHERE id = $1`, studyID, in.CompletedOn); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE service_periods SET end_date = $2 WHERE id = (SELECT period_id FROM staff_studies WHERE id = $1)`, studyID, in.CompletedOn); err != nil {
			return err
		}
		evID, err := record(ctx, tx, id, "study_completed", out, in.Change, "", by)
		if err != nil {
			return err
		}
		res, err := addReserve(ctx, tx, id, "study_completed", in.CompletedOn, true, evID)
		out.Reserve = &res
		return err
	})
	return out, err
}
