package personnel

// Diplomatic and service passports (issue 15) under Presidential Decree
// No. 722 of 13.01.2014: the Rules (R§1-R§21, App.1, App.2) and the List
// of entitled officials, read in Kazakh (passports-digest.md, errata.md).
// HR-38 (Law Art. 19(1-1)): Ambassador-rank holders and their spouses use a
// diplomatic passport for life. docs/personnel.md maps each paragraph to
// the code and its test.
//
// A passport is kept under a staff record: the person's own, or a family
// member's. Every change is one staff_events row of that record, written
// with the passport tables in one transaction; the personal-data policy of
// the record decides who reads and changes it (hidden == missing).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Passport types (R§2(1), R§2(2)).
const (
	PassportDiplomatic = "diplomatic"
	PassportService    = "service"
)

// Passport statuses (passports-digest §4.2; "prepared" and "issued" are one
// step here: the passport is recorded (R§18) when it is handed out (R§13)).
const (
	PassportApplied           = "applied"
	PassportIssued            = "issued"
	PassportInArchive         = "in_archive"
	PassportSurrenderDemanded = "surrender_demanded"
	PassportBorderAlert       = "border_alert"
	PassportLost              = "lost"
	PassportInvalidInMFA      = "invalid_in_mfa"
	PassportDestroyed         = "destroyed"
)

// Entitlement bases other than a List item.
const (
	BasisLifelong          = "lifelong"           // HR-38, Law Art. 19(1-1)
	BasisMinisterException = "minister_exception" // R§5 part 2
)

// PassportValidityYears is R§6: five years, for both types and every holder.
const PassportValidityYears = 5

// surrenderDays is the ten days of R§16 and R§17; returnWindowMonths the
// one month of R§17 without a new departure.
const (
	surrenderDays      = 10
	returnWindowMonths = 1
	preparationDays    = 5 // R§12: working days
)

// Invalidity grounds (R§15(1)-(6), R§17, R§21(2)).
var invalidReasons = map[string]string{
	"missing_data":      "R§15(1)",
	"expired":           "R§15(2)",
	"unidentifiable":    "R§15(3)",
	"lost":              "R§15(4)",
	"status_mismatch":   "R§15(5)",
	"gender_change":     "R§15(6)",
	"surrender_delayed": "R§17",
	"technical_mistake": "R§21(2)",
}

// Signatories of a request letter (R§2(6), App.1).
var letterSignatories = []string{"head", "acting_head", "head_of_apparatus"}

// Authors of a written instruction for an additional passport (R§11(3)).
var instructionAuthors = []string{"minister", "deputy_minister", "chief_of_staff"}

var passportNumberRe = regexp.MustCompile(`^[A-Z0-9]{5,20}$`)

// RequestLetter is the sending body's request letter (R§9(1), App.1).
type RequestLetter struct {
	Number        string `json:"number"`
	Date          Date   `json:"date"`
	SendingBody   string `json:"sending_body"`
	Signatory     string `json:"signatory"` // head, acting_head, head_of_apparatus (R§2(6))
	SignatoryName string `json:"signatory_name"`
	Country       string `json:"country"` // "for departure to ___ (country)"
	Departure     Date   `json:"departure"`
	DurationDays  int    `json:"duration_days"`
	Purpose       string `json:"purpose"`   // R§3: official purpose (no private trips)
	Basis         string `json:"basis"`     // "at the invitation of ___"
	FundedBy      string `json:"funded_by"` // App.1
}

// OrderCopy is the copy of the business-trip order certified by the sending
// body's HR service, or another document confirming the trip (R§9(2), R§14).
type OrderCopy struct {
	Number      string `json:"number"`
	Date        Date   `json:"date"`
	CertifiedBy string `json:"certified_by"` // the HR service officer (V-08)
}

// PassportDocuments is the R§9 set.
type PassportDocuments struct {
	RequestLetter   *RequestLetter `json:"request_letter"`   // R§9(1)
	OrderCopy       *OrderCopy     `json:"order_copy"`       // R§9(2)
	ApplicationForm bool           `json:"application_form"` // R§9(3): its form is not in the Decree
	Photos          int            `json:"photos"`           // R§9(4): two colour photographs 3.5 × 4.5 cm
	IdentityCopy    string         `json:"identity_copy"`    // R§9(5): id_card or passport
}

// BasisDetail supports the entitlement.
type BasisDetail struct {
	// R§5 part 2: the Minister's decision and the President's agreement.
	MinisterDecision   *Act `json:"minister_decision,omitempty"`
	PresidentAgreement *Act `json:"president_agreement,omitempty"`
	// Evidence for a List item the personnel record cannot show (an
	// international organisation's employee, a military attaché...).
	Evidence string `json:"evidence,omitempty"`
	// JointDeparture with the principal (DL-30, SL-10).
	JointDeparture bool `json:"joint_departure,omitempty"`
	// SL-5 (V-03): the officer rank, class rank, qualification class or
	// law-enforcement activity the holder has, and whether the employer is a
	// territorial body.
	RankOrActivity  string `json:"rank_or_activity,omitempty"`
	TerritorialBody bool   `json:"territorial_body,omitempty"`
}

// Instruction is a written instruction for an additional passport (R§11(3)).
type Instruction struct {
	Author string `json:"author"` // minister, deputy_minister, chief_of_staff
	Act
}

// PassportApplication applies for a passport (R§9) for the staff member
// (Holder "") or one of their family members (Holder = family member id).
type PassportApplication struct {
	Type        string            `json:"type"`
	Holder      string            `json:"holder,omitempty"`
	Basis       string            `json:"basis"` // a List item code, lifelong or minister_exception
	BasisDetail BasisDetail       `json:"basis_detail"`
	ReceivedOn  Date              `json:"received_on"`
	Documents   PassportDocuments `json:"documents"`
	// SecondGround: the R§11 ground when the holder already has a passport.
	SecondGround string       `json:"second_ground,omitempty"` // visa_obstacle, several_visas, written_instruction
	Instruction  *Instruction `json:"instruction,omitempty"`
	// Replaces: the invalid passport this one replaces (R§15); LossVerified:
	// for a lost one, the verification under the Minister's procedure (R§19).
	Replaces     string `json:"replaces,omitempty"`
	LossVerified *Act   `json:"loss_verified,omitempty"`
	Change
}

