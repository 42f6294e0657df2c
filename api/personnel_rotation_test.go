package api_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"valise/api/apitest"
	"valise/internal/browser"
)

// annex1InChromium renders the printed plan in headless Chromium: the DOM
// has the Annex 1 header, the institution's section and the totals, and it
// prints to a PDF.
func annex1InChromium(t *testing.T, e *apitest.Env, tok, path string) {
	t.Helper()
	br := browser.Need(t)
	page := authProxy(t, e.URL, tok) + path
	dom, err := br.DOM(t.Context(), page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Сыртқы ротациялау", "Embassy", "Person R-1", "дипломатиялық құрам"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered Annex 1 lacks %q", want)
		}
	}
	pdf, err := br.PDF(t.Context(), page, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(pdf); err != nil || !strings.HasPrefix(string(b), "%PDF") {
		t.Fatalf("Annex 1 does not print to a PDF: %v", err)
	}
}

// rot is a small client for the rotation routes.
type rot struct {
	t   *testing.T
	e   *apitest.Env
	tok string
}

func (c rot) do(want int, method, path string, body any) map[string]any {
	c.t.Helper()
	code, ct, b := pstatus(c.t, c.e, method, path, c.tok, body)
	if code != want {
		c.t.Fatalf("%s %s: %d %s (want %d)", method, path, code, b, want)
	}
	if code >= 400 && ct != "application/problem+json" {
		c.t.Fatalf("%s %s: a refusal as %s", method, path, ct)
	}
	out := map[string]any{}
	if strings.HasPrefix(ct, "application/") {
		_ = json.Unmarshal([]byte(b), &out)
	}
	out["_raw"] = b
	return out
}

func withAct(m map[string]any) map[string]any {
	m["reason"], m["act"] = "rotation test", apiAct
	return m
}

