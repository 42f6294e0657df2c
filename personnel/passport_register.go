package personnel

// Passport registers (R§13, R§18, R§20, R§21/App.2), destruction by act,
// and the passport alerts (surrender overdue, expiry ahead, R§12 overdue).

import (
	"context"
	"encoding/json"
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

// ownerJoin joins a passport's owner as "s": a staff record, or a holder
// record outside the service (its unit, name and birth date; no account).
const ownerJoin = `LEFT JOIN staff st ON st.id = p.staff_id LEFT JOIN passport_holders ph ON ph.id = p.holder_id
	CROSS JOIN LATERAL (SELECT coalesce(st.id, ph.id) AS id, coalesce(st.unit_id, ph.unit_id) AS unit_id, st.user_id,
		coalesce(st.full_name, ph.full_name) AS full_name, coalesce(st.birth_date, ph.birth_date) AS birth_date, st.terminated_on) s`

// ownerKey is the owner id of a passport row as lockOwner reads it.
const ownerKey = `coalesce(staff_id::text, '` + holderPrefix + `' || holder_id)`

// Passports lists the passports kept under a staff record or a holder record.
func (s *Service) Passports(ctx context.Context, check Check, staffID string) ([]Passport, error) {
	var out []Passport
	today := Today(s.now())
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := lockOwner(ctx, tx, staffID, check, policy.ActStaffRead)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+passportCols+` FROM passports p WHERE coalesce(p.staff_id, p.holder_id) = $1 ORDER BY p.received_on, p.id`, r.id)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Passport, error) { return scanPassport(r, today) })
		return err
	})
	return nonNil(out), err
}

// GetPassport returns one passport of a staff record.
func (s *Service) GetPassport(ctx context.Context, check Check, staffID, id string) (Passport, error) {
	var out Passport
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := lockOwner(ctx, tx, staffID, check, policy.ActStaffRead)
		if err != nil {
			return err
		}
		if !db.ValidUUID(id) {
			return valise.Errorf(valise.ENOTFOUND, "not found")
		}
		out, err = scanPassport(tx.QueryRow(ctx, `SELECT `+passportCols+` FROM passports p WHERE p.id = $1 AND coalesce(p.staff_id, p.holder_id) = $2`, id, r.id), Today(s.now()))
		if err == pgx.ErrNoRows {
			return valise.Errorf(valise.ENOTFOUND, "not found")
		}
		return err
	})
	return out, err
}

// RegisterRow is one line of the electronic register (R§18): the fields the
// Rules list, alphabetically by holder. Ethnicity (ұлты) is not collected.
type RegisterRow struct {
	PassportID  string `json:"passport_id"`
	StaffID     string `json:"staff_id,omitempty"`
	HolderID    string `json:"holder_id,omitempty"` // a holder outside the service
	Basis       string `json:"basis"`
	HolderName  string `json:"holder_name"`
	BirthDate   Date   `json:"birth_date"`
	PlaceOfWork string `json:"place_of_work"`
	Position    string `json:"position"`
	Destination string `json:"destination"`
	Number      string `json:"number"`
	Type        string `json:"type"`
	Location    string `json:"location"`
	Status      string `json:"status"`
	IssuedOn    Date   `json:"issued_on"`
	ExpiresOn   Date   `json:"expires_on"`
	// Reissues: how often it was handed out again from the archive (R§18
	// "қайта тіркелуі", re-registration, read as re-issue: decisions.md).
	Reissues int `json:"reissues"`
}

// RegisterFilter narrows the register.
type RegisterFilter struct {
	Status, Type string
}