// Passport is a passport record (R§18).
type Passport struct {
	ID             string            `json:"id"`
	StaffID        string            `json:"staff_id,omitempty"`
	HolderID       string            `json:"holder_id,omitempty"` // a holder outside the service (passport_holder.go)
	FamilyMemberID string            `json:"family_member_id,omitempty"`
	HolderName     string            `json:"holder_name"`
	Type           string            `json:"type"`
	Basis          string            `json:"basis"`
	BasisDetail    BasisDetail       `json:"basis_detail"`
	Status         string            `json:"status"`
	Valid          bool              `json:"valid"` // on the date it was read
	InvalidReason  string            `json:"invalid_reason,omitempty"`
	InvalidFrom    Date              `json:"invalid_from"`
	Location       string            `json:"location"`
	Number         string            `json:"number,omitempty"`
	Destination    string            `json:"destination"`
	ReceivedOn     Date              `json:"received_on"`
	PrepareBy      Date              `json:"prepare_by"`
	Documents      PassportDocuments `json:"documents"`
	SecondGround   string            `json:"second_ground,omitempty"`
	Replaces       string            `json:"replaces,omitempty"`
	IssuedOn       Date              `json:"issued_on"`
	ExpiresOn      Date              `json:"expires_on"`
	ReturnDate     Date              `json:"return_date"`
	SurrenderBasis string            `json:"surrender_basis,omitempty"`
	SurrenderDue   Date              `json:"surrender_due"`
	SurrenderedOn  Date              `json:"surrendered_on"`
	DestructionAct string            `json:"destruction_act,omitempty"`
	Version        int               `json:"version"`
}

// ListItem is a List entry (reference data passport_list, versioned).
type ListItem struct {
	Type           string   `json:"type"`
	Label          string   `json:"label"`
	Family         []string `json:"family,omitempty"`
	StaffKind      string   `json:"staff_kind,omitempty"`
	DependentsOnly bool     `json:"dependents_only,omitempty"`
	Active         bool     `json:"active"`
	// InForceFrom / InForceUntil: an item in force for a period only
	// (DL-27-1: 04.03.2016 to 31.12.2017), the application date counts.
	InForceFrom  Date `json:"in_force_from"`
	InForceUntil Date `json:"in_force_until"`
	// Conditions the item states (listConditions).
	Conditions []string `json:"conditions,omitempty"`
}

// listConditions are the conditions List items state, by code.
var listConditions = map[string]string{
	"not_diplomatic_entitled": "SL-2, SL-3, SL-4: except persons entitled to a diplomatic passport (V-02)",
	"rank_or_law_enforcement": "SL-5: an officer rank, class rank, qualification class, or law-enforcement activity (V-03)",
	"not_territorial_body":    "SL-5: not an employee of a territorial body (V-03)",
	"principal_holds_type":    "DL-30, SL-10: dependents of a holder of a passport of the item's type",
}

// rankKinds are the SL-5 attributes (V-03).
var rankKinds = []string{"officer_rank", "class_rank", "qualification_class", "law_enforcement"}

// PassportSettings is what the Decree leaves open (reference passport/settings).
type PassportSettings struct {
	ReturnReading string `json:"return_reading"` // R§17: A (10 days from return) or B (from the end of the month)
	SurrenderDays string `json:"surrender_days"` // R§16, R§17: calendar or working
	CommissionMin int    `json:"commission_min"` // R§21, App.2: members signing an act
	// BlanksRequired: a passport is issued only on a form received into the
	// blank ledger (V-27; the Decree keeps no ledger format). Off: a number the
	// ledger does not hold is issued untraced (passports issued before it).
	BlanksRequired bool `json:"blanks_required,omitempty"`
}

func passportSettings(ctx context.Context, q db.Querier) (PassportSettings, error) {
	v := PassportSettings{ReturnReading: "A", SurrenderDays: "calendar", CommissionMin: 3}
	_, err := refValue(ctx, q, RefPassport, "settings", &v)
	return v, err
}

// addDays adds n days of the setting's kind (calendar or working); a
// calendar-day deadline falling on a day off moves to the next working day
// (the archive receives on working days; docs/decisions.md).
func (ps PassportSettings) addDays(cal *Calendar, d Date, n int) Date {
	if ps.SurrenderDays == "working" {
		return Date{cal.AddWorkingDays(d.Time, n)}
	}
	return Date{cal.NextWorkingDay(d.AddDate(0, 0, n).Time)}
}

// surrenderDue is the last day to surrender: ten days from the notice
// (R§16) or the return (R§17), under reading B from the end of the month
// after the return; calendar or working days by the settings.
func surrenderDue(ctx context.Context, q db.Querier, from Date, afterReturn bool) (Date, error) {
	ps, err := passportSettings(ctx, q)
	if err != nil {
		return Date{}, err
	}
	cal, err := LoadCalendar(ctx, q)
	if err != nil {
		return Date{}, err
	}
	if afterReturn && ps.ReturnReading == "B" {
		from = from.AddDate(0, returnWindowMonths, 0)
	}
	return ps.addDays(cal, from, surrenderDays), nil
}

const passportCols = `p.id, coalesce(p.staff_id::text, ''), coalesce(p.holder_id::text, ''), coalesce(p.family_member_id::text, ''), p.holder_name, p.passport_type, p.basis,
	p.basis_detail, p.status, coalesce(p.invalid_reason, ''), p.invalid_from, p.location, coalesce(p.number, ''),
	p.destination, p.received_on, p.prepare_by, p.documents, coalesce(p.second_ground, ''), coalesce(p.replaces::text, ''),
	p.issued_on, p.expires_on, p.return_date, coalesce(p.surrender_basis, ''), p.surrender_due, p.surrendered_on,
	coalesce(p.destruction_act::text, ''), p.version`

func scanPassport(row pgx.Row, today Date) (Passport, error) {
	var p Passport
	var bd, docs []byte
	err := row.Scan(&p.ID, &p.StaffID, &p.HolderID, &p.FamilyMemberID, &p.HolderName, &p.Type, &p.Basis, &bd, &p.Status,
		&p.InvalidReason, &p.InvalidFrom, &p.Location, &p.Number, &p.Destination, &p.ReceivedOn, &p.PrepareBy, &docs,
		&p.SecondGround, &p.Replaces, &p.IssuedOn, &p.ExpiresOn, &p.ReturnDate, &p.SurrenderBasis, &p.SurrenderDue,
		&p.SurrenderedOn, &p.DestructionAct, &p.Version)
	if err != nil {
		return p, err
	}
	_ = json.Unmarshal(bd, &p.BasisDetail)
	_ = json.Unmarshal(docs, &p.Documents)
	p.Valid = p.validOn(today)
	return p, nil
}

// validOn: issued, not invalidated, and within R§6 on d (the expiry date is
// the last valid day: the errata's counting convention).
func (p Passport) validOn(d Date) bool {
	if p.IssuedOn.IsZero() || p.InvalidReason != "" || p.ExpiresOn.Before(d) {
		return false
	}
	return slices.Contains([]string{PassportIssued, PassportInArchive}, p.Status)
}

// lockPassport loads a passport of staff record id (locked for a change).
func lockPassport(ctx context.Context, tx pgx.Tx, staffID, id string, today Date) (Passport, error) {
	if !db.ValidUUID(id) {
		return Passport{}, valise.Errorf(valise.ENOTFOUND, "not found")
	}
	p, err := scanPassport(tx.QueryRow(ctx, `SELECT `+passportCols+` FROM passports p WHERE p.id = $1 AND coalesce(p.staff_id, p.holder_id) = $2 FOR UPDATE`, id, staffID), today)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, valise.Errorf(valise.ENOTFOUND, "not found")
	}
	return p, err
}

