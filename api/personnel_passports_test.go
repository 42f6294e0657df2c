package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"valise/identity"
	"valise/internal/browser"
	"valise/policy"
)

// passportOfficer adds a personnel officer of every unit to a mail env.
func (e *mailEnv) passportOfficer(name, unit string, scope []string) {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.srv.Identity().CreateUser(ctx, identity.UserInput{Username: name, FullName: name, Unit: unit,
		Roles: []string{policy.RolePersonnelOfficer}, Scope: scope, Password: "correct horse battery"})
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := e.srv.Identity().Login(ctx, name, "correct horse battery", "127.0.0.1")
	if err != nil {
		e.t.Fatal(err)
	}
	e.tokens[name], e.ids[name] = tok.AccessToken, u.ID
}

func passportDocs(country string) map[string]any {
	return map[string]any{
		"request_letter": map[string]any{"number": "01-12/7", "date": "2020-02-01", "sending_body": "MFA", "signatory": "head",
			"signatory_name": "A. Head", "country": country, "departure": "2020-03-01", "duration_days": 30, "purpose": "official duties",
			"basis": "order", "funded_by": "MFA"},
		"order_copy":       map[string]any{"number": "ORD-1", "date": "2020-01-30", "certified_by": "HR officer"},
		"application_form": true, "photos": 2, "identity_copy": "id_card",
	}
}

func handoutBody(name, on string) map[string]any {
	return map[string]any{"on": on, "recipient": name, "recipient_doc": map[string]any{"kind": "id_card", "number": "041234567"}, "signed": true}
}