// PassportRegister returns the R§18 register of the passports kept under the
// staff records in scope (filtered in SQL), alphabetically.
func (s *Service) PassportRegister(ctx context.Context, sc policy.Scope, by policy.Subject, f RegisterFilter) ([]RegisterRow, error) {
	where, args := ScopeWhere(sc, by.UserID, 3)
	rows, err := s.pool.Query(ctx, `
		SELECT p.id, coalesce(p.staff_id::text, ''), coalesce(p.holder_id::text, ''), p.basis, p.holder_name,
		       coalesce(fm.birth_date, s.birth_date), coalesce(ph.place_of_work, u.name),
		       CASE WHEN ph.id IS NOT NULL THEN ph.position || coalesce(' (' || ph.relation || ' of ' || (SELECT full_name FROM passport_holders pr WHERE pr.id = ph.principal_id) || ')', '')
		            WHEN fm.id IS NULL THEN coalesce((SELECT title FROM staff_positions sp WHERE sp.staff_id = s.id ORDER BY sp.start_date DESC LIMIT 1), '')
		            ELSE fm.relation || ' of ' || s.full_name END,
		       p.destination, coalesce(p.number, ''), p.passport_type, p.location, p.status, p.issued_on, p.expires_on,
		       (SELECT count(*) FROM passport_journal j WHERE j.passport_id = p.id AND j.from_archive)
		FROM passports p `+ownerJoin+` JOIN units u ON u.id = s.unit_id
		LEFT JOIN family_members fm ON fm.id = p.family_member_id
		WHERE ($1 = '' OR p.status = $1) AND ($2 = '' OR p.passport_type = $2) AND `+where+`
		ORDER BY p.holder_name, p.received_on, p.number NULLS LAST, p.id LIMIT 10000`, append([]any{f.Status, f.Type}, args...)...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RegisterRow, error) {
		var x RegisterRow
		err := r.Scan(&x.PassportID, &x.StaffID, &x.HolderID, &x.Basis, &x.HolderName, &x.BirthDate, &x.PlaceOfWork, &x.Position, &x.Destination,
			&x.Number, &x.Type, &x.Location, &x.Status, &x.IssuedOn, &x.ExpiresOn, &x.Reissues)
		return x, err
	})
	return nonNil(out), err
}

// JournalRow is one line of the issuance journal (R§13).
type JournalRow struct {
	HandedOn    Date       `json:"handed_on"`
	Number      string     `json:"number"`
	Type        string     `json:"type"`
	HolderName  string     `json:"holder_name"`
	Recipient   string     `json:"recipient"`
	Document    IDDocument `json:"recipient_doc"`
	Authorized  string     `json:"authorization,omitempty"`
	FromArchive bool       `json:"from_archive"`
	Signed      bool       `json:"signed"`
}

// PassportJournal returns the R§13 journal of the records in scope, in order.
func (s *Service) PassportJournal(ctx context.Context, sc policy.Scope, by policy.Subject) ([]JournalRow, error) {
	where, args := ScopeWhere(sc, by.UserID, 1)
	rows, err := s.pool.Query(ctx, `
		SELECT j.handed_on, coalesce(p.number, ''), p.passport_type, p.holder_name, j.recipient, j.recipient_doc, j.authorized_by,
		       j.from_archive, j.signed
		FROM passport_journal j JOIN passports p ON p.id = j.passport_id `+ownerJoin+`
		WHERE `+where+` ORDER BY j.id LIMIT 10000`, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (JournalRow, error) {
		var x JournalRow
		var doc []byte
		err := r.Scan(&x.HandedOn, &x.Number, &x.Type, &x.HolderName, &x.Recipient, &doc, &x.Authorized, &x.FromArchive, &x.Signed)
		_ = json.Unmarshal(doc, &x.Document)
		return x, err
	})
	return nonNil(out), err
}

// Official is a person named on an act: full name and position.
type Official struct {
	FullName string `json:"full_name"`
	Position string `json:"position"`
}

// DestroyItem is one passport destroyed by an act, with its R§21 ground.
type DestroyItem struct {
	PassportID string `json:"passport_id"`
	Ground     string `json:"ground"` // expired (R§21(1)), technical_mistake (R§21(2)), invalidated (R§21(3))
	// filled by Destroy
	Number string `json:"number,omitempty"`
	Type   string `json:"type,omitempty"`
	Holder string `json:"holder,omitempty"`
}

// DestructionInput is a destruction act (R§21, App.2).
type DestructionInput struct {
	ActDate    Date          `json:"act_date"`
	ApprovedBy Official      `json:"approved_by"` // the head of the structural unit issuing passports
	Commission []Official    `json:"commission"`  // the members who sign
	Order      Act           `json:"order"`       // the Minister's order approving the commission
	Passports  []DestroyItem `json:"passports"`
	// Blanks: forms spoiled in preparation that never became passports
	// (R§21(2), App.2 "spoiled strict-accountability forms"), by number.
	Blanks     []string `json:"blanks,omitempty"`
	FormCopies []string `json:"form_copies"` // the attached copies of the destroyed forms
	Executor   string   `json:"executor"`
	Change
}