func passportConflict(rule string, p Passport, format string, args ...any) error {
	return &valise.Error{Code: valise.ECONFLICT, Message: rule + ": " + fmt.Sprintf(format, args...),
		Extra: map[string]any{"rule": rule, "current_state": p.Status}}
}

func (d PassportDocuments) failures() []valise.FieldError {
	var fs []valise.FieldError
	if l := d.RequestLetter; l == nil {
		fs = append(fs, fe("documents.request_letter", "R§9(1): the sending body's request letter (App.1) is required"))
	} else {
		if strings.TrimSpace(l.Number) == "" || l.Date.IsZero() || strings.TrimSpace(l.SendingBody) == "" {
			fs = append(fs, fe("documents.request_letter", "R§9(1), App.1: the letter's outgoing number, date and sending body"))
		}
		if !slices.Contains(letterSignatories, l.Signatory) || strings.TrimSpace(l.SignatoryName) == "" {
			fs = append(fs, fe("documents.request_letter.signatory", "R§2(6): signed by the head, the acting head or the head of apparatus (one of "+strings.Join(letterSignatories, ", ")+"), with the name"))
		}
		if !countryRe.MatchString(l.Country) || l.Departure.IsZero() {
			fs = append(fs, fe("documents.request_letter.country", "App.1: the destination country (ISO 3166) and the planned departure date"))
		}
		if strings.TrimSpace(l.Purpose) == "" {
			fs = append(fs, fe("documents.request_letter.purpose", "R§3: the official purpose of the trip (private trips are prohibited)"))
		}
	}
	if o := d.OrderCopy; o == nil || strings.TrimSpace(o.Number) == "" || o.Date.IsZero() || strings.TrimSpace(o.CertifiedBy) == "" {
		fs = append(fs, fe("documents.order_copy", "R§9(2): a copy of the business-trip order (or other document) certified by the sending body's HR service: number, date, certifier"))
	}
	if !d.ApplicationForm {
		fs = append(fs, fe("documents.application_form", "R§9(3): the completed application"))
	}
	if d.Photos != 2 {
		fs = append(fs, fe("documents.photos", "R§9(4): two colour photographs 3.5 × 4.5 cm"))
	}
	if d.IdentityCopy != "id_card" && d.IdentityCopy != "passport" {
		fs = append(fs, fe("documents.identity_copy", "R§9(5): a copy of the identity card or the RK passport (id_card or passport)"))
	}
	return fs
}

// holderFacts are what entitlement reads of the holder. For a holder
// outside the service (external), principal is the principal holder's
// record (a family member or dependent); for a staff record's family member
// the principal is the staff record.
type holderFacts struct {
	name, relation, staffKind string
	rank                      int
	terminated                *Date
	external                  bool
	owner, familyID           string // the passport owner id and family member ("" = the owner)
	principalOwner            string // whose passports "principal_holds_type" reads
	principalFamily           string
}

func loadHolder(ctx context.Context, q db.Querier, r resource, familyID string) (holderFacts, error) {
	h := holderFacts{owner: r.id, familyID: familyID, external: r.holder}
	if r.holder {
		if familyID != "" {
			return h, pgx.ErrNoRows // a holder's family member has a holder record of their own
		}
		var principal *string
		err := q.QueryRow(ctx, `SELECT full_name, coalesce(relation, ''), principal_id::text FROM passport_holders WHERE id = $1`,
			r.id).Scan(&h.name, &h.relation, &principal)
		if principal != nil {
			h.principalOwner = *principal
		}
		return h, err
	}
	staffID := r.id
	h.principalOwner = staffID
	err := q.QueryRow(ctx, `SELECT s.full_name, s.staff_kind, s.terminated_on,
		coalesce((SELECT rank FROM staff_ranks r WHERE r.staff_id = s.id ORDER BY id DESC LIMIT 1), 0)
		FROM staff s WHERE s.id = $1`, staffID).Scan(&h.name, &h.staffKind, &h.terminated, &h.rank)
	if err != nil || familyID == "" {
		return h, err
	}
	if !db.ValidUUID(familyID) {
		return h, pgx.ErrNoRows
	}
	return h, q.QueryRow(ctx, `SELECT full_name, relation FROM family_members WHERE id = $1 AND staff_id = $2`,
		familyID, staffID).Scan(&h.name, &h.relation)
}

