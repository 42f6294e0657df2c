package personnel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Entitlement reference data: the amounts the Law takes from other law
// (law-digest §7): official salaries by length of service (the single pay
// system, Art. 28), the monthly calculation index, the Social Code minimum of
// Art. 25(1) part 4, the Government's payment amounts (Art. 29, 29-1), the
// retirement age (Art. 1(7)) and the Minister's list of rare languages
// (Art. 15(4)(3), 29). Each version is valid from a date; the value used on a
// date is the one with the latest valid_from on or before it (of two with the
// same valid_from, the one recorded last). Nothing is overwritten.
const (
	ERefSalary        = "official_salary" // code: a position code; {steps: [{from_years, amount}]}
	ERefMCI           = "mci"             // code "mci"; {amount}
	ERefMinimum       = "minimum"         // code "death_allowance" (Art. 25(1) part 4); {amount} or {mci}
	ERefPayment       = "payment"         // codes of EntitlementPayments; {amount} or {mci}
	ERefRetirementAge = "retirement_age"  // code: the age rule applying to the person; {years, months}
	ERefRareLanguage  = "rare_language"   // code: ISO 639-1; {name}
)

var eRefKinds = []string{ERefSalary, ERefMCI, ERefMinimum, ERefPayment, ERefRetirementAge, ERefRareLanguage}

// EntitlementPayments are the payment codes: the Art. 29 payments, the rank
// payment for each rank, and the Art. 29-1 veterans' monthly payment.
var EntitlementPayments = func() []string {
	p := []string{PayRareLanguage, PayStateSecrets, PayRepresentation, PayVeteran}
	for _, r := range Ranks {
		p = append(p, fmt.Sprintf("rank_%d", r.Ordinal))
	}
	return p
}()

// Payment codes (Art. 29, 29-1).
const (
	PayRareLanguage   = "rare_language"         // Art. 29 part 1: knowledge of rare foreign languages
	PayStateSecrets   = "state_secrets"         // Art. 29 part 1: work with information constituting state secrets
	PayRepresentation = "representation_attire" // Art. 29 part 1: annual payment for representational attire
	PayRank           = "rank"                  // Art. 29 part 2: for the diplomatic rank (reference code rank_N)
	PayVeteran        = "veteran_monthly"       // Art. 29-1: veterans' monthly payment
)

// Money is an amount in tiyn (1/100 tenge), written "12345.67" in JSON.
type Money int64

var moneyRe = regexp.MustCompile(`^(0|[1-9][0-9]{0,12})(\.[0-9]{1,2})?$`)

// ParseMoney reads "12345", "12345.6" or "12345.67".
func ParseMoney(s string) (Money, error) {
	if !moneyRe.MatchString(s) {
		return 0, fmt.Errorf("an amount in tenge, up to 2 decimals: %q", s)
	}
	whole, frac, _ := strings.Cut(s, ".")
	w, _ := strconv.ParseInt(whole, 10, 64)
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt((frac + "0")[:2], 10, 64)
	}
	return Money(w*100 + f), nil
}

func (m Money) String() string {
	return fmt.Sprintf("%d.%02d", int64(m)/100, int64(m)%100)
}

// MarshalJSON writes the amount as a decimal string.
func (m Money) MarshalJSON() ([]byte, error) { return json.Marshal(m.String()) }

// UnmarshalJSON reads a decimal string: "12345.67" (not a JSON number, so
// no amount passes through a float).
func (m *Money) UnmarshalJSON(b []byte) error {
	var s string
	err := json.Unmarshal(b, &s)
	v, perr := ParseMoney(s)
	if err != nil || perr != nil {
		return &json.UnmarshalTypeError{Value: "amount " + string(b) + " (want \"12345.67\")", Type: moneyType}
	}
	*m = v
	return nil
}

var moneyType = reflect.TypeOf(Money(0))

// Times multiplies by n hundredths, rounding half up to the tiyn.
func (m Money) Times(hundredths int64) Money { return Money((int64(m)*hundredths + 50) / 100) }

// EntRef is one version of an entitlement reference value.
type EntRef struct {
	Kind       string          `json:"kind"`
	Code       string          `json:"code"`
	ValidFrom  Date            `json:"valid_from"`
	Value      json.RawMessage `json:"value"`
	Reason     string          `json:"reason"`
	Act        Act             `json:"act"`
	RecordedBy string          `json:"recorded_by"`
	RecordedAt time.Time       `json:"recorded_at"`
	Version    int64           `json:"version"`
}