// DestructionAct is a recorded act.
type DestructionAct struct {
	ID         string        `json:"id"`
	Number     string        `json:"number"`
	ActDate    Date          `json:"act_date"`
	ApprovedBy Official      `json:"approved_by"`
	Commission []Official    `json:"commission"`
	Order      Act           `json:"order"`
	Passports  []DestroyItem `json:"passports"`
	Blanks     []string      `json:"blanks"`
	FormCopies []string      `json:"form_copies"`
	Executor   string        `json:"executor"`
	RecordedBy string        `json:"recorded_by"`
}

var destroyGrounds = []string{"expired", "technical_mistake", "invalidated"}

// Destroy records a destruction act (T16, R§21, App.2, V-23): every
// passport is held by the MFA and invalid on a matching ground, the
// commission has at least the configured number of members, each form's
// copy is attached. A passport the caller may not manage answers as missing.
func (s *Service) Destroy(ctx context.Context, check Check, by policy.Subject, in DestructionInput) (DestructionAct, error) {
	var out DestructionAct
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		fs := in.fields()
		ps, err := passportSettings(ctx, tx)
		if err != nil {
			return err
		}
		if in.ActDate.IsZero() {
			fs = append(fs, fe("act_date", "required"))
		}
		if strings.TrimSpace(in.ApprovedBy.FullName) == "" || strings.TrimSpace(in.ApprovedBy.Position) == "" {
			fs = append(fs, fe("approved_by", "App.2: the head of the structural unit issuing passports (full name, position)"))
		}
		seen := map[string]bool{}
		for i, m := range in.Commission {
			if strings.TrimSpace(m.FullName) == "" || strings.TrimSpace(m.Position) == "" || seen[m.FullName] {
				fs = append(fs, fe(fmt.Sprintf("commission[%d]", i), "App.2: each member once, with position and full name"))
			}
			seen[m.FullName] = true
		}
		if len(in.Commission) < ps.CommissionMin {
			fs = append(fs, fe("commission", fmt.Sprintf("R§21: the act is signed by the commission: at least %d members (reference passport/settings commission_min)", ps.CommissionMin)))
		}
		if in.Order.Number == "" || in.Order.Date.IsZero() {
			fs = append(fs, fe("order", "R§21: the Minister's order approving the commission (number, date)"))
		}
		if len(in.Passports) == 0 && len(in.Blanks) == 0 {
			fs = append(fs, fe("passports", "at least one passport or spoiled form (blanks)"))
		}
		if len(in.FormCopies) < len(in.Passports)+len(in.Blanks) {
			fs = append(fs, fe("form_copies", "App.2: a copy of every destroyed form is attached"))
		}
		if strings.TrimSpace(in.Executor) == "" {
			fs = append(fs, fe("executor", "App.2: the executor"))
		}
		type target struct {
			p     Passport
			owner resource
		}
		var targets []target
		for i, it := range in.Passports {
			field := fmt.Sprintf("passports[%d]", i)
			var staffID string
			var owner resource
			if db.ValidUUID(it.PassportID) {
				_ = tx.QueryRow(ctx, `SELECT `+ownerKey+` FROM passports WHERE id = $1`, it.PassportID).Scan(&staffID)
			}
			if staffID != "" {
				var err error
				if owner, err = lockOwner(ctx, tx, staffID, check, policy.ActStaffManage); err != nil {
					if c := valise.ErrorCode(err); c != valise.ENOTFOUND && c != valise.EFORBIDDEN {
						return err
					}
					staffID = "" // hidden == missing
				}
			}
			if staffID == "" {
				fs = append(fs, fe(field+".passport_id", "no such passport"))
				continue
			}
			p, err := lockPassport(ctx, tx, owner.id, it.PassportID, in.ActDate)
			if err != nil {
				return err
			}
			expired := !p.ExpiresOn.IsZero() && p.ExpiresOn.Before(in.ActDate)
			switch {
			case !slices.Contains(destroyGrounds, it.Ground):
				fs = append(fs, fe(field+".ground", "R§21: expired, technical_mistake or invalidated"))
			case p.Status != PassportInvalidInMFA && !(p.Status == PassportInArchive && expired):
				fs = append(fs, fe(field, fmt.Sprintf("R§21: the passport is %s; only an invalid passport held by the MFA is destroyed", p.Status)))
			case it.Ground == "expired" && !expired:
				fs = append(fs, fe(field+".ground", fmt.Sprintf("R§21(1): valid until %s", p.ExpiresOn)))
			case it.Ground == "technical_mistake" && p.InvalidReason != "technical_mistake":
				fs = append(fs, fe(field+".ground", "R§21(2): the passport was not spoiled in preparation"))
			case it.Ground == "invalidated" && p.InvalidReason == "":
				fs = append(fs, fe(field+".ground", "R§21(3): the passport was not invalidated"))
			}
			for _, t := range targets {
				if t.p.ID == p.ID {
					fs = append(fs, fe(field, "listed twice"))
				}
			}
			in.Passports[i].Number, in.Passports[i].Type, in.Passports[i].Holder = p.Number, p.Type, p.HolderName
			targets = append(targets, target{p, owner})
		}
		if len(in.Blanks) > 0 {
			if err := check(ctx, actRefManage, blankResource); err != nil {
				return err
			}
		}
		for i, num := range in.Blanks {
			field := fmt.Sprintf("blanks[%d]", i)
			b, err := lockBlank(ctx, tx, num)
			switch {
			case valise.ErrorCode(err) == valise.ENOTFOUND:
				fs = append(fs, fe(field, "no such form in the blank ledger"))
			case err != nil:
				return err
			case b.Status != BlankSpoiled:
				fs = append(fs, fe(field, fmt.Sprintf("R§21(2): form %s is %s; a form is destroyed by itself only when spoiled (a passport's form goes with the passport)", num, b.Status)))
			case slices.Contains(in.Blanks[:i], num):
				fs = append(fs, fe(field, "listed twice"))
			}
		}
		if len(fs) > 0 {
			return refusal("the destruction act is refused", fs...)
		}
		var n int64
		if err := tx.QueryRow(ctx, `SELECT nextval('passport_act_seq')`).Scan(&n); err != nil {
			return err
		}
		out = DestructionAct{Number: fmt.Sprintf("PDA-%d-%06d", in.ActDate.Year(), n), ActDate: in.ActDate, ApprovedBy: in.ApprovedBy,
			Commission: in.Commission, Order: in.Order, Passports: nonNil(in.Passports), Blanks: nonNil(in.Blanks), FormCopies: in.FormCopies,
			Executor: in.Executor, RecordedBy: by.Username}
		bl, _ := json.Marshal(out.Blanks)
		ab, _ := json.Marshal(in.ApprovedBy)
		cm, _ := json.Marshal(in.Commission)
		or, _ := json.Marshal(in.Order)
		pp, _ := json.Marshal(in.Passports)
		fc, _ := json.Marshal(in.FormCopies)
		if err := tx.QueryRow(ctx, `INSERT INTO passport_destruction_acts (number, act_date, approved_by, commission, order_ref, passports,
			form_copies, executor, recorded_by, blanks) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`, out.Number, in.ActDate,
			ab, cm, or, pp, fc, in.Executor, by.Username, bl).Scan(&out.ID); err != nil {
			return err
		}
		for _, num := range in.Blanks {
			if err := destroyBlank(ctx, tx, num, out.ID, out.Number, in.ActDate, in.Change, by); err != nil {
				return err
			}
		}
		for i, t := range targets {
			reason := t.p.InvalidReason
			if reason == "" {
				reason = "expired"
			}
			if _, err := tx.Exec(ctx, `UPDATE passports SET status = 'destroyed', location = 'destroyed', destruction_act = $2,
				invalid_reason = $3, invalid_from = coalesce(invalid_from, $4), version = version + 1 WHERE id = $1`,
				t.p.ID, out.ID, reason, t.p.ExpiresOn.AddDate(0, 0, 1)); err != nil {
				return err
			}
			if err := destroyBlank(ctx, tx, t.p.Number, out.ID, out.Number, in.ActDate, in.Change, by); err != nil {
				return err
			}
			if _, err := recordFor(ctx, tx, t.owner, "passport_destroyed", map[string]any{"passport_id": t.p.ID, "number": t.p.Number,
				"act": out.Number, "act_id": out.ID, "ground": in.Passports[i].Ground}, in.Change, by); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// GetDestructionAct returns an act when the caller may read every passport's
// record on it (else it answers as missing).
func (s *Service) GetDestructionAct(ctx context.Context, check Check, id string) (DestructionAct, error) {
	var a DestructionAct
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if !db.ValidUUID(id) {
			return valise.Errorf(valise.ENOTFOUND, "not found")
		}
		var ab, cm, or, pp, fc, bl []byte
		err := tx.QueryRow(ctx, `SELECT id, number, act_date, approved_by, commission, order_ref, passports, form_copies, executor, recorded_by, blanks
			FROM passport_destruction_acts WHERE id = $1`, id).Scan(&a.ID, &a.Number, &a.ActDate, &ab, &cm, &or, &pp, &fc, &a.Executor, &a.RecordedBy, &bl)
		if err == pgx.ErrNoRows {
			return valise.Errorf(valise.ENOTFOUND, "not found")
		}
		if err != nil {
			return err
		}
		_ = json.Unmarshal(ab, &a.ApprovedBy)
		_ = json.Unmarshal(cm, &a.Commission)
		_ = json.Unmarshal(or, &a.Order)
		_ = json.Unmarshal(pp, &a.Passports)
		_ = json.Unmarshal(fc, &a.FormCopies)
		_ = json.Unmarshal(bl, &a.Blanks)
		if len(a.Passports) == 0 {
			// An act of spoiled forms only: ministry-wide, as the ledger.
			if err := check(ctx, actRefRead, blankResource); err != nil {
				return err
			}
		}
		for _, it := range a.Passports {
			var staffID string
			if err := tx.QueryRow(ctx, `SELECT `+ownerKey+` FROM passports WHERE id = $1`, it.PassportID).Scan(&staffID); err != nil {
				return err
			}
			if _, err := lockOwner(ctx, tx, staffID, check, policy.ActStaffRead); err != nil {
				return err
			}
		}
		return nil
	})
	return a, err
}