// entitlement checks V-01 (R§5, the List) and HR-38 for the holder on the date.
func entitlement(ctx context.Context, q db.Querier, h holderFacts, in PassportApplication) ([]valise.FieldError, error) {
	serving := h.terminated == nil || !h.terminated.Before(in.ReceivedOn)
	switch in.Basis {
	case BasisLifelong: // HR-38: Art. 19(1-1)
		var fs []valise.FieldError
		if h.external {
			return []valise.FieldError{fe("basis", "HR-38: the lifelong right follows the Ambassador rank of a diplomatic-service record (Art. 19(1-1)); a holder outside the service has none")}, nil
		}
		if in.Type != PassportDiplomatic {
			fs = append(fs, fe("type", "HR-38: the lifelong right is to a diplomatic passport (Art. 19(1-1))"))
		}
		if h.rank != 11 {
			fs = append(fs, fe("basis", "HR-38: the lifelong right belongs to holders of the rank of Ambassador Extraordinary and Plenipotentiary and their spouses (Art. 19(1-1)); the record's rank is not Ambassador"))
		} else if h.relation != "" && h.relation != "spouse" {
			fs = append(fs, fe("holder", "HR-38: of the family, only the spouse shares the lifelong right (Art. 19(1-1))"))
		}
		return fs, nil
	case BasisMinisterException: // R§5 part 2
		var fs []valise.FieldError
		if in.Type != PassportDiplomatic {
			fs = append(fs, fe("basis", "R§5: the Minister's exception is for diplomatic passports only; a service passport needs a List item"))
		}
		if d := in.BasisDetail.MinisterDecision; d == nil || d.Number == "" || d.Date.IsZero() {
			fs = append(fs, fe("basis_detail.minister_decision", "R§5: the Minister's decision (number, date)"))
		}
		if d := in.BasisDetail.PresidentAgreement; d == nil || d.Number == "" || d.Date.IsZero() {
			fs = append(fs, fe("basis_detail.president_agreement", "R§5: the President's agreement (number, date)"))
		}
		return fs, nil
	}
	var item ListItem
	ok := refCodeRe.MatchString(in.Basis)
	if ok {
		var err error
		if ok, err = refValue(ctx, q, RefPassportList, in.Basis, &item); err != nil {
			return nil, err
		}
	}
	if !ok || !item.Active {
		return []valise.FieldError{fe("basis", "V-01, R§5: an active item of the List (reference passport_list), lifelong (HR-38) or minister_exception")}, nil
	}
	var fs []valise.FieldError
	if item.Type != in.Type {
		fs = append(fs, fe("basis", fmt.Sprintf("R§5: List item %s entitles to a %s passport", in.Basis, item.Type)))
	}
	if !item.InForceFrom.IsZero() && in.ReceivedOn.Before(item.InForceFrom) || !item.InForceUntil.IsZero() && in.ReceivedOn.After(item.InForceUntil) {
		fs = append(fs, fe("basis", fmt.Sprintf("V-01: List item %s is in force from %s until %s; the application is of %s", in.Basis,
			dateOr(item.InForceFrom, "the start"), dateOr(item.InForceUntil, "further notice"), in.ReceivedOn)))
	}
	if h.external && item.StaffKind != "" {
		fs = append(fs, fe("basis", fmt.Sprintf("V-01: List item %s covers %s staff of the diplomatic service: the passport is kept under the staff record", in.Basis, item.StaffKind)))
	}
	if h.external && h.relation != "" && h.principalOwner == "" {
		fs = append(fs, fe("holder", "V-04: a family member's record names the principal holder"))
	}
	for _, c := range item.Conditions {
		f, err := listCondition(ctx, q, c, h, in, item)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f...)
	}
	if h.relation != "" && !slices.Contains(item.Family, h.relation) {
		fs = append(fs, fe("holder", fmt.Sprintf("V-04: List item %s does not cover a %s", in.Basis, h.relation)))
	}
	if h.relation == "" && item.DependentsOnly {
		fs = append(fs, fe("holder", fmt.Sprintf("V-04: List item %s is for the holder's dependents", in.Basis)))
	}
	if item.DependentsOnly && !in.BasisDetail.JointDeparture {
		fs = append(fs, fe("basis_detail.joint_departure", "V-04: only a dependent departing jointly with the holder (DL-30, SL-10)"))
	}
	if item.StaffKind != "" && !h.external {
		if !serving {
			fs = append(fs, fe("basis", fmt.Sprintf("V-01: the principal's service ended on %s; List item %s covers serving staff (R§15(5))", h.terminated, in.Basis)))
		}
		if h.staffKind != item.StaffKind {
			fs = append(fs, fe("basis", fmt.Sprintf("V-01: List item %s covers %s staff; the principal's position is %s (DL-27 қызметкерлері vs SL-6 жұмыскерлері)", in.Basis, item.StaffKind, h.staffKind)))
		}
	} else if !item.DependentsOnly && strings.TrimSpace(in.BasisDetail.Evidence) == "" {
		fs = append(fs, fe("basis_detail.evidence", fmt.Sprintf("V-01: List item %s is not shown by the personnel record: cite the document that shows it", in.Basis)))
	}
	return fs, nil
}

func dateOr(d Date, s string) string {
	if d.IsZero() {
		return s
	}
	return d.String()
}

// validOrPending is the SQL of a passport that is held or being prepared:
// applied, or issued and kept (with the holder or in the archive), not
// invalidated, not expired on $date.
const validOrPending = `status IN ('applied', 'issued', 'in_archive') AND invalid_reason IS NULL AND (expires_on IS NULL OR expires_on >= `

// listCondition evaluates one condition a List item states.
func listCondition(ctx context.Context, q db.Querier, code string, h holderFacts, in PassportApplication, item ListItem) ([]valise.FieldError, error) {
	switch code {
	case "not_diplomatic_entitled": // V-02
		var number string
		err := q.QueryRow(ctx, `SELECT coalesce(number, '(application of ' || received_on || ')') FROM passports
			WHERE coalesce(staff_id, holder_id) = $1 AND coalesce(family_member_id::text, '') = $2 AND passport_type = 'diplomatic'
			AND `+validOrPending+`$3) LIMIT 1`, h.owner, h.familyID, in.ReceivedOn).Scan(&number)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []valise.FieldError{fe("basis", fmt.Sprintf("V-02: List item %s excludes persons entitled to a diplomatic passport; the holder has diplomatic passport %s", in.Basis, number))}, nil
	case "rank_or_law_enforcement": // V-03
		if !slices.Contains(rankKinds, in.BasisDetail.RankOrActivity) {
			return []valise.FieldError{fe("basis_detail.rank_or_activity", fmt.Sprintf("V-03: List item %s needs an officer rank, class rank, qualification class or law-enforcement activity (one of %s)", in.Basis, strings.Join(rankKinds, ", ")))}, nil
		}
	case "not_territorial_body": // V-03
		if in.BasisDetail.TerritorialBody {
			return []valise.FieldError{fe("basis_detail.territorial_body", fmt.Sprintf("V-03: List item %s excludes employees of territorial bodies", in.Basis))}, nil
		}
	case "principal_holds_type": // DL-30, SL-10
		var n int
		if h.principalOwner != "" {
			if err := q.QueryRow(ctx, `SELECT count(*) FROM passports WHERE coalesce(staff_id, holder_id) = $1 AND coalesce(family_member_id::text, '') = $2
				AND passport_type = $3 AND `+validOrPending+`$4)`, h.principalOwner, h.principalFamily, item.Type, in.ReceivedOn).Scan(&n); err != nil {
				return nil, err
			}
		}
		if n == 0 {
			return []valise.FieldError{fe("holder", fmt.Sprintf("List item %s: the dependents of a %s-passport holder; the principal holds none (issued or in preparation)", in.Basis, item.Type))}, nil
		}
	}
	return nil, nil
}