// EntRefInput adds a version valid from a date.
type EntRefInput struct {
	ValidFrom Date            `json:"valid_from"`
	Value     json.RawMessage `json:"value"`
	Change
}

// SalaryStep is the official salary from a length of service on.
type SalaryStep struct {
	FromYears int   `json:"from_years"`
	Amount    Money `json:"amount"`
}

// amountValue is a payment or minimum: a fixed amount or a multiple of the MCI.
type amountValue struct {
	Amount *Money `json:"amount,omitempty"`
	MCI    *Money `json:"mci,omitempty"` // a multiple, in hundredths (e.g. "2.5")
}

func decodeStrict(v json.RawMessage, dst any) error {
	d := json.NewDecoder(bytes.NewReader(v))
	d.DisallowUnknownFields()
	return d.Decode(dst)
}

func validateEntRef(kind, code string, v json.RawMessage) []valise.FieldError {
	bad := func(r string) []valise.FieldError { return []valise.FieldError{fe("value", r)} }
	switch kind {
	case ERefSalary:
		var x struct {
			Steps []SalaryStep `json:"steps"`
		}
		if err := decodeStrict(v, &x); err != nil || len(x.Steps) == 0 || x.Steps[0].FromYears != 0 {
			return bad("an official salary is {steps: [{from_years: 0, amount}, {from_years: N, amount}, ...]} (by length of service, Art. 25(9))")
		}
		for i := 1; i < len(x.Steps); i++ {
			if x.Steps[i].FromYears <= x.Steps[i-1].FromYears || x.Steps[i].FromYears > 60 {
				return bad("steps ascend by from_years (0-60)")
			}
		}
	case ERefMCI:
		var x amountValue
		if err := decodeStrict(v, &x); err != nil || x.Amount == nil || x.MCI != nil || *x.Amount == 0 {
			return bad("the monthly calculation index is {amount}")
		}
	case ERefMinimum, ERefPayment:
		var x amountValue
		if err := decodeStrict(v, &x); err != nil || (x.Amount == nil) == (x.MCI == nil) {
			return bad("an amount is {amount: \"12345.67\"} or {mci: \"2.5\"} (a multiple of the monthly calculation index)")
		}
	case ERefRetirementAge:
		var x struct {
			Years  int `json:"years"`
			Months int `json:"months"`
		}
		if err := decodeStrict(v, &x); err != nil || x.Years < 40 || x.Years > 80 || x.Months < 0 || x.Months > 11 {
			return bad("a retirement age is {years: 40-80, months: 0-11}")
		}
	case ERefRareLanguage:
		var x struct {
			Name string `json:"name"`
		}
		if err := decodeStrict(v, &x); err != nil || strings.TrimSpace(x.Name) == "" {
			return bad("a rare language is {name}")
		}
	}
	return nil
}

func entRefResource(kind string) policy.Resource {
	return policy.Resource{Kind: resReference, ID: "entitlement:" + kind}
}