// ---- printable registers ----------------------------------------------------------------------

var printFuncs = template.FuncMap{"inc": func(i int) int { return i + 1 }, "add": func(a, b int) int { return a + b }, "typeName": func(t string) string {
	return map[string]string{PassportDiplomatic: "Дипломатиялық / Diplomatic", PassportService: "Қызметтік / Service"}[t]
}}

const printHead = `<!doctype html><html lang="kk"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>@page { size: A4 landscape; margin: 10mm; } body { font: 9pt/1.3 "DejaVu Serif", serif; }
h1 { font-size: 12pt; text-align: center; } table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #000; padding: 1mm 2mm; text-align: left; vertical-align: top; } th { font-weight: normal; font-size: 8pt; }
.sign { margin-top: 8mm; } .sign p { margin: 4mm 0; }</style></head><body>`

var registerPage = template.Must(template.New("register").Funcs(printFuncs).Parse(printHead + `
<h1>Дипломатиялық және қызметтік паспорттарды есепке алу электрондық базасы<br>Electronic register of diplomatic and service passports (Decree No. 722, R§18)</h1>
<p>{{.Date}} · {{len .Rows}}</p>
<table><tr><th>№</th><th>Тегі, аты, әкесінің аты / Full name</th><th>Туған күні / Born</th><th>Жұмыс орны / Place of work</th><th>Лауазымы / Position</th>
<th>Шығатын елі / Destination</th><th>Паспорт нөмірі / Number</th><th>Түрі / Type</th><th>Орны / Location</th><th>Күйі / Status</th><th>Берілген күні / Issued</th><th>Жарамды / Valid until</th><th>Қайта тіркелуі / Re-issues</th></tr>
{{range $i, $r := .Rows}}<tr><td>{{inc $i}}</td><td>{{$r.HolderName}}</td><td>{{$r.BirthDate}}</td><td>{{$r.PlaceOfWork}}</td><td>{{$r.Position}}</td><td>{{$r.Destination}}</td>
<td>{{$r.Number}}</td><td>{{typeName $r.Type}}</td><td>{{$r.Location}}</td><td>{{$r.Status}}</td><td>{{if not $r.IssuedOn.IsZero}}{{$r.IssuedOn}}{{end}}</td><td>{{if not $r.ExpiresOn.IsZero}}{{$r.ExpiresOn}}{{end}}</td><td>{{$r.Reissues}}</td></tr>
{{end}}</table></body></html>`))