// Apply registers a passport application with the full R§9 set (T1): the
// holder is entitled (V-01, HR-38), an additional passport has an R§11
// ground, a replacement names an invalid passport (R§15, R§19). The R§12
// clock runs from received_on: five working days.
func (s *Service) Apply(ctx context.Context, check Check, by policy.Subject, staffID string, in PassportApplication) (Passport, error) {
	var out Passport
	today := Today(s.now())
	err := s.writeOwner(ctx, staffID, check, func(tx pgx.Tx, r resource) error {
		fs := in.fields()
		if in.Type != PassportDiplomatic && in.Type != PassportService {
			fs = append(fs, fe("type", "diplomatic or service (R§2)"))
		}
		if in.ReceivedOn.IsZero() {
			fs = append(fs, fe("received_on", "the date the full R§9 set was received (R§12)"))
		}
		fs = append(fs, in.Documents.failures()...)
		h, err := loadHolder(ctx, tx, r, in.Holder)
		if errors.Is(err, pgx.ErrNoRows) {
			return refusal("the passport application is refused", append(fs, fe("holder", "no such family member of this record"))...)
		}
		if err != nil {
			return err
		}
		if len(fs) == 0 {
			efs, err := entitlement(ctx, tx, h, in)
			if err != nil {
				return err
			}
			fs = append(fs, efs...)
		}
		// R§15, R§19: a replacement names an invalid passport of the same holder.
		var old *Passport
		if in.Replaces != "" {
			p, err := lockPassport(ctx, tx, r.id, in.Replaces, today)
			switch {
			case valise.ErrorCode(err) == valise.ENOTFOUND:
				fs = append(fs, fe("replaces", "no such passport of this record"))
			case err != nil:
				return err
			case p.FamilyMemberID != in.Holder:
				fs = append(fs, fe("replaces", "a passport of another holder"))
			case p.Status == PassportApplied:
				fs = append(fs, fe("replaces", "R§15: the passport was never issued"))
			case p.InvalidReason == "" && !p.ExpiresOn.Before(in.ReceivedOn):
				fs = append(fs, fe("replaces", "R§15: only an invalid passport is replaced (expired, lost, or on an R§15 ground)"))
			case p.Status == PassportLost && (in.LossVerified == nil || in.LossVerified.Number == "" || in.LossVerified.Date.IsZero()):
				fs = append(fs, fe("loss_verified", "R§19: a lost passport is replaced after the loss is verified under the Minister's procedure: name the verification (number, date)"))
			default:
				var taken int
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM passports WHERE replaces = $1`, p.ID).Scan(&taken); err != nil {
					return err
				}
				if taken > 0 {
					fs = append(fs, fe("replaces", "the passport is already replaced"))
				}
				old = &p
			}
		}
		// R§11: an additional passport only on one of its three grounds.
		var others int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM passports WHERE coalesce(staff_id, holder_id) = $1 AND coalesce(family_member_id::text, '') = $2
			AND status IN ('issued', 'in_archive', 'surrender_demanded', 'border_alert') AND invalid_reason IS NULL AND expires_on >= $3
			AND id::text <> $4`, r.id, in.Holder, in.ReceivedOn, in.Replaces).Scan(&others); err != nil {
			return err
		}
		switch {
		case others > 0 && in.SecondGround == "":
			fs = append(fs, fe("second_ground", "R§11: the holder already has a valid passport; another one only when a visa in it may obstruct entry (visa_obstacle), visas for several countries are needed in a short time (several_visas), or on a written instruction (written_instruction)"))
		case in.SecondGround != "" && !slices.Contains([]string{"visa_obstacle", "several_visas", "written_instruction"}, in.SecondGround):
			fs = append(fs, fe("second_ground", "R§11: visa_obstacle, several_visas or written_instruction"))
		case in.SecondGround == "written_instruction" && (in.Instruction == nil || !slices.Contains(instructionAuthors, in.Instruction.Author) || in.Instruction.Number == "" || in.Instruction.Date.IsZero()):
			fs = append(fs, fe("instruction", "R§11(3): the written instruction of the Minister, a Deputy Minister or the Chief of Staff (author minister, deputy_minister or chief_of_staff; number, date)"))
		}
		if len(fs) > 0 {
			return refusal("the passport application is refused", fs...)
		}
		cal, err := LoadCalendar(ctx, tx)
		if err != nil {
			return err
		}
		prepareBy := Date{cal.AddWorkingDays(in.ReceivedOn.Time, preparationDays)} // R§12
		bd, _ := json.Marshal(in.BasisDetail)
		docs, _ := json.Marshal(in.Documents)
		var sd []byte
		if in.Instruction != nil {
			sd, _ = json.Marshal(in.Instruction)
		}
		var id string
		ownerCol := "staff_id"
		if r.holder {
			ownerCol = "holder_id"
		}
		if err := tx.QueryRow(ctx, `INSERT INTO passports (`+ownerCol+`, family_member_id, holder_name, passport_type, basis, basis_detail,
			status, location, destination, received_on, prepare_by, documents, second_ground, second_detail, replaces)
			VALUES ($1, nullif($2, '')::uuid, $3, $4, $5, $6, 'applied', 'mfa_processing', $7, $8, $9, $10, nullif($11, ''), $12, nullif($13, '')::uuid)
			RETURNING id`, r.id, in.Holder, h.name, in.Type, in.Basis, bd, in.Documents.RequestLetter.Country,
			in.ReceivedOn, prepareBy, docs, in.SecondGround, sd, in.Replaces).Scan(&id); err != nil {
			return err
		}
		data := in
		data.Change = Change{}
		if _, err := recordFor(ctx, tx, r, "passport_applied", map[string]any{"passport_id": id, "application": data,
			"prepare_by": prepareBy, "replaces": old != nil}, in.Change, by); err != nil {
			return err
		}
		out, err = lockPassport(ctx, tx, r.id, id, today)
		return err
	})
	return out, err
}

// IDDocument is the identity document the authorized person presents (R§13).
type IDDocument struct {
	Kind   string `json:"kind"` // id_card or passport (RK)
	Number string `json:"number"`
}

// HandOut is the R§13 journal entry of a hand-out to the authorized person.
type HandOut struct {
	On            Date       `json:"on"`
	Recipient     string     `json:"recipient"`
	RecipientDoc  IDDocument `json:"recipient_doc"`
	Authorization string     `json:"authorization,omitempty"` // the sending body's authorization (R§2(3)), unless the owner collects
	Signed        bool       `json:"signed"`
}

func (h HandOut) failures(holder string) []valise.FieldError {
	var fs []valise.FieldError
	if h.On.IsZero() {
		fs = append(fs, fe("handout.on", "required"))
	}
	if strings.TrimSpace(h.Recipient) == "" {
		fs = append(fs, fe("handout.recipient", "R§13: the authorized person who receives the passport"))
	}
	if (h.RecipientDoc.Kind != "id_card" && h.RecipientDoc.Kind != "passport") || strings.TrimSpace(h.RecipientDoc.Number) == "" {
		fs = append(fs, fe("handout.recipient_doc", "R§13: the RK identity card or passport the authorized person presents (kind id_card or passport, number)"))
	}
	if !strings.EqualFold(strings.TrimSpace(h.Recipient), holder) && strings.TrimSpace(h.Authorization) == "" {
		fs = append(fs, fe("handout.authorization", "R§2(3): someone other than the owner collects only on the sending body's authorization"))
	}
	if !h.Signed {
		fs = append(fs, fe("handout.signed", "R§13: the authorized person signs the issuance journal"))
	}
	return fs
}

func journal(ctx context.Context, tx pgx.Tx, passportID string, h HandOut, fromArchive bool, eventID string) error {
	doc, _ := json.Marshal(h.RecipientDoc)
	_, err := tx.Exec(ctx, `INSERT INTO passport_journal (passport_id, handed_on, from_archive, recipient, recipient_doc, authorized_by, signed, event_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, passportID, h.On, fromArchive, h.Recipient, doc, h.Authorization, h.Signed, eventID)
	return err
}

// IssueInput records the passport prepared (R§18) and handed out (R§13).
type IssueInput struct {
	Number  string  `json:"number"`
	HandOut HandOut `json:"handout"`
	Change
}

// PassportAction is the outcome of a passport change.
type PassportAction struct {
	Passport Passport `json:"passport"`
	EventID  string   `json:"event_id"`
	// Late: an R§12 or surrender deadline was missed (recorded, not refused).
	Late     bool   `json:"late"`
	Deadline string `json:"deadline,omitempty"`
}

// passportChange runs fn on a locked passport of a staff record and records
// its event.
func (s *Service) passportChange(ctx context.Context, check Check, by policy.Subject, staffID, id, kind string, c Change,
	fn func(tx pgx.Tx, p *Passport, a *PassportAction) (any, []valise.FieldError, error)) (PassportAction, error) {
	var a PassportAction
	today := Today(s.now())
	err := s.writeOwner(ctx, staffID, check, func(tx pgx.Tx, r resource) error {
		p, err := lockPassport(ctx, tx, r.id, id, today)
		if err != nil {
			return err
		}
		fs := c.fields()
		data, more, err := fn(tx, &p, &a)
		if err != nil {
			return err
		}
		if fs = append(fs, more...); len(fs) > 0 {
			return refusal("the passport change is refused", fs...)
		}
		if a.EventID, err = recordFor(ctx, tx, r, kind, map[string]any{"passport_id": id, "number": p.Number, "detail": data,
			"late": a.Late, "deadline": a.Deadline}, c, by); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE passports SET version = version + 1 WHERE id = $1`, id); err != nil {
			return err
		}
		if j, ok := data.(journalEntry); ok {
			if err := journal(ctx, tx, id, j.HandOut, j.fromArchive, a.EventID); err != nil {
				return err
			}
		}
		a.Passport, err = lockPassport(ctx, tx, r.id, id, today)
		return err
	})
	return a, err
}

