package personnel

// The ledger of passport blank forms (issue 15). R§7: the forms are
// strict-accountability documents made on the MFA's orders; R§21(2) and
// App.2: forms spoiled in preparation are destroyed by act. The Decree
// gives no ledger format (passports-digest §1.11, §4.5, V-27): each form is
// received against the MFA's order, issued when a passport is personalised
// on it (Issue), spoiled, and destroyed by an App.2 act (Destroy). Every
// change is a passport_blank_events row in the same transaction as the
// passport_blanks projection.
//
// The ledger is ministry-wide, like the reference data: any personnel
// officer reads it; only an officer of every unit (scope "*") changes it.
// It names no holder (the passport id is opaque; the register has the rest).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// Blank statuses.
const (
	BlankInStock   = "in_stock"
	BlankIssued    = "issued"
	BlankSpoiled   = "spoiled"
	BlankDestroyed = "destroyed"
)

// maxBlanksReceived bounds one delivery (a request, not a rule of the Decree).
const maxBlanksReceived = 1000

var blankResource = policy.Resource{Kind: resReference, ID: "passport_blanks"}

var numberTail = regexp.MustCompile(`^([A-Z]*)([0-9]+)$`)

// BlankReceipt records forms delivered on the MFA's order (R§7): Count
// consecutive numbers from First (a letter prefix and digits).
type BlankReceipt struct {
	Type       string `json:"type"`
	First      string `json:"first"`
	Count      int    `json:"count"`
	ReceivedOn Date   `json:"received_on"`
	Order      Act    `json:"order"` // the MFA's order the forms were made on
	Change
}

// BlankSpoilage records a form spoiled in preparation (R§21(2)).
type BlankSpoilage struct {
	On      Date   `json:"on"`
	Mistake string `json:"mistake"` // what went wrong
	Change
}

// Blank is one form of the ledger.
type Blank struct {
	Number         string       `json:"number"`
	Type           string       `json:"type"`
	Status         string       `json:"status"`
	ReceivedOn     Date         `json:"received_on"`
	Order          Act          `json:"order"`
	PassportID     string       `json:"passport_id,omitempty"`
	SpoiledOn      Date         `json:"spoiled_on"`
	DestructionAct string       `json:"destruction_act,omitempty"`
	ActNumber      string       `json:"act_number,omitempty"` // the destruction act's number
	Events         []BlankEvent `json:"events,omitempty"`
}

// BlankEvent is one change of a form.
type BlankEvent struct {
	Kind       string          `json:"kind"`
	On         Date            `json:"on"`
	Data       json.RawMessage `json:"data"`
	Reason     string          `json:"reason"`
	Act        Act             `json:"act"`
	RecordedBy string          `json:"recorded_by"`
	RecordedAt time.Time       `json:"recorded_at"`
}

// BlankLedger is the ledger: the totals by type and status, and the forms.
type BlankLedger struct {
	Totals map[string]map[string]int `json:"totals"` // type → status → count (and "received")
	Blanks []Blank                   `json:"blanks"`
}