var journalPage = template.Must(template.New("journal").Funcs(printFuncs).Parse(printHead + `
<h1>Паспорттарды беру журналы<br>Passport issuance journal (Decree No. 722, R§13)</h1>
<table><tr><th>№</th><th>Күні / Date</th><th>Паспорт / Passport</th><th>Түрі / Type</th><th>Иесі / Holder</th><th>Алушы / Recipient</th><th>Құжаты / Document presented</th><th>Өкілеттік / Authorization</th><th>Мұрағаттан / From archive (R§14)</th><th>Қолы / Signature</th></tr>
{{range $i, $r := .Rows}}<tr><td>{{inc $i}}</td><td>{{$r.HandedOn}}</td><td>{{$r.Number}}</td><td>{{typeName $r.Type}}</td><td>{{$r.HolderName}}</td><td>{{$r.Recipient}}</td>
<td>{{$r.Document.Kind}} {{$r.Document.Number}}</td><td>{{$r.Authorized}}</td><td>{{if $r.FromArchive}}✓{{end}}</td><td>{{if $r.Signed}}signed{{end}}</td></tr>
{{end}}</table></body></html>`))

var actPage = template.Must(template.New("act").Funcs(printFuncs).Parse(printHead + `
<p style="text-align:right">Паспорттарды беруге жауапты құрылымдық бөлімшенің басшысы / Head of the structural unit issuing passports<br>
{{.Act.ApprovedBy.FullName}}, {{.Act.ApprovedBy.Position}}<br>{{.Act.ActDate}}</p>
<h1>Дипломатиялық/қызметтік паспортты жою туралы АКТ № {{.Act.Number}}<br>Act of destruction of diplomatic/service passports<br>
<small>Бүлінген қатаң есептілік бланкілерін жою туралы акт / Act on the destruction of spoiled strict-accountability forms</small></h1>
<p>Біз, төменде қол қоюшылар, комиссия мүшелері / We, the undersigned members of the commission (order No. {{.Act.Order.Number}} of {{.Act.Order.Date}}):</p>
<ol>{{range .Act.Commission}}<li>{{.Position}}, {{.FullName}}</li>{{end}}</ol>
<p>паспорт бланкілерін жою туралы осы актіні жасадық / have drawn up this act on destroying the passport forms:</p>
<table><tr><th>№</th><th>Паспорт нөмірі / Number</th><th>Түрі / Type</th><th>Иесі / Holder</th><th>Негіз / Ground (R§21)</th></tr>
{{range $i, $p := .Act.Passports}}<tr><td>{{inc $i}}</td><td>{{$p.Number}}</td><td>{{typeName $p.Type}}</td><td>{{$p.Holder}}</td><td>{{$p.Ground}}</td></tr>{{end}}
{{range $i, $b := .Act.Blanks}}<tr><td>{{inc (len $.Act.Passports | add $i)}}</td><td>{{$b}}</td><td></td><td>бүлінген бланк / spoiled form</td><td>technical_mistake</td></tr>{{end}}</table>

<p>Қосымша: жойылған паспорт бланкілерінің көшірмелері / Attached: copies of the destroyed forms: {{range $i, $c := .Act.FormCopies}}{{if $i}}, {{end}}{{$c}}{{end}}</p>
<div class="sign">{{range .Act.Commission}}<p>____________________ {{.FullName}}</p>{{end}}</div>
<p>Орындаушы / Executor: {{.Act.Executor}}</p></body></html>`))