type journalEntry struct {
	HandOut
	fromArchive bool
}

// Issue hands a prepared passport out (T3, T4): number, R§6 validity of
// five years from the issue date, the R§13 journal signed by the authorized
// person. Past the R§12 limit the issue is recorded as late.
func (s *Service) Issue(ctx context.Context, check Check, by policy.Subject, staffID, id string, in IssueInput) (PassportAction, error) {
	return s.passportChange(ctx, check, by, staffID, id, "passport_issued", in.Change, func(tx pgx.Tx, p *Passport, a *PassportAction) (any, []valise.FieldError, error) {
		if p.Status != PassportApplied {
			return nil, nil, passportConflict("R§13", *p, "the passport is %s; only an application is issued", p.Status)
		}
		fs := in.HandOut.failures(p.HolderName)
		if !passportNumberRe.MatchString(in.Number) {
			fs = append(fs, fe("number", "R§18: the passport (blank) number, 5-20 capital letters and digits"))
		}
		if !in.HandOut.On.IsZero() && in.HandOut.On.Before(p.ReceivedOn) {
			fs = append(fs, fe("handout.on", "before the application was received"))
		}
		if len(fs) > 0 {
			return nil, fs, nil
		}
		var taken int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM passports WHERE number = $1`, in.Number).Scan(&taken); err != nil {
			return nil, nil, err
		}
		if taken > 0 {
			return nil, []valise.FieldError{fe("number", "R§7: a blank number is used once")}, nil
		}
		if fs, err := useBlank(ctx, tx, *p, in.Number, in.HandOut.On, in.Change, by); err != nil || len(fs) > 0 {
			return nil, fs, err
		}

		expires := in.HandOut.On.AddDate(PassportValidityYears, 0, 0) // R§6
		if in.HandOut.On.After(p.PrepareBy) {
			a.Late, a.Deadline = true, "R§12: prepared by "+p.PrepareBy.String()
		}
		if _, err := tx.Exec(ctx, `UPDATE passports SET status = 'issued', location = 'with_holder', number = $2, issued_on = $3,
			expires_on = $4 WHERE id = $1`, p.ID, in.Number, in.HandOut.On, expires); err != nil {
			return nil, nil, err
		}
		// R§6 validity, R§18 record, R§20: the record card stays in the archive.
		return journalEntry{HandOut: in.HandOut}, nil, nil
	})
}

// ReturnInput records the holder's return from the trip (R§17).
type ReturnInput struct {
	ReturnDate Date `json:"return_date"`
	// NextDeparture: a new departure planned within one month of the
	// return; the passport then stays with the holder.
	NextDeparture Date `json:"next_departure"`
	Change
}

// RecordReturn records a return (R§17): without a new departure within one
// month the passport is due in the archive within ten days (from the return
// under reading A, from the end of the month under reading B; calendar or
// working days: reference passport/settings). HR-38 holders keep theirs.
func (s *Service) RecordReturn(ctx context.Context, check Check, by policy.Subject, staffID, id string, in ReturnInput) (PassportAction, error) {
	return s.passportChange(ctx, check, by, staffID, id, "passport_return_recorded", in.Change, func(tx pgx.Tx, p *Passport, a *PassportAction) (any, []valise.FieldError, error) {
		if p.Status != PassportIssued {
			return nil, nil, passportConflict("R§17", *p, "the passport is %s, not with the holder", p.Status)
		}
		if in.ReturnDate.IsZero() || in.ReturnDate.Before(p.IssuedOn) {
			return nil, []valise.FieldError{fe("return_date", "required, on or after the issue date")}, nil
		}
		window := in.ReturnDate.AddDate(0, returnWindowMonths, 0)
		if !in.NextDeparture.IsZero() && in.NextDeparture.Before(in.ReturnDate) {
			return nil, []valise.FieldError{fe("next_departure", "after the return")}, nil
		}
		var due Date
		basis := "return"
		switch {
		case p.Basis == BasisLifelong: // HR-38: lifelong use; no surrender on return
			basis = ""
		case !in.NextDeparture.IsZero() && !in.NextDeparture.After(window):
			basis = "" // a new departure within the month
		default:
			var err error
			if due, err = surrenderDue(ctx, tx, in.ReturnDate, true); err != nil {
				return nil, nil, err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE passports SET return_date = $2, surrender_basis = nullif($3, ''), surrender_due = $4 WHERE id = $1`,
			p.ID, in.ReturnDate, basis, due); err != nil {
			return nil, nil, err
		}
		return map[string]any{"return_date": in.ReturnDate, "next_departure": in.NextDeparture, "surrender_due": due}, nil, nil
	})
}

// DemandInput is the MFA's demand to surrender (R§16).
type DemandInput struct {
	Ground    string `json:"ground"` // an R§15 ground (or surrender_delayed, R§17)
	NoticeOn  Date   `json:"notice_on"`
	Channel   string `json:"channel"` // oral or written
	Recipient string `json:"recipient"`
	Change
}

