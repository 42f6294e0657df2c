package personnel_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"valise"
	"valise/internal/db"
	"valise/personnel"
)

func day(s string) time.Time { return d(s).Time }

func TestCalendarWorkingDays(t *testing.T) {
	cal := personnel.NewCalendar(map[personnel.Date]string{
		d("2026-03-23"): personnel.DayHoliday, // Monday: Nauryz
		d("2026-03-28"): personnel.DayWorking, // Saturday worked by a transfer
	})
	for _, c := range []struct {
		day  string
		want bool
	}{{"2026-03-20", true}, {"2026-03-21", false}, {"2026-03-22", false}, {"2026-03-23", false}, {"2026-03-24", true}, {"2026-03-28", true}, {"2026-03-29", false}} {
		if got := cal.IsWorkingDay(day(c.day)); got != c.want {
			t.Errorf("IsWorkingDay(%s) = %v, want %v", c.day, got, c.want)
		}
	}
	// 10 working days from Friday 2026-03-13: 16-20 (5), 24-27 (4, the 23rd is off), 28 (Saturday worked) = 10.
	if got := cal.AddWorkingDays(day("2026-03-13"), 10); !got.Equal(day("2026-03-28")) {
		t.Errorf("AddWorkingDays(+10) = %s", got.Format(time.DateOnly))
	}
	if got := cal.AddWorkingDays(day("2026-03-24"), -1); !got.Equal(day("2026-03-20")) {
		t.Errorf("AddWorkingDays(-1) = %s", got.Format(time.DateOnly))
	}
	if got := cal.AddWorkingDays(day("2026-03-22"), 0); !got.Equal(day("2026-03-22")) {
		t.Errorf("AddWorkingDays(0) = %s", got.Format(time.DateOnly))
	}
	// A deadline on a holiday moves to the next working day; a working day stays.
	if got := cal.NextWorkingDay(day("2026-03-21")); !got.Equal(day("2026-03-24")) {
		t.Errorf("NextWorkingDay(Saturday before the holiday) = %s", got.Format(time.DateOnly))
	}
	if got := cal.NextWorkingDay(day("2026-03-24").Add(15 * time.Hour)); !got.Equal(day("2026-03-24")) {
		t.Errorf("NextWorkingDay(a working day) = %s", got.Format(time.DateOnly))
	}
}

func TestCalendarMaintainedByOfficers(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	in := personnel.CalendarDayInput{Kind: personnel.DayHoliday, Name: "Nauryz", Change: act}
	h, err := w.svc.SetCalendarDay(ctx, w.check(w.po), w.po, "2026-03-23", in)
	if err != nil || h.Working || h.Kind != personnel.DayHoliday || len(h.Changes) != 1 || h.Changes[0].Act.Number != "Order 1" {
		t.Fatalf("set holiday: %+v %v", h, err)
	}
	cal, err := personnel.LoadCalendar(ctx, w.db.Pool)
	if err != nil || cal.IsWorkingDay(day("2026-03-23")) {
		t.Fatalf("the loaded calendar does not know the holiday: %v", err)
	}
	// Refusals change nothing and name the field.
	before := w.snapshot()
	for _, c := range []struct {
		day  string
		in   personnel.CalendarDayInput
		want string
	}{
		{"2026-03-21", personnel.CalendarDayInput{Kind: personnel.DayHoliday, Name: "x", Change: act}, "Saturday"},
		{"2026-03-24", personnel.CalendarDayInput{Kind: personnel.DayWorking, Name: "x", Change: act}, "weekday"},
		{"2026-03-24", personnel.CalendarDayInput{Kind: "feast", Name: "x", Change: act}, "kind"},
		{"2026-03-24", personnel.CalendarDayInput{Kind: personnel.DayHoliday, Change: act}, "name"},
		{"2026-03-24", personnel.CalendarDayInput{Kind: personnel.DayHoliday, Name: "x"}, "act.number"},
	} {
		_, err := w.svc.SetCalendarDay(ctx, w.check(w.po), w.po, c.day, c.in)
		refused(t, err, valise.EINVALID, c.want)
	}
	// An officer of one unit reads the calendar but does not change it.
	one := w.user("po.ber", "DE-BER", []string{"personnel_officer"}, []string{"DE-BER"})
	if _, err := w.svc.SetCalendarDay(ctx, w.check(one), one, "2026-03-24", in); valise.ErrorCode(err) != valise.EFORBIDDEN {
		t.Fatalf("an officer of one unit changed the calendar: %v", err)
	}
	if days, err := w.svc.CalendarDays(ctx, w.check(one), 2026); err != nil || len(days) != 1 {
		t.Fatalf("calendar list: %+v %v", days, err)
	}
	w.unchanged(before)
	// Back to regular: the override goes, the history keeps both changes.
	h, err = w.svc.SetCalendarDay(ctx, w.check(w.po), w.po, "2026-03-23", personnel.CalendarDayInput{Kind: personnel.DayRegular, Change: act})
	if err != nil || !h.Working || h.Kind != personnel.DayRegular || len(h.Changes) != 2 {
		t.Fatalf("back to regular: %+v %v", h, err)
	}
}

