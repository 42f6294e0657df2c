package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"valise/personnel"
	"valise/policy"
)

// demoHolidays are the fixed-date public holidays of the Republic of
// Kazakhstan (Labour Code; the movable Kurban Ait is left to the officers).
// A holiday on a Saturday or Sunday moves its day off to the next working
// day, as the Labour Code provides.
var demoHolidays = []struct {
	month time.Month
	day   int
	name  string
}{
	{time.January, 1, "New Year"}, {time.January, 2, "New Year"}, {time.January, 7, "Orthodox Christmas"},
	{time.March, 8, "International Women's Day"}, {time.March, 21, "Nauryz"}, {time.March, 22, "Nauryz"},
	{time.March, 23, "Nauryz"}, {time.May, 1, "Unity Day"}, {time.May, 7, "Defender of the Fatherland Day"},
	{time.May, 9, "Victory Day"}, {time.July, 6, "Capital Day"}, {time.August, 30, "Constitution Day"},
	{time.October, 25, "Republic Day"}, {time.December, 16, "Independence Day"},
}

// loadCalendar records this year's and next year's public holidays (days
// off), through the service so each has its change row.
func loadCalendar(ctx context.Context, pool *pgxpool.Pool) error {
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM public_holidays`).Scan(&n); err != nil || n > 0 {
		return err
	}
	svc := personnel.New(pool)
	by := policy.Subject{Username: "demo"}
	trust := func(context.Context, string, policy.Resource) error { return nil }
	year := time.Now().UTC().Year()
	for _, y := range []int{year, year + 1} {
		taken := map[string]bool{}
		for _, h := range demoHolidays {
			d := time.Date(y, h.month, h.day, 0, 0, 0, 0, time.UTC)
			name := h.name
			for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday || taken[d.Format(time.DateOnly)] {
				if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
					name = h.name + " (day off moved from " + time.Date(y, h.month, h.day, 0, 0, 0, 0, time.UTC).Format("2 January") + ")"
				}
				d = d.AddDate(0, 0, 1)
			}
			taken[d.Format(time.DateOnly)] = true
			in := personnel.CalendarDayInput{Kind: personnel.DayHoliday, Name: name, Change: personnel.Change{
				Reason: "public holiday (Labour Code, Law on holidays)",
				Act:    personnel.Act{Number: fmt.Sprintf("Demo calendar %d", y), Date: personnel.D(y-1, time.December, 1)}}}
			if _, err := svc.SetCalendarDay(ctx, trust, by, d.Format(time.DateOnly), in); err != nil {
				return fmt.Errorf("holiday %s: %w", d.Format(time.DateOnly), err)
			}
		}
	}
	return nil
}

// loadPersonnelRotation: the working-day calendar, then the rotation demo.
func loadPersonnelRotation(ctx context.Context, pool *pgxpool.Pool, _ Options) error {
	return loadCalendar(ctx, pool)
}