// Demand demands the passport back on an R§15 ground (T7, R§16): it is
// invalid from the notice, due in the archive within ten days.
func (s *Service) Demand(ctx context.Context, check Check, by policy.Subject, staffID, id string, in DemandInput) (PassportAction, error) {
	return s.passportChange(ctx, check, by, staffID, id, "passport_surrender_demanded", in.Change, func(tx pgx.Tx, p *Passport, a *PassportAction) (any, []valise.FieldError, error) {
		if p.Status != PassportIssued {
			return nil, nil, passportConflict("R§16", *p, "the passport is %s, not with the holder", p.Status)
		}
		var fs []valise.FieldError
		if _, ok := invalidReasons[in.Ground]; !ok || in.Ground == "lost" || in.Ground == "technical_mistake" {
			fs = append(fs, fe("ground", "R§16: an R§15 ground: missing_data, expired, unidentifiable, status_mismatch, gender_change; or surrender_delayed (R§17)"))
		}
		if in.NoticeOn.IsZero() || in.NoticeOn.Before(p.IssuedOn) {
			fs = append(fs, fe("notice_on", "R§16: the date of the notice, on or after the issue"))
		}
		if in.Channel != "oral" && in.Channel != "written" {
			fs = append(fs, fe("channel", "R§16: oral or written notice"))
		}
		if strings.TrimSpace(in.Recipient) == "" {
			fs = append(fs, fe("recipient", "R§16: the owner notified"))
		}
		if in.Ground == "expired" && !p.ExpiresOn.Before(in.NoticeOn) {
			fs = append(fs, fe("ground", fmt.Sprintf("R§15(2): the passport is valid until %s", p.ExpiresOn)))
		}
		if len(fs) > 0 {
			return nil, fs, nil
		}
		due, err := surrenderDue(ctx, tx, in.NoticeOn, false)
		if err != nil {
			return nil, nil, err
		}
		if _, err := tx.Exec(ctx, `UPDATE passports SET status = 'surrender_demanded', invalid_reason = $2, invalid_from = $3,
			surrender_basis = 'demand', surrender_due = $4 WHERE id = $1`, p.ID, in.Ground, in.NoticeOn, due); err != nil {
			return nil, nil, err
		}
		return map[string]any{"ground": in.Ground, "rule": invalidReasons[in.Ground], "notice_on": in.NoticeOn, "channel": in.Channel,
			"recipient": in.Recipient, "surrender_due": due}, nil, nil
	})
}

// SurrenderInput records the passport handed to the MFA archive.
type SurrenderInput struct {
	On Date   `json:"on"`
	By string `json:"by"` // the authorized person (R§15 part 2)
	// DelayUnjustified: the MFA recognises a late R§17 surrender as
	// unjustified, so the passport is invalid (R§17).
	DelayUnjustified bool `json:"delay_unjustified,omitempty"`
	Change
}

// Surrender files the passport in the archive (T5, T8; R§15 part 2, R§16,
// R§17, R§18, R§20). On or before the due date it is on time; later it is
// recorded late, and under R§17 the MFA may recognise it invalid.
func (s *Service) Surrender(ctx context.Context, check Check, by policy.Subject, staffID, id string, in SurrenderInput) (PassportAction, error) {
	return s.passportChange(ctx, check, by, staffID, id, "passport_surrendered", in.Change, func(tx pgx.Tx, p *Passport, a *PassportAction) (any, []valise.FieldError, error) {
		if !slices.Contains([]string{PassportIssued, PassportSurrenderDemanded, PassportBorderAlert}, p.Status) {
			return nil, nil, passportConflict("R§15", *p, "the passport is %s, not with the holder", p.Status)
		}
		var fs []valise.FieldError
		if in.On.IsZero() || in.On.Before(p.IssuedOn) {
			fs = append(fs, fe("on", "the surrender date, on or after the issue"))
		}
		if strings.TrimSpace(in.By) == "" {
			fs = append(fs, fe("by", "R§15: the authorized person who surrenders it"))
		}
		if len(fs) > 0 {
			return nil, fs, nil
		}
		rule := map[string]string{"return": "R§17", "demand": "R§16"}[p.SurrenderBasis]
		if !p.SurrenderDue.IsZero() && in.On.After(p.SurrenderDue) {
			a.Late, a.Deadline = true, rule+": due by "+p.SurrenderDue.String()
		}
		if in.DelayUnjustified && !(a.Late && p.SurrenderBasis == "return") {
			return nil, []valise.FieldError{fe("delay_unjustified", "R§17: only a surrender after the return deadline can be unjustifiably delayed")}, nil
		}
		status, reason, from := PassportInArchive, p.InvalidReason, p.InvalidFrom
		if in.DelayUnjustified {
			reason, from = "surrender_delayed", in.On
		}
		if p.ExpiresOn.Before(in.On) && reason == "" {
			reason, from = "expired", p.ExpiresOn.AddDate(0, 0, 1)
		}
		if reason != "" {
			status = PassportInvalidInMFA
		}
		if _, err := tx.Exec(ctx, `UPDATE passports SET status = $2, location = 'archive', invalid_reason = nullif($3, ''), invalid_from = $4,
			surrendered_on = $5, surrender_due = NULL, surrender_basis = NULL WHERE id = $1`, p.ID, status, reason, from, in.On); err != nil {
			return nil, nil, err
		}
		return map[string]any{"on": in.On, "by": in.By, "due": p.SurrenderDue, "late": a.Late, "delay_unjustified": in.DelayUnjustified}, nil, nil
	})
}

// BorderInput records the MFA's notice to the Border Service (R§16).
type BorderInput struct {
	On        Date   `json:"on"`
	LetterRef string `json:"letter_ref"` // the written request
	Change
}

// NotifyBorder sends the Border Service the invalidity and the written
// request to seize the passport (T9): only after the ten days have passed.
func (s *Service) NotifyBorder(ctx context.Context, check Check, by policy.Subject, staffID, id string, in BorderInput) (PassportAction, error) {
	return s.passportChange(ctx, check, by, staffID, id, "passport_border_notified", in.Change, func(tx pgx.Tx, p *Passport, a *PassportAction) (any, []valise.FieldError, error) {
		if p.Status != PassportSurrenderDemanded {
			return nil, nil, passportConflict("R§16", *p, "the passport is %s; the Border Service is told after an unanswered demand", p.Status)
		}
		if in.On.IsZero() || strings.TrimSpace(in.LetterRef) == "" {
			return nil, []valise.FieldError{fe("on", "R§16: the date and the written request (letter_ref)")}, nil
		}
		if !in.On.After(p.SurrenderDue) {
			return nil, nil, passportConflict("R§16", *p, "the ten days to surrender run until %s; the Border Service is told after that", p.SurrenderDue)
		}
		if _, err := tx.Exec(ctx, `UPDATE passports SET status = 'border_alert' WHERE id = $1`, p.ID); err != nil {
			return nil, nil, err
		}
		return map[string]any{"on": in.On, "letter_ref": in.LetterRef}, nil, nil
	})
}