func TestRotationAndPostingsAPI(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	c := rot{t, e, personnelOfficer(t, e, "po.all", "MFA", []string{"*"})}
	ber := rot{t, e, personnelOfficer(t, e, "po.ber", "DE-BER", nil)}
	staff := c.do(201, "POST", "/api/v1/staff", admission("R-1", "third_secretary", "MFA", "2020-01-01"))
	id := staff["id"].(string)
	base := "/api/v1/staff/" + id

	// HR-16 one day short: 422 naming the rule, nothing written.
	posting := func(start, planned string) map[string]any {
		return withAct(map[string]any{"kind": "foreign_institution", "planned_end": planned,
			"appointment": map[string]any{"position": "third_secretary", "unit": "DE-BER", "start_date": start, "authority": "minister"}})
	}
	before := counts(t, e)
	r := c.do(422, "POST", base+"/postings", posting("2020-12-31", "2023-12-31"))
	if !strings.Contains(r["_raw"].(string), "HR-16") {
		t.Fatalf("HR-16: %s", r["_raw"])
	}
	if counts(t, e) != before {
		t.Fatal("a refused posting changed something")
	}
	c.do(422, "POST", base+"/postings", posting("2021-01-01", "2024-01-02")) // HR-19: 3 years and a day
	p := c.do(201, "POST", base+"/postings", posting("2021-01-01", "2024-01-01"))
	pid := p["id"].(string)
	pp := base + "/postings/" + pid
	ext := func(until string) map[string]any {
		return withAct(map[string]any{"until": until, "authority": "minister", "service_need": "the presidency of the organisation"})
	}
	c.do(422, "POST", pp+"/extensions", ext("2025-01-02")) // HR-20: 1 year and a day
	c.do(200, "POST", pp+"/extensions", ext("2025-01-01"))
	c.do(200, "POST", pp+"/moves", withAct(map[string]any{"position": "second_secretary", "unit": "DE-BER", "start_date": "2022-01-01", "authority": "minister"}))
	fam := c.do(201, "POST", base+"/family", withAct(map[string]any{"relation": "spouse", "full_name": "Spouse R", "birth_date": "1990-01-01", "documents": []any{}}))
	c.do(201, "POST", pp+"/spouse-retention", withAct(map[string]any{"family_member_id": fam["id"], "employer": "Ministry of Justice", "position": "chief expert", "from_date": "2021-01-01"}))
	c.do(201, "POST", pp+"/recalls", withAct(map[string]any{"ground": "family_member_act", "family_member_id": fam["id"], "facts": "host-country offence", "decided_on": "2024-10-01"}))
	c.do(200, "POST", pp+"/return", withAct(map[string]any{"returned_on": "2024-11-04"}))
	c.do(422, "POST", pp+"/notice-extension", withAct(map[string]any{"until": "2024-12-12"})) // beyond 5 WD + 1 month (2024-11-11 + 1 month)
	c.do(200, "POST", pp+"/notice-extension", withAct(map[string]any{"until": "2024-12-11"}))
	c.do(200, "POST", pp+"/return-notice", withAct(map[string]any{"date": "2024-11-20", "addressee": "Minister", "institution": "Embassy in Germany",
		"address": "Astana", "phone": "+7", "email": "r@example.kz", "basis_order": apiAct}))
	c.do(409, "POST", pp+"/home-appointment", withAct(map[string]any{"position": "attache", "unit": "MFA", "start_date": "2024-12-01", "authority": "minister"})) // HR-26
	c.do(200, "POST", pp+"/home-appointment", withAct(map[string]any{"position": "second_secretary", "unit": "MFA", "start_date": "2024-12-01", "authority": "minister"}))
	list := c.do(200, "GET", base+"/postings", nil)
	if len(list["postings"].([]any)) != 1 {
		t.Fatalf("postings: %v", list)
	}
	at := c.do(200, "GET", base+"/attestations", nil)
	att := at["attestations"].([]any)[0].(map[string]any)["id"].(string)
	c.do(200, "POST", base+"/attestations/"+att+"/result", withAct(map[string]any{"held_on": "2025-03-01", "result": "positive"}))
	c.do(201, "POST", base+"/posting-refusals", withAct(map[string]any{"offered": "Embassy in Japan", "refused_on": "2025-04-01", "reason_code": "none_listed", "reason_text": "prefers Europe"}))
	c.do(201, "POST", base+"/equations", withAct(map[string]any{"organisation": "OSCE", "position": "adviser", "equated_to": "counsellor", "from_date": "2025-01-01"}))
	c.do(200, "GET", "/api/v1/personnel/due?on=2025-01-01", nil)
	// Hidden from an officer of another unit, like a missing record.
	ber.do(404, "GET", base+"/postings", nil)

	// The plan.
	plan := c.do(201, "POST", "/api/v1/personnel/rotation-plans", withAct(map[string]any{"year": 2027}))
	pl := "/api/v1/personnel/rotation-plans/" + plan["id"].(string)
	c.do(201, "POST", pl+"/entries", withAct(map[string]any{"unit": "DE-BER", "staff_id": id, "planned_rotation": "June 2027", "candidates": []string{}}))
	c.do(200, "POST", pl+"/transitions", withAct(map[string]any{"to": "drafting", "on": "2027-01-29"}))
	c.do(409, "POST", pl+"/transitions", withAct(map[string]any{"to": "approved", "on": "2027-01-29"}))
	c.do(200, "POST", pl+"/units", withAct(map[string]any{"unit": "DE-BER", "draft_received": "2027-02-26", "proposals_on": "2027-03-05", "agreed_with": "chief_of_staff"}))
	c.do(200, "GET", pl, nil)
	ber.do(403, "GET", pl, nil)
	code, ct, html := pstatus(t, e, "GET", pl+"/annex1", c.tok, nil)
	if code != 200 || !strings.HasPrefix(ct, "text/html") || !strings.Contains(html, "Person R-1") {
		t.Fatalf("annex 1: %d %s", code, ct)
	}
	annex1InChromium(t, e, c.tok, pl+"/annex1")

	// A case, out of plan.
	st2 := c.do(201, "POST", "/api/v1/staff", admission("R-2", "attache", "MFA", "2020-01-01"))
	b2 := "/api/v1/staff/" + st2["id"].(string)
	cs := c.do(201, "POST", b2+"/rotation-cases", withAct(map[string]any{"direction": "outbound", "out_of_plan": "family_circumstances", "position": "attache", "unit": "DE-BER"}))
	cp := b2 + "/rotation-cases/" + cs["id"].(string)
	c.do(200, "GET", cp, nil)
	c.do(200, "POST", cp+"/transitions", withAct(map[string]any{"to": "in_plan", "on": "2025-03-01"}))
	c.do(422, "PUT", cp+"/training", withAct(map[string]any{"start_date": "2025-04-01", "end_date": "2025-04-22", "ack_job_descriptions": true, "ack_memo": true, "conclusion": "depart", "items": []any{}}))
	c.do(200, "PUT", cp+"/training", withAct(map[string]any{"start_date": "2025-04-01", "end_date": "2025-04-21", "ack_job_descriptions": true, "ack_memo": true, "conclusion": "depart", "items": []any{map[string]any{"code": "1.1"}}}))
	c.do(200, "POST", cp+"/documents", withAct(map[string]any{"code": "personal_sheet", "holder": "officer", "status": "received", "received_on": "2025-05-01"}))
	fm2 := c.do(201, "POST", b2+"/family", withAct(map[string]any{"relation": "spouse", "full_name": "Spouse 2", "birth_date": "1990-01-01", "documents": []any{}}))
	c.do(200, "POST", cp+"/family", withAct(map[string]any{"family_member_id": fm2["id"], "basis": "spouse", "to": "proposed"}))
	c.do(409, "POST", cp+"/transitions", withAct(map[string]any{"to": "departed", "on": "2025-06-02", "authority": "minister"}))
}

