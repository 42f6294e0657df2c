package personnel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Reference data: what the law leaves to by-laws and other acts (law-digest
// §7), kept as versioned rows that personnel officers edit through the API.
// The newest version of a (kind, code) is current; older ones stay as history.
const (
	RefPosition  = "position"             // staff position → title, staff kind, category, nominal rank (HR-01, HR-05)
	RefExclusion = "exclusion_ground"     // civil-service exclusion grounds (HR-15)
	RefProbation = "probation"            // probation length, code "months" (HR-14)
	RefAuthority = "appointing_authority" // position category → appointing authority (HR-35)
	RefFluency   = "fluency"              // lowest language level counted as "freely commands" (HR-13)
	// Issue 15: the passport List (Decree 722, versioned), what the Decree
	// leaves open (code "settings"), and the courier-service positions (DM-04).
	RefPassportList   = "passport_list"
	RefPassport       = "passport"
	RefCourierService = "courier_service"
	resReference      = "personnel_reference"
	actRefManage      = "personnel_reference.manage"
	actRefRead        = "personnel_reference.read"
	refCodeFormat     = `^[a-z0-9_]{1,64}$`
)

var refKinds = []string{RefPosition, RefExclusion, RefProbation, RefAuthority, RefFluency, RefPassportList, RefPassport, RefCourierService,
	RefRareLanguage, RefRefusalReason, RefAllowance, RefAttestation, RefMedicalForm, RefRotationRule}

var refCodeRe = regexp.MustCompile(refCodeFormat)

// Reference is one version of a reference value.
type Reference struct {
	Kind       string          `json:"kind"`
	Code       string          `json:"code"`
	Value      json.RawMessage `json:"value"`
	Reason     string          `json:"reason"`
	Act        Act             `json:"act"`
	RecordedBy string          `json:"recorded_by"`
	RecordedAt time.Time       `json:"recorded_at"`
	Version    int64           `json:"version"`
}

// PositionRef is the value of a position entry.
type PositionRef struct {
	Title       string `json:"title"`
	StaffKind   string `json:"staff_kind"`
	Category    string `json:"category"`
	NominalRank int    `json:"nominal_rank,omitempty"`
	Political   bool   `json:"political,omitempty"`
}

// Position categories that decide the appointing authority (Art. 9(2)).
var positionCategories = []string{"minister_of_foreign_affairs", "ambassador", "permanent_representative",
	"deputy_minister", "head_of_agency", "other"}

// Authorities that appoint, dismiss and assign ranks.
var authorities = []string{"president", "government", "minister", "head_of_presidential_administration"}

// Staff kinds (HR-01).
const (
	KindDiplomatic     = "diplomatic"
	KindAdminTechnical = "admin_technical"
)

// ReferenceInput sets a new version of a reference value.
type ReferenceInput struct {
	Value json.RawMessage `json:"value"`
	Change
}

func validateRefValue(kind string, v json.RawMessage) []valise.FieldError {
	bad := func(r string) []valise.FieldError { return []valise.FieldError{fe("value", r)} }
	strict := func(dst any) error {
		d := json.NewDecoder(bytes.NewReader(v))
		d.DisallowUnknownFields()
		return d.Decode(dst)
	}
	switch kind {
	case RefPosition:
		var p PositionRef
		if err := strict(&p); err != nil {
			return bad("a position is {title, staff_kind, category, nominal_rank?, political?}")
		}
		var fs []valise.FieldError
		if p.Title == "" {
			fs = append(fs, fe("value.title", "required"))
		}
		if p.StaffKind != KindDiplomatic && p.StaffKind != KindAdminTechnical {
			fs = append(fs, fe("value.staff_kind", "must be diplomatic or admin_technical (HR-01)"))
		}
		if !slices.Contains(positionCategories, p.Category) {
			fs = append(fs, fe("value.category", fmt.Sprintf("must be one of %v", positionCategories)))
		}
		if p.NominalRank != 0 && (p.NominalRank < 1 || p.NominalRank > 11 || p.StaffKind != KindDiplomatic) {
			fs = append(fs, fe("value.nominal_rank", "a rank 1-11, and only for a diplomatic position"))
		}
		return fs
	case RefRareLanguage, RefRefusalReason:
		var x struct {
			Label  string `json:"label"`
			Active bool   `json:"active"`
		}
		if err := strict(&x); err != nil || x.Label == "" {
			return bad("an entry of the Minister's list is {label, active}")
		}
	case RefAllowance:
		var x Allowance
		if err := strict(&x); err != nil || x.Amount < 0 || len(x.Currency) != 3 {
			return bad("the one-time allowance is {amount >= 0, currency, basis}")
		}
	case RefAttestation:
		var x struct {
			Months int `json:"months"`
		}
		if err := strict(&x); err != nil || x.Months < 1 || x.Months > 36 {
			return bad("attestation timing is {months: 1-36}")
		}
	case RefMedicalForm:
		var x struct {
			Form string `json:"form"`
			Act  string `json:"act"`
		}
		if err := strict(&x); err != nil || x.Form == "" {
			return bad("a medical certificate form is {form, act}")
		}
	case RefRotationRule:
		var x struct {
			Inclusive bool `json:"inclusive"`
		}
		if err := strict(&x); err != nil {
			return bad("a rotation rule is {inclusive}")
		}
	case RefExclusion:
		var x struct {
			Label  string `json:"label"`
			Active bool   `json:"active"`
		}
		if err := strict(&x); err != nil || x.Label == "" {
			return bad("an exclusion ground is {label, active}")
		}
	case RefProbation:
		var x struct {
			Months int `json:"months"`
		}
		if err := strict(&x); err != nil || x.Months < 1 || x.Months > 24 {
			return bad("probation is {months: 1-24}")
		}
	case RefAuthority:
		var x struct {
			Authority string `json:"authority"`
		}
		if err := strict(&x); err != nil || !slices.Contains(authorities, x.Authority) {
			return bad(fmt.Sprintf("an appointing authority is {authority: one of %v}", authorities))
		}
	case RefFluency:
		var x struct {
			Level string `json:"level"`
		}
		if err := strict(&x); err != nil || levelRank(x.Level) < 0 {
			return bad(fmt.Sprintf("fluency is {level: one of %v}", languageLevels))
		}
	case RefPassportList:
		var x ListItem
		err := strict(&x)
		known := true
		for _, c := range x.Conditions {
			_, ok := listConditions[c]
			known = known && ok
		}
		for _, r := range x.Family {
			known = known && slices.Contains(holderRelations, r)
		}
		if err != nil || (x.Type != PassportDiplomatic && x.Type != PassportService) || x.Label == "" ||
			(x.StaffKind != "" && x.StaffKind != KindDiplomatic && x.StaffKind != KindAdminTechnical) || !known ||
			(!x.InForceFrom.IsZero() && !x.InForceUntil.IsZero() && x.InForceUntil.Before(x.InForceFrom)) {
			return bad("a List item is {type: diplomatic|service, label, family?: [spouse|child|adopted_child|parent|dependent], staff_kind?, dependents_only?, active, in_force_from?, in_force_until?, conditions?: [not_diplomatic_entitled|rank_or_law_enforcement|not_territorial_body|principal_holds_type]}")
		}
	case RefPassport:
		var x PassportSettings
		if err := strict(&x); err != nil || (x.ReturnReading != "A" && x.ReturnReading != "B") ||
			(x.SurrenderDays != "calendar" && x.SurrenderDays != "working") || x.CommissionMin < 1 || x.CommissionMin > 20 {
			return bad("passport settings are {return_reading: A|B, surrender_days: calendar|working, commission_min: 1-20}")
		}
	case RefCourierService:
		var x struct {
			Positions []string `json:"positions"`
		}
		if err := strict(&x); err != nil || len(x.Positions) == 0 {
			return bad("the courier service is {positions: [position codes]}")
		}
	default:
		if v := refValidators[kind]; v != nil {
			return v(strict)
		}
	}
	return nil
}

// refValidators checks the values of the lists other parts of the
// personnel core add to refKinds (from their init functions).
var refValidators = map[string]func(strict func(dst any) error) []valise.FieldError{}

// SetReference records a new version of a reference value.
func (s *Service) SetReference(ctx context.Context, check Check, by policy.Subject, kind, code string, in ReferenceInput) (Reference, error) {
	if err := check(ctx, actRefManage, policy.Resource{Kind: resReference, ID: kind}); err != nil {
		return Reference{}, err
	}
	fs := in.fields()
	if !slices.Contains(refKinds, kind) {
		return Reference{}, valise.Errorf(valise.ENOTFOUND, "no reference list %q (lists: %v)", kind, refKinds)
	}
	if !refCodeRe.MatchString(code) {
		fs = append(fs, fe("code", "1-64 lower-case letters, digits or underscores"))
	}
	if len(in.Value) == 0 {
		fs = append(fs, fe("value", "required"))
	} else {
		fs = append(fs, validateRefValue(kind, in.Value)...)
	}
	if kind == RefProbation && code != "months" || kind == RefFluency && code != "min_level" {
		fs = append(fs, fe("code", "this list has one entry: months (probation) or min_level (fluency)"))
	}
	if len(fs) > 0 {
		return Reference{}, refusal("the reference value is invalid", fs...)
	}
	var out Reference
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		return scanRef(tx.QueryRow(ctx, `
			INSERT INTO personnel_reference (kind, code, value, reason, act_number, act_date, recorded_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			RETURNING kind, code, value, reason, act_number, act_date, recorded_by, recorded_at, id`,
			kind, code, []byte(in.Value), in.Reason, in.Act.Number, in.Act.Date, by.Username), &out)
	})
	return out, err
}