// WithdrawInput records a passport withdrawn (seized at the border and sent
// to the MFA, R§16), found after a loss (R§15(4)), or invalidated in the
// archive or in preparation (T15, T3a).
type WithdrawInput struct {
	On     Date   `json:"on"`
	Ground string `json:"ground,omitempty"` // for an archived or applied passport: an invalidity ground
	Change
}

// Withdraw moves a passport into the MFA as invalid: seized (border_alert),
// found (lost: never valid again, V-20), or invalidated in the archive
// (in_archive) or in preparation (applied: technical_mistake, R§21(2)).
func (s *Service) Withdraw(ctx context.Context, check Check, by policy.Subject, staffID, id string, in WithdrawInput) (PassportAction, error) {
	return s.passportChange(ctx, check, by, staffID, id, "passport_withdrawn", in.Change, func(tx pgx.Tx, p *Passport, a *PassportAction) (any, []valise.FieldError, error) {
		if in.On.IsZero() {
			return nil, []valise.FieldError{fe("on", "required")}, nil
		}
		reason, from, how := p.InvalidReason, p.InvalidFrom, ""
		switch p.Status {
		case PassportBorderAlert:
			how = "seized by the Border Service and received (R§16)"
		case PassportLost:
			how = "found and handed to the MFA; never valid again (R§15(4))"
		case PassportInArchive, PassportApplied:
			if _, ok := invalidReasons[in.Ground]; !ok || in.Ground == "lost" || in.Ground == "surrender_delayed" {
				return nil, []valise.FieldError{fe("ground", "an invalidity ground: missing_data, expired, unidentifiable, status_mismatch, gender_change, technical_mistake")}, nil
			}
			if p.Status == PassportApplied && in.Ground != "technical_mistake" {
				return nil, []valise.FieldError{fe("ground", "R§21(2): a passport in preparation is spoiled by a technical mistake")}, nil
			}
			if in.Ground == "expired" && !p.ExpiresOn.Before(in.On) {
				return nil, []valise.FieldError{fe("ground", fmt.Sprintf("R§15(2): valid until %s", p.ExpiresOn))}, nil
			}
			reason, from, how = in.Ground, in.On, "invalidated ("+invalidReasons[in.Ground]+")"
		default:
			return nil, nil, passportConflict("R§16", *p, "the passport is %s", p.Status)
		}
		if _, err := tx.Exec(ctx, `UPDATE passports SET status = 'invalid_in_mfa', location = 'archive', invalid_reason = $2, invalid_from = $3
			WHERE id = $1`, p.ID, reason, from); err != nil {
			return nil, nil, err
		}
		return map[string]any{"on": in.On, "how": how, "reason": reason}, nil, nil
	})
}

// LossInput is the loss application (R§15(4), R§19).
type LossInput struct {
	ApplicationOn Date     `json:"application_on"`
	Place         string   `json:"place"`    // abroad or rk
	Notified      []string `json:"notified"` // abroad: host_police, foreign_institution; rk: mfa, rk_police
	Circumstances string   `json:"circumstances"`
	Change
}

// ReportLoss records the loss application: the passport is invalid from
// its date (R§15(4)); the bodies R§19 names were told.
func (s *Service) ReportLoss(ctx context.Context, check Check, by policy.Subject, staffID, id string, in LossInput) (PassportAction, error) {
	return s.passportChange(ctx, check, by, staffID, id, "passport_lost", in.Change, func(tx pgx.Tx, p *Passport, a *PassportAction) (any, []valise.FieldError, error) {
		if !slices.Contains([]string{PassportIssued, PassportInArchive, PassportSurrenderDemanded, PassportBorderAlert}, p.Status) {
			return nil, nil, passportConflict("R§15(4)", *p, "the passport is %s", p.Status)
		}
		var fs []valise.FieldError
		if in.ApplicationOn.IsZero() || in.ApplicationOn.Before(p.IssuedOn) {
			fs = append(fs, fe("application_on", "R§15(4): the date of the loss application to the MFA, on or after the issue"))
		}
		need := map[string][]string{"abroad": {"host_police", "foreign_institution"}, "rk": {"mfa", "rk_police"}}[in.Place]
		if need == nil {
			fs = append(fs, fe("place", "R§19: abroad or rk"))
		}
		for _, n := range need {
			if !slices.Contains(in.Notified, n) {
				fs = append(fs, fe("notified", "R§19: report the loss to "+strings.Join(need, " and ")))
				break
			}
		}
		if len(fs) > 0 {
			return nil, fs, nil
		}
		reason := p.InvalidReason
		if reason == "" {
			reason = "lost"
		}
		if _, err := tx.Exec(ctx, `UPDATE passports SET status = 'lost', location = 'lost', invalid_reason = $2,
			invalid_from = coalesce(invalid_from, $3), surrender_due = NULL, surrender_basis = NULL WHERE id = $1`, p.ID, reason, in.ApplicationOn); err != nil {
			return nil, nil, err
		}
		return map[string]any{"application_on": in.ApplicationOn, "place": in.Place, "notified": in.Notified, "circumstances": in.Circumstances}, nil, nil
	})
}

// ArchiveIssueInput takes a passport out of the archive for a trip (R§14).
type ArchiveIssueInput struct {
	RequestLetter *RequestLetter `json:"request_letter"` // with the App.1 trip data
	OrderCopy     *OrderCopy     `json:"order_copy"`     // or another document confirming the trip
	HandOut       HandOut        `json:"handout"`
	Change
}

// IssueFromArchive hands an archived valid passport out again (T6, R§14).
func (s *Service) IssueFromArchive(ctx context.Context, check Check, by policy.Subject, staffID, id string, in ArchiveIssueInput) (PassportAction, error) {
	return s.passportChange(ctx, check, by, staffID, id, "passport_issued_from_archive", in.Change, func(tx pgx.Tx, p *Passport, a *PassportAction) (any, []valise.FieldError, error) {
		if p.Status != PassportInArchive {
			return nil, nil, passportConflict("R§14", *p, "the passport is %s, not in the archive", p.Status)
		}
		docs := PassportDocuments{RequestLetter: in.RequestLetter, OrderCopy: in.OrderCopy, ApplicationForm: true, Photos: 2, IdentityCopy: "id_card"}
		fs := append(docs.failures(), in.HandOut.failures(p.HolderName)...)
		if len(fs) > 0 {
			return nil, fs, nil
		}
		if !p.validOn(in.HandOut.On) {
			return nil, nil, passportConflict("R§14", *p, "the passport is not valid on %s (expires %s)", in.HandOut.On, p.ExpiresOn)
		}
		if _, err := tx.Exec(ctx, `UPDATE passports SET status = 'issued', location = 'with_holder', destination = $2,
			return_date = NULL, surrendered_on = NULL WHERE id = $1`, p.ID, in.RequestLetter.Country); err != nil {
			return nil, nil, err
		}
		return journalEntry{HandOut: in.HandOut, fromArchive: true}, nil, nil
	})
}