// PrintRegister writes the R§18 register as a printable HTML page.
func PrintRegister(w io.Writer, rows []RegisterRow, on Date) error {
	return registerPage.Execute(w, map[string]any{"Title": "Passport register", "Rows": rows, "Date": on})
}

// PrintJournal writes the R§13 issuance journal as a printable HTML page.
func PrintJournal(w io.Writer, rows []JournalRow) error {
	return journalPage.Execute(w, map[string]any{"Title": "Passport issuance journal", "Rows": rows})
}

// PrintAct writes a destruction act on the App.2 form.
func PrintAct(w io.Writer, a DestructionAct) error {
	return actPage.Execute(w, map[string]any{"Title": "Act " + a.Number, "Act": a})
}

// ---- alerts -----------------------------------------------------------------------------------

// Passport alert kinds.
const (
	AlertPassportSurrenderOverdue   = "passport_surrender_overdue"
	AlertPassportExpiring           = "passport_expiring"
	AlertPassportPreparationOverdue = "passport_preparation_overdue"
	AlertPassportHolderLeft         = "passport_holder_left_service"
)

func init() { RegisterAlertSource("passports", PassportAlerts) }

// PassportAlerts finds, as of asOf: passports not surrendered by their due
// date (R§16, R§17), valid passports expiring within the lead time
// (R§6; setting personnel.passport_expiry_lead), and applications
// past the R§12 five working days; and valid passports of holders whose
// service ended, issued on a List item for serving staff (R§15(5)).
func PassportAlerts(ctx context.Context, q db.Querier, _ *Calendar, asOf time.Time) ([]Alert, error) {
	lead, err := LeadTime(ctx, q, "personnel.passport_expiry_lead")
	if err != nil {
		return nil, err
	}
	on := Today(asOf)
	rows, err := q.Query(ctx, `
		SELECT CASE WHEN p.status = 'applied' THEN $3
		            WHEN p.surrender_due IS NOT NULL AND p.surrender_due < $1 THEN $4 ELSE $5 END,
		       CASE WHEN p.status = 'applied' THEN 'R§12' WHEN p.surrender_due IS NOT NULL AND p.surrender_due < $1
		            THEN CASE p.surrender_basis WHEN 'demand' THEN 'R§16' ELSE 'R§17' END ELSE 'R§6' END,
		       coalesce(p.staff_id::text, ''), s.full_name, p.holder_name || ' ' || coalesce(p.number, '(application)'),
		       CASE WHEN p.status = 'applied' THEN p.prepare_by WHEN p.surrender_due IS NOT NULL AND p.surrender_due < $1
		            THEN p.surrender_due ELSE p.expires_on END,
		       CASE WHEN p.holder_id IS NULL THEN p.id::text ELSE 'passport_holder/' || p.holder_id END
		FROM passports p `+ownerJoin+`
		WHERE (p.status
 = 'applied' AND p.prepare_by < $1)
		   OR (p.status IN ('issued', 'surrender_demanded', 'border_alert') AND p.surrender_due < $1)
		   OR (p.status IN ('issued', 'in_archive') AND p.invalid_reason IS NULL AND p.expires_on >= $1 AND p.expires_on <= $2
		       AND NOT (p.surrender_due IS NOT NULL AND p.surrender_due < $1))
		ORDER BY 6, 7`, on, Date{on.Add(lead)}, AlertPassportPreparationOverdue, AlertPassportSurrenderOverdue, AlertPassportExpiring)
	if err != nil {
		return nil, err
	}
	scan := func(r pgx.CollectableRow) (Alert, error) {
		var a Alert
		var due Date
		err := r.Scan(&a.Kind, &a.Rule, &a.StaffID, &a.StaffName, &a.Subject, &due, &a.Ref)
		a.Due = due.Time
		return a, err
	}
	out, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, err
	}
	// R§15(5), V-21: the holder's service ended, but a passport issued on a
	// List item for serving staff is still valid (HR-38 holders keep theirs).
	rows, err = q.Query(ctx, `
		SELECT $2, 'R§15(5)', p.staff_id::text, s.full_name, p.holder_name || ' ' || p.number || ': the service ended on ' || s.terminated_on,
		       s.terminated_on, p.id::text
		FROM passports p JOIN staff s ON s.id = p.staff_id
		WHERE p.status IN ('issued', 'in_archive') AND p.invalid_reason IS NULL AND p.expires_on >= $1
		  AND s.terminated_on < $1 AND p.basis IN ('dl_27', 'sl_6')
		ORDER BY s.terminated_on, p.id`, on, AlertPassportHolderLeft)
	if err != nil {
		return nil, err
	}
	left, err := pgx.CollectRows(rows, scan)
	return append(out, left...), err
}