func scanRef(row pgx.Row, r *Reference) error {
	return row.Scan(&r.Kind, &r.Code, &r.Value, &r.Reason, &r.Act.Number, &r.Act.Date, &r.RecordedBy, &r.RecordedAt, &r.Version)
}

// ListReference returns the current value of every entry of kind ("" = all kinds).
func (s *Service) ListReference(ctx context.Context, check Check, kind string) ([]Reference, error) {
	if err := check(ctx, actRefRead, policy.Resource{Kind: resReference, ID: kind}); err != nil {
		return nil, err
	}
	if kind != "" && !slices.Contains(refKinds, kind) {
		return nil, refusal("unknown reference list", fe("kind", fmt.Sprintf("must be one of %v", refKinds)))
	}
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT ON (kind, code) kind, code, value, reason, act_number, act_date, recorded_by, recorded_at, id
		FROM personnel_reference WHERE $1 = '' OR kind = $1 ORDER BY kind, code, id DESC`, kind)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Reference, error) {
		var r Reference
		return r, scanRef(row, &r)
	})
}

// ReferenceHistory returns every version of one entry, newest first.
func (s *Service) ReferenceHistory(ctx context.Context, check Check, kind, code string) ([]Reference, error) {
	if err := check(ctx, actRefRead, policy.Resource{Kind: resReference, ID: kind}); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT kind, code, value, reason, act_number, act_date, recorded_by, recorded_at, id
		FROM personnel_reference WHERE kind = $1 AND code = $2 ORDER BY id DESC`, kind, code)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Reference, error) {
		var r Reference
		return r, scanRef(row, &r)
	})
	if err == nil && len(out) == 0 {
		return nil, valise.Errorf(valise.ENOTFOUND, "no reference entry %s/%s", kind, code)
	}
	return out, err
}

// refValue reads the current value of (kind, code) into dst; found is false
// when there is no such entry.
func refValue(ctx context.Context, q db.Querier, kind, code string, dst any) (bool, error) {
	var b []byte
	err := q.QueryRow(ctx, `SELECT value FROM personnel_reference WHERE kind = $1 AND code = $2 ORDER BY id DESC LIMIT 1`,
		kind, code).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(b, dst)
}

// appointingAuthority is the authority that appoints to (and dismisses
// from) a position of category (HR-35, Art. 9(2), 18(2)).
func appointingAuthority(ctx context.Context, q db.Querier, category string) (string, error) {
	var v struct {
		Authority string `json:"authority"`
	}
	ok, err := refValue(ctx, q, RefAuthority, category, &v)
	if err != nil {
		return "", err
	}
	if !ok {
		if ok, err = refValue(ctx, q, RefAuthority, "other", &v); err != nil || !ok {
			return "", fmt.Errorf("no appointing authority for %s: %w", category, err)
		}
	}
	return v.Authority, nil
}
