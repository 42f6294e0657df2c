package personnel_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"valise"
	"valise/personnel"
	"valise/policy"
)

// The blank-form ledger (R§7, R§21(2), App.2): forms received on the MFA's
// order, issued when a passport is personalised on one, spoiled, destroyed
// by act; every change an event; printable; refusals change nothing.
func TestPassportBlankLedger(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	order := personnel.Act{Number: "MFA order 44-z", Date: d("2025-02-01")}
	receive := func(who policy.Subject, in personnel.BlankReceipt) func() error {
		return func() error { in.Change = act; _, err := w.svc.ReceiveBlanks(ctx, w.check(who), who, in); return err }
	}
	nums, err := w.svc.ReceiveBlanks(ctx, w.check(w.po), w.po, personnel.BlankReceipt{Type: "diplomatic", First: "D8000001", Count: 5,
		ReceivedOn: d("2025-03-01"), Order: order, Change: act})
	if err != nil || strings.Join(nums, ",") != "D8000001,D8000002,D8000003,D8000004,D8000005" {
		t.Fatalf("receive: %v %v %+v", nums, err, fields(err))
	}
	if _, err := w.svc.ReceiveBlanks(ctx, w.check(w.po), w.po, personnel.BlankReceipt{Type: "service", First: "S0000098", Count: 3,
		ReceivedOn: d("2025-03-01"), Order: order, Change: act}); err != nil {
		t.Fatal(err)
	}
	tyo := w.user("po.tyo", "JP-TYO", []string{policy.RolePersonnelOfficer}, nil)
	clerk := w.user("clerk", "MFA", []string{policy.RoleRegistryClerk}, nil)
	w.refusedUnchanged(valise.EINVALID, "a number is received once", receive(w.po, personnel.BlankReceipt{Type: "diplomatic", First: "D8000005", Count: 1, ReceivedOn: d("2025-03-01"), Order: order}))
	w.refusedUnchanged(valise.EINVALID, "R§7: the MFA's order", receive(w.po, personnel.BlankReceipt{Type: "diplomatic", First: "D8100001", Count: 1, ReceivedOn: d("2025-03-01")}))
	w.refusedUnchanged(valise.EINVALID, "count", receive(w.po, personnel.BlankReceipt{Type: "diplomatic", First: "D8100001", Count: 0, ReceivedOn: d("2025-03-01"), Order: order}))
	w.refusedUnchanged(valise.EINVALID, "first", receive(w.po, personnel.BlankReceipt{Type: "diplomatic", First: "D99", Count: 1, ReceivedOn: d("2025-03-01"), Order: order}))
	w.refusedUnchanged(valise.EINVALID, "not in the future", receive(w.po, personnel.BlankReceipt{Type: "diplomatic", First: "D8100001", Count: 1, ReceivedOn: d("2999-01-01"), Order: order}))
	w.refusedUnchanged(valise.EFORBIDDEN, "", receive(tyo, personnel.BlankReceipt{Type: "diplomatic", First: "D8100001", Count: 1, ReceivedOn: d("2025-03-01"), Order: order}))

	// Issue: the form becomes the passport's; a form of the other type, one not yet received, a spoiled one: refused.
	st := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
	issue := func(p personnel.Passport, number, on string) func() error {
		return func() error {
			_, err := w.svc.Issue(ctx, w.check(w.po), w.po, st.ID, p.ID, personnel.IssueInput{Number: number, HandOut: handout(p.HolderName, on), Change: act})
			return err
		}
	}
	p1 := w.apply(st.ID, application("diplomatic", "dl_27", "2025-02-20"))
	w.refusedUnchanged(valise.EINVALID, "form S0000098 is a service passport form", issue(p1, "S0000098", "2025-03-03"))
	w.refusedUnchanged(valise.EINVALID, "form D8000001 was received on 2025-03-01", issue(p1, "D8000001", "2025-02-28"))
	w.issue(st.ID, p1, "D8000001", "2025-03-01") // the day of receipt: inside
	b, err := w.svc.GetBlank(ctx, w.check(w.po), "D8000001")
	if err != nil || b.Status != "issued" || b.PassportID != p1.ID || len(b.Events) != 2 || b.Events[1].Kind != "issued" || b.Events[0].Act.Number != act.Act.Number {
		t.Fatalf("the issued form: %+v %v", b, err)
	}

	// Spoiled in preparation (R§21(2)): only a form in stock; the day must be known.
	spoil := func(number, on, mistake string) func() error {
		return func() error {
			_, err := w.svc.SpoilBlank(ctx, w.check(w.po), w.po, number, personnel.BlankSpoilage{On: d(on), Mistake: mistake, Change: act})
			return err
		}
	}
	w.refusedUnchanged(valise.EINVALID, "on or after its receipt", spoil("D8000002", "2025-02-28", "misprinted name"))
	w.refusedUnchanged(valise.EINVALID, "mistake", spoil("D8000002", "2025-03-02", ""))
	w.refusedUnchanged(valise.ECONFLICT, "only a form in stock", spoil("D8000001", "2025-03-02", "misprinted name"))
	w.refusedUnchanged(valise.ENOTFOUND, "not found", spoil("D8999999", "2025-03-02", "misprinted name"))
	if b, err := w.svc.SpoilBlank(ctx, w.check(w.po), w.po, "D8000002", personnel.BlankSpoilage{On: d("2025-03-01"), Mistake: "misprinted name", Change: act}); err != nil || b.Status != "spoiled" {
		t.Fatalf("spoil: %+v %v", b, err)
	}
	p2 := w.apply(st.ID, func() personnel.PassportApplication {
		a := application("diplomatic", "dl_27", "2025-03-03")
		a.SecondGround = "several_visas"
		return a
	}())
	w.refusedUnchanged(valise.EINVALID, "form D8000002 is spoiled, not in stock", issue(p2, "D8000002", "2025-03-04"))

	// The setting blanks_required: off, a number outside the ledger is issued untraced; on, it is refused.
	set := func(v string) {
		t.Helper()
		if _, err := w.svc.SetReference(ctx, w.check(w.po), w.po, "passport", "settings", personnel.ReferenceInput{Value: []byte(v), Change: act}); err != nil {
			t.Fatal(err, fields(err))
		}
	}
	set(`{"return_reading": "A", "surrender_days": "calendar", "commission_min": 3, "blanks_required": true}`)
	w.refusedUnchanged(valise.EINVALID, "never received into the blank ledger", issue(p2, "D7777777", "2025-03-04"))
	w.issue(st.ID, p2, "D8000003", "2025-03-04")

	// Destruction by act: the spoiled form by itself; a form in stock is not; a destroyed passport takes its form.
	if _, err := w.svc.Surrender(ctx, w.check(w.po), w.po, st.ID, p1.ID, personnel.SurrenderInput{On: d("2025-06-02"), By: "the owner", Change: act}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Withdraw(ctx, w.check(w.po), w.po, st.ID, p1.ID, personnel.WithdrawInput{On: d("2025-06-03"), Ground: "status_mismatch", Change: act}); err != nil {
		t.Fatal(err)
	}
	commission := []personnel.Official{{FullName: "M One", Position: "Counsellor"}, {FullName: "M Two", Position: "First Secretary"}, {FullName: "M Three", Position: "Registrar"}}
	in := personnel.DestructionInput{ActDate: d("2025-07-01"), ApprovedBy: personnel.Official{FullName: "H Head", Position: "Head of Consular Service"},
		Commission: commission, Order: personnel.Act{Number: "Order 45", Date: d("2025-01-10")}, Blanks: []string{"D8000004"},
		FormCopies: []string{"scan-1.pdf", "scan-2.pdf"}, Executor: "E Executor", Change: act}
	destroy := func(in personnel.DestructionInput) func() error {
		return func() error { _, err := w.svc.Destroy(ctx, w.check(w.po), w.po, in); return err }
	}
	w.refusedUnchanged(valise.EINVALID, "form D8000004 is in_stock", destroy(in))
	in.Blanks = []string{"D8000002", "D8000002"}
	w.refusedUnchanged(valise.EINVALID, "listed twice", destroy(in))
	in.Blanks = []string{"D8000002"}
	in.Passports = []personnel.DestroyItem{{PassportID: p1.ID, Ground: "invalidated"}}
	in.FormCopies = []string{"scan-1.pdf"}
	w.refusedUnchanged(valise.EINVALID, "a copy of every destroyed form", destroy(in))
	in.FormCopies = []string{"scan-1.pdf", "scan-2.pdf"}
	a, err := w.svc.Destroy(ctx, w.check(w.po), w.po, in)
	if err != nil || len(a.Blanks) != 1 {
		t.Fatalf("destroy: %+v %v %+v", a, err, fields(err))
	}
	for _, n := range []string{"D8000001", "D8000002"} {
		if b, _ := w.svc.GetBlank(ctx, w.check(w.po), n); b.Status != "destroyed" || b.ActNumber != a.Number || b.Events[len(b.Events)-1].Kind != "destroyed" {
			t.Errorf("form %s after the act: %+v", n, b)
		}
	}
	var page bytes.Buffer
	if err := personnel.PrintAct(&page, a); err != nil || !strings.Contains(page.String(), "D8000002") || !strings.Contains(page.String(), "spoiled form") {
		t.Errorf("the printed act lacks the spoiled form: %v", err)
	}

	// The ledger: totals and forms; printable; ministry-wide (any personnel officer reads, no one else).
	l, err := w.svc.Blanks(ctx, w.check(tyo), "", "")
	if err != nil {
		t.Fatal(err)
	}
	dip := l.Totals["diplomatic"]
	if dip["received"] != 5 || dip["in_stock"] != 2 || dip["issued"] != 1 || dip["destroyed"] != 2 || l.Totals["service"]["in_stock"] != 3 || len(l.Blanks) != 8 {
		t.Fatalf("ledger: %+v", l.Totals)
	}
	if l, _ := w.svc.Blanks(ctx, w.check(w.po), "destroyed", "diplomatic"); len(l.Blanks) != 2 {
		t.Errorf("filtered: %+v", l.Blanks)
	}
	page.Reset()
	if err := personnel.PrintBlanks(&page, l, d("2025-07-02")); err != nil || !strings.Contains(page.String(), "R§7") || !strings.Contains(page.String(), "D8000005") ||
		!strings.Contains(page.String(), a.Number) {
		t.Errorf("printed ledger: %v", err)
	}
	if _, err := w.svc.Blanks(ctx, w.check(clerk), "", ""); valise.ErrorCode(err) != valise.EFORBIDDEN {
		t.Errorf("a registry clerk reads the ledger: %v", err)
	}
	w.refusedUnchanged(valise.EFORBIDDEN, "", func() error {
		_, err := w.svc.SpoilBlank(ctx, w.check(tyo), tyo, "D8000005", personnel.BlankSpoilage{On: d("2025-03-02"), Mistake: "x", Change: act})
		return err
	})
}