// TestPassportRoutes drives every passport route once (as the personnel
// officer), with refusals as problem+json that change nothing and a hidden
// record answering as a missing one.
func TestPassportRoutes(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	e.passportOfficer("po.mfa", "MFA", []string{"*"})
	e.passportOfficer("po.ber", "DE-BER", nil)
	st := e.must(201, "po.mfa", "POST", "/api/v1/staff", admission("PP-1", "attache", "MFA", "2019-01-01"))
	id := st["id"].(string)
	base := "/api/v1/staff/" + id + "/passports"
	app := map[string]any{"type": "diplomatic", "basis": "dl_27", "received_on": "2020-03-02", "documents": passportDocs("DE"), "reason": "r", "act": apiAct}
	bad := map[string]any{"type": "diplomatic", "basis": "dl_27", "received_on": "2020-03-02", "documents": map[string]any{"photos": 1}, "reason": "r", "act": apiAct}
	p := e.refusedPassport(422, "po.mfa", "POST", base, bad)
	if errs := p["errors"].([]any); len(errs) < 5 {
		t.Fatalf("R§9: every missing document is named: %v", errs)
	}
	pp := e.must(201, "po.mfa", "POST", base, app)
	pid := pp["id"].(string)
	if pp["prepare_by"] != "2020-03-09" {
		t.Fatalf("R§12: %v", pp)
	}
	e.refusedPassport(422, "po.mfa", "POST", base+"/"+pid+"/issue", map[string]any{"number": "D5000001", "handout": map[string]any{"on": "2020-03-05", "recipient": "Someone"}, "reason": "r", "act": apiAct})
	is := e.must(200, "po.mfa", "POST", base+"/"+pid+"/issue", map[string]any{"number": "D5000001", "handout": handoutBody("Person PP-1", "2020-03-05"), "reason": "r", "act": apiAct})
	if is["passport"].(map[string]any)["expires_on"] != "2025-03-05" {
		t.Fatalf("R§6: %v", is)
	}
	e.must(200, "po.mfa", "GET", base, nil)
	e.must(200, "po.mfa", "GET", base+"/"+pid, nil)
	e.must(200, "po.mfa", "POST", base+"/"+pid+"/return", map[string]any{"return_date": "2021-05-03", "reason": "r", "act": apiAct})
	sr := e.must(200, "po.mfa", "POST", base+"/"+pid+"/surrender", map[string]any{"on": "2021-05-14", "by": "the owner", "reason": "r", "act": apiAct})
	if sr["late"] != true || !strings.Contains(sr["deadline"].(string), "R§17: due by 2021-05-13") {
		t.Fatalf("a day late: %v", sr)
	}
	e.must(200, "po.mfa", "POST", base+"/"+pid+"/archive-issue", map[string]any{"request_letter": passportDocs("JP")["request_letter"],
		"order_copy": passportDocs("JP")["order_copy"], "handout": handoutBody("Person PP-1", "2021-09-01"), "reason": "r", "act": apiAct})
	e.must(200, "po.mfa", "POST", base+"/"+pid+"/demand", map[string]any{"ground": "status_mismatch", "notice_on": "2022-01-03", "channel": "written", "recipient": "Person PP-1", "reason": "r", "act": apiAct})
	// R§16: the Border Service is told after the ten days: refused on the last day (409), accepted the day after.
	e.refusedPassport(409, "po.mfa", "POST", base+"/"+pid+"/border-notice", map[string]any{"on": "2022-01-13", "letter_ref": "L-1", "reason": "r", "act": apiAct})
	e.must(200, "po.mfa", "POST", base+"/"+pid+"/border-notice", map[string]any{"on": "2022-01-14", "letter_ref": "L-1", "reason": "r", "act": apiAct})
	e.must(200, "po.mfa", "POST", base+"/"+pid+"/withdrawal", map[string]any{"on": "2022-02-01", "reason": "r", "act": apiAct})
	// A second passport, lost abroad.
	app2 := map[string]any{"type": "diplomatic", "basis": "dl_27", "received_on": "2022-03-01", "documents": passportDocs("DE"), "reason": "r", "act": apiAct}
	p2 := e.must(201, "po.mfa", "POST", base, app2)["id"].(string)
	e.must(200, "po.mfa", "POST", base+"/"+p2+"/issue", map[string]any{"number": "D5000002", "handout": handoutBody("Person PP-1", "2022-03-03"), "reason": "r", "act": apiAct})
	e.must(200, "po.mfa", "POST", base+"/"+p2+"/loss", map[string]any{"application_on": "2022-06-01", "place": "rk", "notified": []string{"mfa", "rk_police"}, "reason": "r", "act": apiAct})
	// Registers and the act, in JSON and printable.
	reg := e.must(200, "po.mfa", "GET", "/api/v1/personnel/passports", nil)
	if n := len(reg["passports"].([]any)); n != 3 { // and courier1's (the fixture)
		t.Fatalf("register: %v", reg)
	}
	e.must(200, "po.mfa", "GET", "/api/v1/personnel/passports/journal", nil)
	act := e.must(201, "po.mfa", "POST", "/api/v1/personnel/passport-destructions", map[string]any{"act_date": "2022-07-01",
		"approved_by": map[string]any{"full_name": "H Head", "position": "Head of the Consular Service"},
		"commission":  []any{map[string]any{"full_name": "A", "position": "Counsellor"}, map[string]any{"full_name": "B", "position": "Registrar"}, map[string]any{"full_name": "C", "position": "Attaché"}},
		"order":       apiAct, "passports": []any{map[string]any{"passport_id": pid, "ground": "invalidated"}},
		"form_copies": []string{"scan.pdf"}, "executor": "E", "reason": "r", "act": apiAct})
	aid := act["id"].(string)
	e.must(200, "po.mfa", "GET", "/api/v1/personnel/passport-destructions/"+aid, nil)
	for _, path := range []string{"/api/v1/personnel/passports/print", "/api/v1/personnel/passports/journal/print", "/api/v1/personnel/passport-destructions/" + aid + "/print"} {
		code, raw := e.raw("po.mfa", path)
		if code != 200 || !strings.Contains(string(raw), "D5000001") {
			t.Fatalf("%s: %d %s", path, code, raw)
		}
	}
	// The registers and the act as Chromium renders them under the pages' CSP, and the act printed to PDF.
	if br := browser.Find(); br != "" {
		b := browser.Need(t)
		proxy := e.asUser(t, "po.mfa")
		for path, wants := range map[string][]string{
			"/api/v1/personnel/passports/print":                         {"R§18", "Person PP-1", "D5000001", "Diplomatic", "destroyed", "lost"},
			"/api/v1/personnel/passports/journal/print":                 {"R§13", "D5000002", "041234567", "signed"},
			"/api/v1/personnel/passport-destructions/" + aid + "/print": {act["number"].(string), "H Head", "Order 12", "scan.pdf", "invalidated"},
		} {
			dom, err := b.DOM(t.Context(), proxy+path)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range wants {
				if !strings.Contains(dom, w) {
					t.Errorf("%s rendered lacks %q", path, w)
				}
			}
		}
		pdf, err := b.PDF(t.Context(), proxy+"/api/v1/personnel/passport-destructions/"+aid+"/print", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if raw, _ := os.ReadFile(pdf); !bytes.HasPrefix(raw, []byte("%PDF-")) {
			t.Fatalf("the act printed is not a PDF")
		}
	}
	// Hidden == missing: the Berlin personnel officer does not see MFA records' passports.
	for _, path := range []string{base, base + "/" + pid} {
		e.refusedPassport(404, "po.ber", "GET", path, nil)
	}
	e.refusedPassport(404, "po.ber", "POST", base+"/"+p2+"/loss", map[string]any{"application_on": "2022-06-01", "place": "rk", "notified": []string{"mfa", "rk_police"}, "reason": "r", "act": apiAct})
	e.refusedPassport(404, "sec", "GET", "/api/v1/personnel/passport-destructions/"+aid, nil)
	if reg := e.must(200, "po.ber", "GET", "/api/v1/personnel/passports", nil); len(reg["passports"].([]any)) != 0 {
		t.Fatalf("the Berlin officer's register: %v", reg)
	}
}

// TestPassportHolderRoutes: a holder outside the service (a deputy of
// Parliament, DL-21) is registered, applies and is issued a passport under
// its own record; a category that is not theirs is refused naming the
// condition (problem+json, nothing changed); another unit's officer sees
// nothing.
func TestPassportHolderRoutes(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	e.passportOfficer("po.mfa", "MFA", []string{"*"})
	e.passportOfficer("po.ber", "DE-BER", nil)
	holder := map[string]any{"full_name": "Aigerim Deputy", "birth_date": "1975-05-05", "place_of_work": "Mazhilis of Parliament",
		"position": "Deputy of the Mazhilis", "unit": "MFA", "reason": "r", "act": apiAct}
	bad := map[string]any{"full_name": "X", "birth_date": "1975-05-05", "place_of_work": "Mazhilis", "unit": "MFA", "reason": "r", "act": apiAct}
	if p := e.refusedPassport(422, "po.mfa", "POST", "/api/v1/personnel/passport-holders", bad); !strings.Contains(fmt.Sprint(p["errors"]), "position") {
		t.Fatalf("no position: %v", p)
	}
	if p := e.refusedPassport(422, "po.ber", "POST", "/api/v1/personnel/passport-holders", holder); !strings.Contains(fmt.Sprint(p["errors"]), "not a unit whose records you keep") {
		t.Fatalf("another unit's officer registers an MFA holder: %v", p)
	}
	h := e.must(201, "po.mfa", "POST", "/api/v1/personnel/passport-holders", holder)
	hid := h["id"].(string)
	base := "/api/v1/personnel/passport-holders/" + hid
	app := map[string]any{"type": "diplomatic", "basis": "dl_27", "received_on": "2025-03-03", "documents": passportDocs("DE"),
		"basis_detail": map[string]any{"evidence": "CEC resolution No. 12"}, "reason": "r", "act": apiAct}
	if p := e.refusedPassport(422, "po.mfa", "POST", base+"/passports", app); !strings.Contains(fmt.Sprint(p["errors"]), "kept under the staff record") {
		t.Fatalf("DL-27 for a deputy: %v", p)
	}
	app["basis"] = "dl_21"
	pp := e.must(201, "po.mfa", "POST", base+"/passports", app)
	pid := pp["id"].(string)
	if pp["holder_id"] != hid || pp["staff_id"] != nil {
		t.Fatalf("the deputy's passport: %v", pp)
	}
	e.must(200, "po.mfa", "POST", base+"/passports/"+pid+"/issue", map[string]any{"number": "D7100001", "handout": handoutBody("Aigerim Deputy", "2025-03-07"), "reason": "r", "act": apiAct})
	got := e.must(200, "po.mfa", "GET", base, nil)
	if ps := got["passports"].([]any); len(ps) != 1 || ps[0].(map[string]any)["number"] != "D7100001" {
		t.Fatalf("holder: %v", got)
	}
	e.must(200, "po.mfa", "GET", base+"/passports/"+pid, nil)
	evs := e.must(200, "po.mfa", "GET", base+"/events", nil)
	if n := len(evs["events"].([]any)); n != 3 {
		t.Fatalf("the holder's history: %v", evs)
	}
	reg := e.must(200, "po.mfa", "GET", "/api/v1/personnel/passports", nil)
	if !strings.Contains(fmt.Sprint(reg), "Mazhilis of Parliament") {
		t.Fatalf("register: %v", reg)
	}
	// A holder's id is no staff record's, and the reverse.
	e.refusedPassport(404, "po.mfa", "GET", "/api/v1/staff/"+hid+"/passports", nil)
	e.refusedPassport(404, "po.mfa", "POST", "/api/v1/staff/"+hid+"/passports", app)
	// Hidden == missing for another unit's officer.
	for _, path := range []string{base, base + "/events", base + "/passports", base + "/passports/" + pid} {
		e.refusedPassport(404, "po.ber", "GET", path, nil)
	}
	e.refusedPassport(404, "po.ber", "POST", base+"/passports", app)
}

// TestPassportBlankRoutes: the blank-form ledger over HTTP: forms received,
// one issued on a passport, one spoiled, the ledger in JSON and printed;
// refusals as problem+json that change nothing; only personnel officers read
// it and only one of every unit changes it.
func TestPassportBlankRoutes(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	e.passportOfficer("po.mfa", "MFA", []string{"*"})
	e.passportOfficer("po.ber", "DE-BER", nil)
	rec := map[string]any{"type": "diplomatic", "first": "D8800001", "count": 3, "received_on": "2025-03-01",
		"order": map[string]any{"number": "MFA order 44-z", "date": "2025-02-01"}, "reason": "delivery", "act": apiAct}
	e.refusedPassport(403, "po.ber", "POST", "/api/v1/personnel/passport-blanks", rec)
	e.refusedPassport(400, "po.mfa", "POST", "/api/v1/personnel/passport-blanks", map[string]any{"type": "diplomatic", "first": "D8800001", "count": 3, "colour": "blue"})
	if p := e.refusedPassport(422, "po.mfa", "POST", "/api/v1/personnel/passport-blanks", map[string]any{"type": "diplomatic", "first": "D8800001", "count": 3,
		"received_on": "2025-03-01", "reason": "r", "act": apiAct}); !strings.Contains(fmt.Sprint(p["errors"]), "R§7") {
		t.Fatalf("no order: %v", p)
	}
	got := e.must(201, "po.mfa", "POST", "/api/v1/personnel/passport-blanks", rec)
	if fmt.Sprint(got["received"]) != "[D8800001 D8800002 D8800003]" {
		t.Fatalf("received: %v", got)
	}
	e.refusedPassport(422, "po.mfa", "POST", "/api/v1/personnel/passport-blanks", rec) // the same numbers again
	st := e.must(201, "po.mfa", "POST", "/api/v1/staff", admission("BL-1", "attache", "MFA", "2019-01-01"))
	base := "/api/v1/staff/" + st["id"].(string) + "/passports"
	pid := e.must(201, "po.mfa", "POST", base, map[string]any{"type": "diplomatic", "basis": "dl_27", "received_on": "2025-03-03",
		"documents": passportDocs("DE"), "reason": "r", "act": apiAct})["id"].(string)
	e.must(200, "po.mfa", "POST", base+"/"+pid+"/issue", map[string]any{"number": "D8800001", "handout": handoutBody("Person BL-1", "2025-03-05"), "reason": "r", "act": apiAct})
	spoil := map[string]any{"on": "2025-03-06", "mistake": "misprinted date of birth", "reason": "r", "act": apiAct}
	e.refusedPassport(409, "po.mfa", "POST", "/api/v1/personnel/passport-blanks/D8800001/spoilage", spoil)
	e.refusedPassport(404, "po.mfa", "POST", "/api/v1/personnel/passport-blanks/D8899999/spoilage", spoil)
	e.refusedPassport(403, "po.ber", "POST", "/api/v1/personnel/passport-blanks/D8800002/spoilage", spoil)
	if b := e.must(200, "po.mfa", "POST", "/api/v1/personnel/passport-blanks/D8800002/spoilage", spoil); b["status"] != "spoiled" {
		t.Fatalf("spoiled: %v", b)
	}
	l := e.must(200, "po.ber", "GET", "/api/v1/personnel/passport-blanks?type=diplomatic", nil)
	if fmt.Sprint(l["totals"]) != "map[diplomatic:map[in_stock:1 issued:1 received:3 spoiled:1]]" {
		t.Fatalf("ledger totals: %v", l["totals"])
	}
	b := e.must(200, "po.mfa", "GET", "/api/v1/personnel/passport-blanks/D8800001", nil)
	if b["passport_id"] != pid || len(b["events"].([]any)) != 2 {
		t.Fatalf("the issued form: %v", b)
	}
	e.refused(422, "po.mfa", "GET", "/api/v1/personnel/passport-blanks?status=lost", nil)
	e.refused(403, "clerk", "GET", "/api/v1/personnel/passport-blanks", nil)
	code, raw := e.raw("po.mfa", "/api/v1/personnel/passport-blanks/print")
	if code != 200 || !strings.Contains(string(raw), "D8800003") || !strings.Contains(string(raw), "R§7") {
		t.Fatalf("printed ledger: %d %s", code, raw)
	}
}

// refusedPassport is refused with the personnel and passport tables fingerprinted too.
func (e *mailEnv) refusedPassport(status int, user, method, path string, body any) map[string]any {
	e.t.Helper()
	tables := []string{"staff", "staff_events", "passports", "passport_journal", "passport_destruction_acts", "passport_holders", "passport_holder_events",
		"passport_blanks", "passport_blank_events"}
	before := e.fingerprint(tables...)
	p := e.refused(status, user, method, path, body)
	if after := e.fingerprint(tables...); after != before {
		e.t.Fatalf("%s %s was refused but changed the personnel tables:\n%s\n---\n%s", method, path, before, after)
	}
	return p
}

// TestCourierSheetEligibility: a sheet is refused, naming every failed
// condition, to a user who merely holds the career courier role; a passport
// valid until the day before the trip's last day fails, one valid through
// that day passes and is printed on the sheet; an ad hoc courier's
// identity document must last the trip (DM-05).
func TestCourierSheetEligibility(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	ctx := context.Background()
	e.passportOfficer("po.mfa", "MFA", []string{"*"})
	// A user with the career courier role and no staff record.
	u, err := e.srv.Identity().CreateUser(ctx, identity.UserInput{Username: "rolecourier", FullName: "Role Courier", Unit: "MFA",
		Roles: []string{policy.RoleCourier}, Clearance: policy.Restricted, CourierKind: policy.CourierCareer, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	e.ids["rolecourier"] = u.ID
	cid := e.courierFor("rolecourier", "career")
	bag, _ := e.setupSealedBag()
	until := time.Now().Add(72 * time.Hour).UTC()
	sheet := map[string]any{"issuer": "MFA", "conveyance": "career_courier", "courier_id": cid, "bag_ids": []string{bag}, "valid_until": until}
	p := e.refusedPassport(409, "clerk", "POST", "/api/v1/sheets", sheet)
	var conds []string
	for _, f := range p["failures"].([]any) {
		conds = append(conds, f.(map[string]any)["condition"].(string))
	}
	if strings.Join(conds, ",") != "staff_record,clearance" || p["reason"] != "courier_ineligible" || len(p["errors"].([]any)) != 2 {
		t.Fatalf("every failed condition: %v", p)
	}
	// Now a staff record of the courier service, linked, cleared, with a passport valid until the day before the trip ends.
	if _, err := e.pool.Exec(ctx, `UPDATE users SET clearance = 4 WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	st := e.must(201, "po.mfa", "POST", "/api/v1/staff", admission("DC-1", "diplomatic_courier", "MFA", "2015-01-01"))
	e.must(200, "po.mfa", "PUT", "/api/v1/staff/"+st["id"].(string)+"/account", map[string]any{"username": "rolecourier", "reason": "r", "act": apiAct})
	base := "/api/v1/staff/" + st["id"].(string) + "/passports"
	last, _ := time.Parse(time.DateOnly, until.Format(time.DateOnly))
	issueExpiring := func(expires time.Time, number, second string) {
		t.Helper()
		issued := expires.AddDate(-5, 0, 0)
		app := map[string]any{"type": "diplomatic", "basis": "dl_27", "received_on": issued.AddDate(0, 0, -1).Format(time.DateOnly),
			"documents": passportDocs("DE"), "reason": "r", "act": apiAct}
		if second != "" {
			app["second_ground"] = second
		}
		pid := e.must(201, "po.mfa", "POST", base, app)["id"].(string)
		e.must(200, "po.mfa", "POST", base+"/"+pid+"/issue", map[string]any{"number": number, "handout": handoutBody("Person DC-1", issued.Format(time.DateOnly)), "reason": "r", "act": apiAct})
	}
	issueExpiring(last.AddDate(0, 0, -1), "D6000001", "")
	p = e.refusedPassport(409, "clerk", "POST", "/api/v1/sheets", sheet)
	// The registry clerk may not read the courier's staff record: the condition and rule, no personal data.
	if f := p["failures"].([]any); len(f) != 1 || f[0].(map[string]any)["condition"] != "passport" || f[0].(map[string]any)["rule"] != "R§6" ||
		strings.Contains(f[0].(map[string]any)["reason"].(string), last.AddDate(0, 0, -1).Format(time.DateOnly)) {
		t.Fatalf("expiring the day before the trip ends: %v", p)
	}
	issueExpiring(last, "D6000002", "several_visas")
	sh := e.must(201, "clerk", "POST", "/api/v1/sheets", sheet)
	if sh["bearer_document"] != "Diplomatic passport No. D6000002 (KZ)" || sh["passport_id"] == nil {
		t.Fatalf("the sheet prints the passport the check used: %v", sh)
	}
	code, page := e.raw("clerk", "/api/v1/sheets/"+sh["id"].(string)+"/print")
	if code != http.StatusOK || !strings.Contains(string(page), "D6000002") {
		t.Fatalf("printed sheet: %d", code)
	}
	// An ad hoc courier whose document ends before the trip does: DM-05.
	bag2, _ := e.setupSealedBag()
	ah := e.must(201, "disp", "POST", "/api/v1/couriers", map[string]any{"kind": "ad_hoc", "full_name": "Short Doc", "doc_kind": "passport",
		"doc_number": "N7777777", "doc_country": "KZ", "doc_expires": time.Now().AddDate(0, 0, 1).Format(time.DateOnly)})
	p = e.refusedPassport(409, "clerk", "POST", "/api/v1/sheets", map[string]any{"issuer": "MFA", "conveyance": "ad_hoc_courier",
		"courier_id": ah["id"], "bag_ids": []string{bag2}, "valid_until": until})
	if f := p["failures"].([]any); f[0].(map[string]any)["condition"] != "identity_document" || f[0].(map[string]any)["rule"] != "DM-05" {
		t.Fatalf("DM-05: %v", p)
	}
}

// TestCourierEligibilityRoute: the dispatcher asks before issuing; the
// answer lists every failed condition and changes nothing.
func TestCourierEligibilityRoute(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	cid := e.courierID() // courier1: enrolled with a passport (personneltest)
	until := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	ok := e.must(200, "disp", "GET", "/api/v1/couriers/"+cid+"/eligibility?valid_until="+until+"&level=TOP_SECRET", nil)
	if ok["eligible"] != true || ok["passport"] == nil {
		t.Fatalf("courier1: %v", ok)
	}
	no := e.must(200, "disp", "GET", "/api/v1/couriers/"+cid+"/eligibility?valid_until="+until+"&level=SPECIAL_IMPORTANCE", nil)
	if no["eligible"] != false || len(no["failures"].([]any)) != 1 {
		t.Fatalf("above the clearance: %v", no)
	}
	e.refused(422, "disp", "GET", "/api/v1/couriers/"+cid+"/eligibility?valid_until=tomorrow", nil)
	e.refused(404, "disp", "GET", "/api/v1/couriers/00000000-0000-4000-8000-000000000000/eligibility?valid_until="+until, nil)
}