func blankEvent(ctx context.Context, tx pgx.Tx, number, kind string, on Date, data any, c Change, by policy.Subject) error {
	b, _ := json.Marshal(data)
	_, err := tx.Exec(ctx, `INSERT INTO passport_blank_events (number, kind, on_date, data, reason, act_number, act_date, recorded_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, number, kind, on, b, c.Reason, c.Act.Number, c.Act.Date, by.Username)
	return err
}

// blankNumbers expands First and Count into the numbers, keeping the width.
func blankNumbers(first string, count int) ([]string, bool) {
	m := numberTail.FindStringSubmatch(first)
	if m == nil || !passportNumberRe.MatchString(first) {
		return nil, false
	}
	n, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return nil, false
	}
	out := make([]string, 0, count)
	for i := 0; i < count; i++ {
		s := m[1] + fmt.Sprintf("%0*d", len(m[2]), n+int64(i))
		if !passportNumberRe.MatchString(s) {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// ReceiveBlanks records forms received (R§7): each a new, in-stock form
// with a received event. A number already in the ledger is refused.
func (s *Service) ReceiveBlanks(ctx context.Context, check Check, by policy.Subject, in BlankReceipt) ([]string, error) {
	var out []string
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := check(ctx, actRefManage, blankResource); err != nil {
			return err
		}
		fs := in.fields()
		if in.Type != PassportDiplomatic && in.Type != PassportService {
			fs = append(fs, fe("type", "diplomatic or service (R§2)"))
		}
		if in.Count < 1 || in.Count > maxBlanksReceived {
			fs = append(fs, fe("count", fmt.Sprintf("1 to %d forms in one delivery", maxBlanksReceived)))
		}
		nums, ok := blankNumbers(in.First, max(in.Count, 0))
		if !ok {
			fs = append(fs, fe("first", "the first form's number: capital letters then digits, 5-20 characters, and so the last one"))
		}
		if in.ReceivedOn.IsZero() || in.ReceivedOn.After(Today(s.now())) {
			fs = append(fs, fe("received_on", "the delivery date, not in the future"))
		}
		if strings.TrimSpace(in.Order.Number) == "" || in.Order.Date.IsZero() {
			fs = append(fs, fe("order", "R§7: the MFA's order the forms were made on (number, date)"))
		}
		if len(fs) == 0 {
			var taken string
			err := tx.QueryRow(ctx, `SELECT number FROM passport_blanks WHERE number = ANY($1) UNION ALL
				SELECT number FROM passports WHERE number = ANY($1) LIMIT 1`, nums).Scan(&taken)
			if err == nil {
				fs = append(fs, fe("first", "R§7: form "+taken+" is already in the ledger or on a passport: a number is received once"))
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		if len(fs) > 0 {
			return refusal("the receipt of forms is refused", fs...)
		}
		ord, _ := json.Marshal(in.Order)
		for _, n := range nums {
			if _, err := tx.Exec(ctx, `INSERT INTO passport_blanks (number, passport_type, status, received_on, order_ref)
				VALUES ($1, $2, 'in_stock', $3, $4)`, n, in.Type, in.ReceivedOn, ord); err != nil {
				return err
			}
			if err := blankEvent(ctx, tx, n, "received", in.ReceivedOn, map[string]any{"order": in.Order, "type": in.Type}, in.Change, by); err != nil {
				return err
			}
		}
		out = nums
		return nil
	})
	return out, err
}

// SpoilBlank records a form spoiled in preparation (R§21(2)): only a form in
// stock; it waits for destruction by act.
func (s *Service) SpoilBlank(ctx context.Context, check Check, by policy.Subject, number string, in BlankSpoilage) (Blank, error) {
	var out Blank
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := check(ctx, actRefManage, blankResource); err != nil {
			return err
		}
		b, err := lockBlank(ctx, tx, number)
		if err != nil {
			return err
		}
		fs := in.fields()
		if in.On.IsZero() || in.On.Before(b.ReceivedOn) || in.On.After(Today(s.now())) {
			fs = append(fs, fe("on", "the day it was spoiled: on or after its receipt, not in the future"))
		}
		if strings.TrimSpace(in.Mistake) == "" {
			fs = append(fs, fe("mistake", "R§21(2): the technical mistake made in preparation"))
		}
		if len(fs) > 0 {
			return refusal("the spoilage is refused", fs...)
		}
		if b.Status != BlankInStock {
			return conflict("R§21(2)", "form %s is %s; only a form in stock is spoiled in preparation (a spoiled passport is invalidated and destroyed)", b.Number, b.Status)
		}
		if _, err := tx.Exec(ctx, `UPDATE passport_blanks SET status = 'spoiled', spoiled_on = $2, version = version + 1 WHERE number = $1`, number, in.On); err != nil {
			return err
		}
		if err := blankEvent(ctx, tx, number, "spoiled", in.On, map[string]any{"mistake": in.Mistake}, in.Change, by); err != nil {
			return err
		}
		out, err = readBlank(ctx, tx, number, true)
		return err
	})
	return out, err
}

const blankCols = `number, passport_type, status, received_on, order_ref, coalesce(passport_id::text, ''), spoiled_on, coalesce(destruction_act::text, ''),
	coalesce((SELECT a.number FROM passport_destruction_acts a WHERE a.id = destruction_act), '')`

func scanBlank(row pgx.Row) (Blank, error) {
	var b Blank
	var ord []byte
	err := row.Scan(&b.Number, &b.Type, &b.Status, &b.ReceivedOn, &ord, &b.PassportID, &b.SpoiledOn, &b.DestructionAct, &b.ActNumber)
	_ = json.Unmarshal(ord, &b.Order)
	return b, err
}

func lockBlank(ctx context.Context, tx pgx.Tx, number string) (Blank, error) {
	b, err := scanBlank(tx.QueryRow(ctx, `SELECT `+blankCols+` FROM passport_blanks WHERE number = $1 FOR UPDATE`, number))
	if errors.Is(err, pgx.ErrNoRows) {
		return b, valise.Errorf(valise.ENOTFOUND, "not found")
	}
	return b, err
}

func readBlank(ctx context.Context, q db.Querier, number string, events bool) (Blank, error) {
	b, err := scanBlank(q.QueryRow(ctx, `SELECT `+blankCols+` FROM passport_blanks WHERE number = $1`, number))
	if errors.Is(err, pgx.ErrNoRows) {
		return b, valise.Errorf(valise.ENOTFOUND, "not found")
	}
	if err != nil || !events {
		return b, err
	}
	rows, err := q.Query(ctx, `SELECT kind, on_date, data, reason, act_number, act_date, recorded_by, recorded_at
		FROM passport_blank_events WHERE number = $1 ORDER BY id`, number)
	if err != nil {
		return b, err
	}
	b.Events, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (BlankEvent, error) {
		var e BlankEvent
		err := r.Scan(&e.Kind, &e.On, &e.Data, &e.Reason, &e.Act.Number, &e.Act.Date, &e.RecordedBy, &e.RecordedAt)
		return e, err
	})
	return b, err
}

// GetBlank returns one form with its history.
func (s *Service) GetBlank(ctx context.Context, check Check, number string) (Blank, error) {
	if err := check(ctx, actRefRead, blankResource); err != nil {
		return Blank{}, err
	}
	return readBlank(ctx, s.pool, number, true)
}

// Blanks returns the ledger (optionally one status and type), by number.
func (s *Service) Blanks(ctx context.Context, check Check, status, typ string) (BlankLedger, error) {
	out := BlankLedger{Totals: map[string]map[string]int{}, Blanks: []Blank{}}
	if err := check(ctx, actRefRead, blankResource); err != nil {
		return out, err
	}
	rows, err := s.pool.Query(ctx, `SELECT passport_type, status, count(*) FROM passport_blanks GROUP BY 1, 2`)
	if err != nil {
		return out, err
	}
	var t, st string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&t, &st, &n}, func() error {
		if out.Totals[t] == nil {
			out.Totals[t] = map[string]int{}
		}
		out.Totals[t][st] += n
		out.Totals[t]["received"] += n
		return nil
	}); err != nil {
		return out, err
	}
	rows, err = s.pool.Query(ctx, `SELECT `+blankCols+` FROM passport_blanks WHERE ($1 = '' OR status = $1) AND ($2 = '' OR passport_type = $2)
		ORDER BY passport_type, number LIMIT 10000`, status, typ)
	if err != nil {
		return out, err
	}
	out.Blanks, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Blank, error) { return scanBlank(r) })
	out.Blanks = nonNil(out.Blanks)
	return out, err
}

// useBlank marks the form a passport is personalised on as issued (Issue).
// A form of the ledger must be in stock and of the passport's type; a
// number the ledger does not hold is refused when the setting
// blanks_required is on (reference passport/settings), else issued untraced.
func useBlank(ctx context.Context, tx pgx.Tx, p Passport, number string, on Date, c Change, by policy.Subject) ([]valise.FieldError, error) {
	b, err := lockBlank(ctx, tx, number)
	if valise.ErrorCode(err) == valise.ENOTFOUND {
		ps, err := passportSettings(ctx, tx)
		if err != nil {
			return nil, err
		}
		if ps.BlanksRequired {
			return []valise.FieldError{fe("number", "R§7: form "+number+" was never received into the blank ledger (setting blanks_required)")}, nil
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	switch {
	case b.Type != p.Type:
		return []valise.FieldError{fe("number", fmt.Sprintf("R§7: form %s is a %s passport form", number, b.Type))}, nil
	case b.Status != BlankInStock:
		return []valise.FieldError{fe("number", fmt.Sprintf("R§7: form %s is %s, not in stock", number, b.Status))}, nil
	case on.Before(b.ReceivedOn):
		return []valise.FieldError{fe("number", fmt.Sprintf("R§7: form %s was received on %s", number, b.ReceivedOn))}, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE passport_blanks SET status = 'issued', passport_id = $2, version = version + 1 WHERE number = $1`, number, p.ID); err != nil {
		return nil, err
	}
	return nil, blankEvent(ctx, tx, number, "issued", on, map[string]any{"passport_id": p.ID}, c, by)
}