// TestRotationGapsAPI: the R§31 pregnancy record and its alert, leave only
// after recall (V20), the spouse link (R§6), and the notice of return
// printed in the Annex 2 layout (in Chromium, to a PDF); each refusal is
// problem+json naming the rule and changes nothing.
func TestRotationGapsAPI(t *testing.T) {
	t.Parallel()
	e := apitest.New(t)
	c := rot{t, e, personnelOfficer(t, e, "po.gaps", "MFA", []string{"*"})}
	tyo := rot{t, e, personnelOfficer(t, e, "po.gaps.tyo", "JP-TYO", nil)}
	staff := c.do(201, "POST", "/api/v1/staff", admission("G-1", "third_secretary", "MFA", "2020-01-01"))
	base := "/api/v1/staff/" + staff["id"].(string)
	p := c.do(201, "POST", base+"/postings", withAct(map[string]any{"kind": "foreign_institution",
		"appointment": map[string]any{"position": "third_secretary", "unit": "DE-BER", "start_date": "2021-01-01", "authority": "minister"}}))
	pp := base + "/postings/" + p["id"].(string)

	// R§31.
	before := counts(t, e)
	r := c.do(422, "POST", pp+"/pregnancy", withAct(map[string]any{"certified_on": "2023-01-10", "weeks": 20, "days": 7}))
	if !strings.Contains(r["_raw"].(string), "weeks") || counts(t, e) != before {
		t.Fatalf("a bad gestational age: %s", r["_raw"])
	}
	g := c.do(201, "POST", pp+"/pregnancy", withAct(map[string]any{"certified_on": "2023-01-10", "weeks": 20}))
	if g["recall_by"] != "2023-02-21" {
		t.Fatalf("recall by: %v", g)
	}
	tyo.do(404, "POST", pp+"/pregnancy", withAct(map[string]any{"certified_on": "2023-01-10", "weeks": 20}))

	// V20: no leave while abroad.
	before = counts(t, e)
	r = c.do(409, "POST", base+"/leaves", withAct(map[string]any{"kind": "maternity", "from": "2023-01-20"}))
	if !strings.Contains(r["_raw"].(string), "V20") || counts(t, e) != before {
		t.Fatalf("leave while abroad: %s", r["_raw"])
	}
	c.do(422, "POST", base+"/leaves", withAct(map[string]any{"kind": "childcare_unpaid", "from": "2023-01-20"}))
	if l := c.do(200, "GET", base+"/leaves", nil); len(l["leaves"].([]any)) != 0 {
		t.Fatalf("leaves: %v", l)
	}

	// R§6: the spouse's own record, only one the officer may see.
	other := c.do(201, "POST", "/api/v1/staff", admission("G-2", "attache", "MFA", "2020-01-01"))
	r = c.do(422, "POST", base+"/family", withAct(map[string]any{"relation": "spouse", "full_name": "Spouse G", "birth_date": "1990-01-01", "documents": []any{},
		"spouse_staff_id": "00000000-0000-4000-8000-000000000009"}))
	if !strings.Contains(r["_raw"].(string), "spouse_staff_id") {
		t.Fatalf("an unknown spouse record: %s", r["_raw"])
	}
	f := c.do(201, "POST", base+"/family", withAct(map[string]any{"relation": "spouse", "full_name": "Spouse G", "birth_date": "1990-01-01", "documents": []any{},
		"spouse_staff_id": other["id"]}))
	if f["spouse_staff_id"] != other["id"] {
		t.Fatalf("spouse link: %v", f)
	}
	// The spouse accompanies (a kept position, HR-47): not posted alongside.
	c.do(201, "POST", pp+"/spouse-retention", withAct(map[string]any{"family_member_id": f["id"], "employer": "MFA", "position": "attache", "from_date": "2021-01-01"}))
	before = counts(t, e)
	r = c.do(422, "POST", "/api/v1/staff/"+other["id"].(string)+"/postings", withAct(map[string]any{"kind": "foreign_institution",
		"appointment": map[string]any{"position": "attache", "unit": "JP-TYO", "start_date": "2022-01-01", "authority": "minister"}}))
	if !strings.Contains(r["_raw"].(string), "R§6") || counts(t, e) != before {
		t.Fatalf("a spouse posted alongside: %s", r["_raw"])
	}

	// Annex 2: nothing to print before the notice; then the notice in its layout.
	c.do(404, "GET", pp+"/annex2", nil)
	c.do(200, "POST", pp+"/return", withAct(map[string]any{"returned_on": "2023-02-15"}))
	c.do(200, "POST", pp+"/return-notice", withAct(map[string]any{"date": "2023-02-17", "addressee": "M. Minister", "institution": "Embassy in Germany",
		"address": "Astana", "phone": "+7", "email": "g@example.kz", "basis_order": apiAct}))
	tyo.do(404, "GET", pp+"/annex2", nil)
	code, ct, html := pstatus(t, e, "GET", pp+"/annex2", c.tok, nil)
	if code != 200 || !strings.HasPrefix(ct, "text/html") || !strings.Contains(html, "Embassy in Germany") || !strings.Contains(html, "Order 12") {
		t.Fatalf("annex 2: %d %s", code, ct)
	}
	br := browser.Need(t)
	page := authProxy(t, e.URL, c.tok) + pp + "/annex2"
	dom, err := br.DOM(t.Context(), page)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dom, "Қазақстан Республикасына оралғаны жөніндегі хабарлама") || !strings.Contains(dom, "M. Minister") {
		t.Fatal("the rendered Annex 2 lacks its title or addressee")
	}
	pdf, err := br.PDF(t.Context(), page, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(pdf); err != nil || !strings.HasPrefix(string(b), "%PDF") {
		t.Fatalf("Annex 2 does not print to a PDF: %v", err)
	}
}