// A test source: one alert per staff record named "Alert ...", due 10
// working days after its admission, and one ministry-wide alert while any
// such record exists.
func init() {
	personnel.RegisterAlertSource("test_source", func(ctx context.Context, q db.Querier, cal *personnel.Calendar, asOf time.Time) ([]personnel.Alert, error) {
		rows, err := q.Query(ctx, `SELECT id::text, full_name, admitted_on FROM staff WHERE full_name LIKE 'Alert %'`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []personnel.Alert
		for rows.Next() {
			var a personnel.Alert
			var adm time.Time
			if err := rows.Scan(&a.StaffID, &a.StaffName, &adm); err != nil {
				return nil, err
			}
			a.Kind, a.Rule, a.Subject, a.Due = "test_due", "T-1", "test deadline", cal.AddWorkingDays(adm, 10)
			out = append(out, a)
		}
		if len(out) > 0 {
			out = append(out, personnel.Alert{Kind: "test_plan", Rule: "T-2", Subject: "ministry-wide", Due: asOf})
		}
		return out, rows.Err()
	})
}

func TestAlertsFilteredByPolicy(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mfa := w.candidate("attache", "MFA", "2026-03-13")
	mfa.FullName = "Alert MFA"
	ber := w.candidate("attache", "DE-BER", "2026-03-13")
	ber.FullName = "Alert Berlin"
	a, b := w.admit(mfa), w.admit(ber)
	if _, err := w.svc.SetCalendarDay(ctx, w.check(w.po), w.po, "2026-03-23", personnel.CalendarDayInput{Kind: personnel.DayHoliday, Name: "Nauryz", Change: act}); err != nil {
		t.Fatal(err)
	}
	all, err := w.svc.Alerts(ctx, w.po, w.check(w.po), day("2026-03-20"))
	if err != nil || len(all) != 3 {
		t.Fatalf("officer of every unit: %+v %v", all, err)
	}
	for _, x := range all {
		if x.Kind == "test_due" && !x.Due.Equal(day("2026-03-30")) { // the holiday on the 23rd counts out
			t.Errorf("due %s, want 2026-03-30", x.Due.Format(time.DateOnly))
		}
	}
	one := w.user("po.ber", "DE-BER", []string{"personnel_officer"}, []string{"DE-BER"})
	got, err := w.svc.Alerts(ctx, one, w.check(one), day("2026-03-20"))
	if err != nil || len(got) != 2 || got[0].StaffID != b.ID && got[1].StaffID != b.ID {
		t.Fatalf("officer of Berlin: %+v %v", got, err)
	}
	for _, x := range got {
		if x.StaffID == a.ID {
			t.Fatalf("the Berlin officer sees a ministry record's alert")
		}
	}
	clerk := w.user("clerk", "MFA", []string{"registry_clerk"}, nil)
	if got, err := w.svc.Alerts(ctx, clerk, w.check(clerk), day("2026-03-20")); err != nil || len(got) != 0 {
		t.Fatalf("a clerk sees personnel alerts: %+v %v", got, err)
	}
	b2, _ := all[0].MarshalJSON()
	if !strings.Contains(string(b2), `"due":"`) {
		t.Fatalf("alert JSON: %s", b2)
	}
}
