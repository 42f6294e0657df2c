package personnel_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"valise/personnel"
	"valise/policy"
)

// TestCourierEligibility checks each condition of Art. 1(3) / DM-04 alone
// and all failing at once: a career courier is a staff member holding a
// courier-service position, with a passport valid on the trip's last day,
// not on leave or posted away during the trip.
func TestCourierEligibility(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	acct := func(name string) policy.Subject {
		t.Helper()
		s := policy.Subject{Username: name}
		if err := w.db.Pool.QueryRow(ctx, `INSERT INTO users (username, full_name, unit_id, roles, clearance, courier_kind)
			SELECT $1, $1, id, '{courier}', 3, 'career' FROM units WHERE code = 'MFA' RETURNING id`, name).Scan(&s.UserID); err != nil {
			t.Fatal(err)
		}
		return s
	}
	link := func(st personnel.Staff, s policy.Subject) {
		t.Helper()
		if _, err := w.svc.LinkAccount(ctx, w.check(w.po), w.po, st.ID, personnel.LinkInput{Username: s.Username, Change: act}); err != nil {
			t.Fatal(err, fields(err))
		}
	}
	// A courier whose passport is issued 2021-06-15: valid until 2026-06-15.
	courier := func(name string) (personnel.Staff, policy.Subject) {
		st := w.admit(w.candidate("diplomatic_courier", "MFA", "2020-01-01"))
		s := acct(name)
		link(st, s)
		p := w.apply(st.ID, application("diplomatic", "dl_27", "2021-06-10"))
		w.issue(st.ID, p, "DC"+strings.ToUpper(name[:3])+"001", "2021-06-15")
		return st, s
	}
	check := func(s policy.Subject, from, until string) personnel.Eligibility {
		t.Helper()
		el, err := personnel.CourierEligibility(ctx, w.db.Pool, s.UserID, d(from).Add(8*time.Hour), d(until).Add(18*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return el
	}
	conds := func(el personnel.Eligibility) string {
		var c []string
		for _, f := range el.Failures {
			c = append(c, f.Condition)
		}
		return strings.Join(c, ",")
	}
	st, ok := courier("kairat")
	// The trip ends on the passport's last valid day: eligible; the check names the passport.
	if el := check(ok, "2026-06-10", "2026-06-15"); len(el.Failures) != 0 || el.Passport == nil || el.Passport.Number != "DCKAI001" || el.StaffID != st.ID {
		t.Fatalf("on the expiry day: %+v", el)
	}
	// The trip ends the day after the passport's last valid day: refused (R§6).
	if el := check(ok, "2026-06-10", "2026-06-16"); conds(el) != "passport" || !strings.Contains(el.Failures[0].Reason, "valid until 2026-06-15") {
		t.Fatalf("the day after: %+v", el)
	}
	// Leave overlapping the trip's last day (inclusive) is a conflict; leave ending the day before is not.
	if _, err := w.svc.AddPeriod(ctx, w.check(w.po), w.po, st.ID, personnel.PeriodInput{Type: "leave", StartDate: d("2026-03-20"), EndDate: d("2026-03-31"), Change: act}); err != nil {
		t.Fatal(err, fields(err))
	}
	if el := check(ok, "2026-03-10", "2026-03-20"); conds(el) != "conflict_leave" {
		t.Fatalf("leave on the last day: %+v", el)
	}
	if el := check(ok, "2026-04-01", "2026-04-05"); len(el.Failures) != 0 {
		t.Fatalf("leave ended the day before: %+v", el)
	}
	// Work in an international organisation from the trip's last day is a
	// conflict; from the day after, not.
	st3, io := courier("dana")
	if _, err := w.svc.StartPosting(ctx, w.check(w.po), w.po, st3.ID, personnel.PostingInput{Kind: personnel.PostingIO,
		Organisation: "OSCE", StartDate: d("2026-04-05"), Change: act}); err != nil {
		t.Fatal(err, fields(err))
	}
	if el := check(io, "2026-04-01", "2026-04-05"); conds(el) != "conflict_posting_io" {
		t.Fatalf("international organisation on the last day: %+v", el)
	}
	if el := check(io, "2026-04-01", "2026-04-04"); len(el.Failures) != 0 {
		t.Fatalf("international organisation from the day after: %+v", el)
	}
	// A user with the courier role but no staff record (DM-04).
	if el := check(acct("rolemerely"), "2026-04-01", "2026-04-05"); conds(el) != "staff_record" {
		t.Fatalf("no staff record: %+v", el)
	}
	// A staff member who is not in the courier service, without a passport: both named.
	att := w.admit(w.candidate("attache", "MFA", "2020-01-01"))
	as := acct("attache1")
	link(att, as)
	if el := check(as, "2026-04-01", "2026-04-05"); conds(el) != "position,passport" {
		t.Fatalf("attaché: %+v", el)
	}
	// Every failure at once: service ending during the trip, leave, an expired passport, a posting abroad.
	st2, bad := courier("bolat")
	if _, err := w.svc.AddPeriod(ctx, w.check(w.po), w.po, st2.ID, personnel.PeriodInput{Type: "leave", StartDate: d("2026-06-01"), Change: act}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Appoint(ctx, w.check(w.po), w.po, st2.ID, personnel.AppointInput{AppointmentInput: personnel.AppointmentInput{
		Position: "third_secretary", Unit: "DE-BER", StartDate: d("2026-06-18"), Authority: "minister"}, Change: act}); err != nil {
		t.Fatal(err, fields(err))
	}
	if _, err := w.svc.Terminate(ctx, w.check(w.po), w.po, st2.ID, personnel.TerminationInput{Ground: "contract_ended",
		EffectiveDate: d("2026-06-19"), Authority: "minister", Change: act}); err != nil {
		t.Fatal(err, fields(err))
	}
	el := check(bad, "2026-06-10", "2026-06-20")
	if got := conds(el); got != "staff_record,position,passport,conflict_leave,conflict_posting" {
		t.Fatalf("every failure: %s %+v", got, el)
	}
	// The day before: only on the first day of the posting... before the posting and service end, still on leave.
	if got := conds(check(bad, "2026-06-10", "2026-06-15")); got != "conflict_leave" {
		t.Fatalf("before the posting: %s", got)
	}
}