// AddEntitlementReference records a new version of an entitlement reference
// value, valid from in.ValidFrom.
func (s *Service) AddEntitlementReference(ctx context.Context, check Check, by policy.Subject, kind, code string, in EntRefInput) (EntRef, error) {
	if err := check(ctx, actRefManage, entRefResource(kind)); err != nil {
		return EntRef{}, err
	}
	if !slices.Contains(eRefKinds, kind) {
		return EntRef{}, valise.Errorf(valise.ENOTFOUND, "no entitlement reference list %q (lists: %v)", kind, eRefKinds)
	}
	fs := in.fields()
	if !refCodeRe.MatchString(code) {
		fs = append(fs, fe("code", "1-64 lower-case letters, digits or underscores"))
	}
	switch {
	case kind == ERefMCI && code != "mci":
		fs = append(fs, fe("code", "the monthly calculation index has one entry: mci"))
	case kind == ERefMinimum && code != "death_allowance":
		fs = append(fs, fe("code", "minimums: death_allowance (the Social Code minimum of Art. 25(1) part 4)"))
	case kind == ERefPayment && !slices.Contains(EntitlementPayments, code):
		fs = append(fs, fe("code", fmt.Sprintf("payments: one of %v", EntitlementPayments)))
	case kind == ERefRareLanguage && !langRe.MatchString(code):
		fs = append(fs, fe("code", "an ISO 639-1 language code"))
	}
	if in.ValidFrom.IsZero() {
		fs = append(fs, fe("valid_from", "required: the date from which the value applies"))
	}
	if len(in.Value) == 0 {
		fs = append(fs, fe("value", "required"))
	} else {
		fs = append(fs, validateEntRef(kind, code, in.Value)...)
	}
	if len(fs) > 0 {
		return EntRef{}, refusal("the reference value is invalid", fs...)
	}
	var out EntRef
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		return scanEntRef(tx.QueryRow(ctx, `
			INSERT INTO entitlement_reference (kind, code, valid_from, value, reason, act_number, act_date, recorded_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+entRefCols,
			kind, code, in.ValidFrom, []byte(in.Value), in.Reason, in.Act.Number, in.Act.Date, by.Username), &out)
	})
	return out, err
}

const entRefCols = `kind, code, valid_from, value, reason, act_number, act_date, recorded_by, recorded_at, id`

func scanEntRef(row pgx.Row, r *EntRef) error {
	return row.Scan(&r.Kind, &r.Code, &r.ValidFrom, &r.Value, &r.Reason, &r.Act.Number, &r.Act.Date, &r.RecordedBy, &r.RecordedAt, &r.Version)
}

func collectEntRefs(rows pgx.Rows) ([]EntRef, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (EntRef, error) {
		var r EntRef
		return r, scanEntRef(row, &r)
	})
}

// EntitlementReference lists the value of every entry of kind ("" = all)
// valid on date on.
func (s *Service) EntitlementReference(ctx context.Context, check Check, kind string, on Date) ([]EntRef, error) {
	if err := check(ctx, actRefRead, entRefResource(kind)); err != nil {
		return nil, err
	}
	if kind != "" && !slices.Contains(eRefKinds, kind) {
		return nil, refusal("unknown reference list", fe("kind", fmt.Sprintf("must be one of %v", eRefKinds)))
	}
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT ON (kind, code) `+entRefCols+` FROM entitlement_reference
		WHERE ($1 = '' OR kind = $1) AND valid_from <= $2 ORDER BY kind, code, valid_from DESC, id DESC`, kind, on)
	if err != nil {
		return nil, err
	}
	return collectEntRefs(rows)
}

// EntitlementReferenceHistory lists every version of one entry, the latest
// valid_from first.
func (s *Service) EntitlementReferenceHistory(ctx context.Context, check Check, kind, code string) ([]EntRef, error) {
	if err := check(ctx, actRefRead, entRefResource(kind)); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+entRefCols+` FROM entitlement_reference
		WHERE kind = $1 AND code = $2 ORDER BY valid_from DESC, id DESC`, kind, code)
	if err != nil {
		return nil, err
	}
	out, err := collectEntRefs(rows)
	if err == nil && len(out) == 0 {
		return nil, valise.Errorf(valise.ENOTFOUND, "no entitlement reference entry %s/%s", kind, code)
	}
	return out, err
}

// RefUsed is a reference value a computation used, with its validity.
type RefUsed struct {
	Kind      string          `json:"kind"`
	Code      string          `json:"code"`
	ValidFrom Date            `json:"valid_from"`
	Value     json.RawMessage `json:"value"`
	Act       Act             `json:"act"`
	Version   int64           `json:"version"`
}

// entRefAt reads the value of (kind, code) valid on date on into dst.
// A missing value is a 409 naming the rule, the entry and the date, so the
// officer knows which value of which act to record.
func entRefAt(ctx context.Context, q db.Querier, rule, kind, code string, on Date, dst any) (RefUsed, error) {
	var r EntRef
	err := scanEntRef(q.QueryRow(ctx, `SELECT `+entRefCols+` FROM entitlement_reference
		WHERE kind = $1 AND code = $2 AND valid_from <= $3 ORDER BY valid_from DESC, id DESC LIMIT 1`, kind, code, on), &r)
	if errors.Is(err, pgx.ErrNoRows) {
		return RefUsed{}, conflict(rule, "no %s/%s reference value is valid on %s: record it (POST /personnel/entitlement-reference/%s/%s) from the act that sets it",
			kind, code, on, kind, code)
	}
	if err != nil {
		return RefUsed{}, err
	}
	if err := json.Unmarshal(r.Value, dst); err != nil {
		return RefUsed{}, err
	}
	return RefUsed{Kind: r.Kind, Code: r.Code, ValidFrom: r.ValidFrom, Value: r.Value, Act: r.Act, Version: r.Version}, nil
}