// destroyBlank marks a form destroyed by an act (Destroy).
func destroyBlank(ctx context.Context, tx pgx.Tx, number, actID, actNumber string, on Date, c Change, by policy.Subject) error {
	tag, err := tx.Exec(ctx, `UPDATE passport_blanks SET status = 'destroyed', destruction_act = $2, version = version + 1 WHERE number = $1`, number, actID)
	if err != nil || tag.RowsAffected() == 0 {
		return err // a passport issued untraced has no form in the ledger
	}
	return blankEvent(ctx, tx, number, "destroyed", on, map[string]any{"act": actNumber, "act_id": actID}, c, by)
}

var blankPage = template.Must(template.New("blanks").Funcs(printFuncs).Parse(printHead + `
<h1>Паспорт бланкілерін есепке алу кітабы (қатаң есептілік құжаттары)<br>Ledger of passport blank forms (strict-accountability documents, Decree No. 722, R§7, R§21, App.2)</h1>
<p>{{.Date}}</p>
<table><tr><th>Түрі / Type</th><th>Алынды / Received</th><th>Қоймада / In stock</th><th>Берілді / Issued</th><th>Бүлінген / Spoiled</th><th>Жойылды / Destroyed</th></tr>
{{range $t, $m := .Ledger.Totals}}<tr><td>{{typeName $t}}</td><td>{{index $m "received"}}</td><td>{{index $m "in_stock"}}</td><td>{{index $m "issued"}}</td><td>{{index $m "spoiled"}}</td><td>{{index $m "destroyed"}}</td></tr>{{end}}</table>
<p></p>
<table><tr><th>№</th><th>Бланк нөмірі / Form number</th><th>Түрі / Type</th><th>Алынған күні / Received</th><th>Тапсырыс / MFA order</th><th>Күйі / Status</th><th>Бүлінген / Spoiled on</th><th>Жою актісі / Destruction act</th></tr>
{{range $i, $b := .Ledger.Blanks}}<tr><td>{{inc $i}}</td><td>{{$b.Number}}</td><td>{{typeName $b.Type}}</td><td>{{$b.ReceivedOn}}</td><td>{{$b.Order.Number}} {{$b.Order.Date}}</td>
<td>{{$b.Status}}</td><td>{{if not $b.SpoiledOn.IsZero}}{{$b.SpoiledOn}}{{end}}</td><td>{{$b.ActNumber}}</td></tr>

{{end}}</table></body></html>`))

// PrintBlanks writes the ledger as a printable HTML page.
func PrintBlanks(w io.Writer, l BlankLedger, on Date) error {
	return blankPage.Execute(w, map[string]any{"Title": "Ledger of passport blank forms", "Ledger": l, "Date": on})
}
