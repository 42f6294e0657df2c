package personnel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/internal/db"
	"valise/policy"
)

// The working-day calendar. The Rules count many deadlines in working days
// without defining them (rotation-digest §2: "use the RK production
// calendar"): a working day is Monday to Friday, less the public holidays
// and other days off kept in public_holidays, plus the weekend days a
// transfer declares working. Personnel officers of every unit maintain the
// table through the API (PUT /personnel/calendar/{day}); every change is a
// row of public_holiday_changes.

// Calendar day kinds (public_holidays.kind; "regular" removes an override).
const (
	DayHoliday = "holiday"     // a weekday that is not worked
	DayWorking = "working_day" // a weekend day worked by a transfer
	DayRegular = "regular"     // what the weekday makes it
)

// Calendar answers which days are working days. It is a snapshot: load it
// once per request or scan (LoadCalendar) and pass it along.
type Calendar struct {
	days map[int]string // yyyymmdd -> DayHoliday or DayWorking
}

func dayKey(d time.Time) int {
	y, m, dd := d.Date()
	return y*10000 + int(m)*100 + dd
}

func midnight(d time.Time) time.Time {
	y, m, dd := d.Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
}

// LoadCalendar reads the public holidays and transferred working days.
func LoadCalendar(ctx context.Context, q db.Querier) (*Calendar, error) {
	rows, err := q.Query(ctx, `SELECT day, kind FROM public_holidays`)
	if err != nil {
		return nil, fmt.Errorf("load calendar: %w", err)
	}
	c := &Calendar{days: map[int]string{}}
	var day time.Time
	var kind string
	_, err = pgx.ForEachRow(rows, []any{&day, &kind}, func() error {
		c.days[dayKey(day)] = kind
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load calendar: %w", err)
	}
	return c, nil
}

// NewCalendar builds a calendar from explicit days (tests, generators).
func NewCalendar(days map[Date]string) *Calendar {
	c := &Calendar{days: map[int]string{}}
	for d, k := range days {
		c.days[dayKey(d.Time)] = k
	}
	return c
}

// IsWorkingDay reports whether d (its calendar date) is a working day.
func (c *Calendar) IsWorkingDay(d time.Time) bool {
	switch c.days[dayKey(d)] {
	case DayHoliday:
		return false
	case DayWorking:
		return true
	}
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// AddWorkingDays returns the n-th working day after d ("within n working
// days of d" ends on it); a negative n counts back before d; n = 0 is d.
// The result is a date (midnight UTC).
func (c *Calendar) AddWorkingDays(d time.Time, n int) time.Time {
	d = midnight(d)
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	for n > 0 {
		d = d.AddDate(0, 0, step)
		if c.IsWorkingDay(d) {
			n--
		}
	}
	return d
}

// NextWorkingDay is d itself when it is a working day, else the next
// working day: a deadline falling on a day off moves there.
func (c *Calendar) NextWorkingDay(d time.Time) time.Time {
	d = midnight(d)
	for !c.IsWorkingDay(d) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// CalendarDay is one override of the calendar.
type CalendarDay struct {
	Day       Date      `json:"day"`
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CalendarChange is one entry of a day's history.
type CalendarChange struct {
	Kind       string    `json:"kind"`
	Name       string    `json:"name"`
	Reason     string    `json:"reason"`
	Act        Act       `json:"act"`
	RecordedBy string    `json:"recorded_by"`
	RecordedAt time.Time `json:"recorded_at"`
}

// CalendarDayInput sets a day: holiday, working_day, or regular (removes
// the override), with why and on which act (a decree on days off).
type CalendarDayInput struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Change
}

// calendarResource: the calendar is ministry-wide reference data (read by
// personnel officers, changed by an officer of every unit).
var calendarResource = policy.Resource{Kind: resReference, ID: "calendar"}

// CalendarDays lists the overrides of a year, by day.
func (s *Service) CalendarDays(ctx context.Context, check Check, year int) ([]CalendarDay, error) {
	if year < 1900 || year > 2200 {
		return nil, valise.Invalid("bad query parameter", fe("year", "a year between 1900 and 2200"))
	}
	if err := check(ctx, actRefRead, calendarResource); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT day, kind, name, updated_by, updated_at FROM public_holidays
		WHERE day >= make_date($1, 1, 1) AND day < make_date($1 + 1, 1, 1) ORDER BY day`, year)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (CalendarDay, error) {
		var d CalendarDay
		err := row.Scan(&d.Day, &d.Kind, &d.Name, &d.UpdatedBy, &d.UpdatedAt)
		return d, err
	})
}

// CalendarDayHistory is a day as it stands (kind regular when no override)
// with every change to it, oldest first.
type CalendarDayHistory struct {
	Day     Date             `json:"day"`
	Kind    string           `json:"kind"`
	Name    string           `json:"name"`
	Working bool             `json:"working"`
	Changes []CalendarChange `json:"changes"`
}

// GetCalendarDay returns a day with its history.
func (s *Service) GetCalendarDay(ctx context.Context, check Check, day string) (CalendarDayHistory, error) {
	var h CalendarDayHistory
	d, err := ParseDate(day)
	if err != nil {
		return h, valise.Errorf(valise.ENOTFOUND, "not found")
	}
	if err := check(ctx, actRefRead, calendarResource); err != nil {
		return h, err
	}
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		h, err = calendarDay(ctx, tx, d)
		return err
	})
	return h, err
}

func calendarDay(ctx context.Context, q db.Querier, d Date) (CalendarDayHistory, error) {
	h := CalendarDayHistory{Day: d, Kind: DayRegular, Changes: []CalendarChange{}}
	err := q.QueryRow(ctx, `SELECT kind, name FROM public_holidays WHERE day = $1`, d).Scan(&h.Kind, &h.Name)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return h, err
	}
	cal := NewCalendar(map[Date]string{})
	if h.Kind != DayRegular {
		cal.days[dayKey(d.Time)] = h.Kind
	}
	h.Working = cal.IsWorkingDay(d.Time)
	rows, err := q.Query(ctx, `SELECT kind, name, reason, act_number, act_date, recorded_by, recorded_at
		FROM public_holiday_changes WHERE day = $1 ORDER BY id`, d)
	if err != nil {
		return h, err
	}
	h.Changes, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (CalendarChange, error) {
		var c CalendarChange
		err := row.Scan(&c.Kind, &c.Name, &c.Reason, &c.Act.Number, &c.Act.Date, &c.RecordedBy, &c.RecordedAt)
		return c, err
	})
	return h, err
}

// SetCalendarDay records a day as a holiday, a transferred working day, or
// regular again; the change and its reason are one transaction.
func (s *Service) SetCalendarDay(ctx context.Context, check Check, by policy.Subject, day string, in CalendarDayInput) (CalendarDayHistory, error) {
	var h CalendarDayHistory
	d, err := ParseDate(day)
	if err != nil {
		return h, valise.Errorf(valise.ENOTFOUND, "not found")
	}
	fs := in.Change.fields()
	if len(in.Reason) > 1000 {
		fs = append(fs, fe("reason", "at most 1000 characters"))
	}
	switch in.Kind {
	case DayHoliday, DayWorking:
		if strings.TrimSpace(in.Name) == "" || len(in.Name) > 200 {
			fs = append(fs, fe("name", "name the holiday or the transfer (1-200 characters)"))
		}
	case DayRegular:
	default:
		fs = append(fs, fe("kind", "holiday, working_day or regular"))
	}
	if in.Kind == DayHoliday && (d.Weekday() == time.Saturday || d.Weekday() == time.Sunday) {
		fs = append(fs, fe("kind", "a Saturday or Sunday is not worked anyway; record the weekday the day off moves to"))
	}
	if in.Kind == DayWorking && d.Weekday() != time.Saturday && d.Weekday() != time.Sunday {
		fs = append(fs, fe("kind", "a weekday is a working day anyway; working_day is for a weekend day worked by a transfer"))
	}
	if len(fs) > 0 {
		return h, refusal("the calendar day is not valid", fs...)
	}
	if err := check(ctx, actRefManage, calendarResource); err != nil {
		return h, err
	}
	err = db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if in.Kind == DayRegular {
			_, err = tx.Exec(ctx, `DELETE FROM public_holidays WHERE day = $1`, d)
		} else {
			_, err = tx.Exec(ctx, `INSERT INTO public_holidays (day, kind, name, updated_by) VALUES ($1, $2, $3, $4)
				ON CONFLICT (day) DO UPDATE SET kind = $2, name = $3, updated_by = $4, updated_at = clock_timestamp()`,
				d, in.Kind, in.Name, by.Username)
		}
		if err != nil {
			return err
		}
		name := in.Name
		if in.Kind == DayRegular {
			name = ""
		}
		if _, err = tx.Exec(ctx, `INSERT INTO public_holiday_changes (day, kind, name, reason, act_number, act_date, recorded_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, d, in.Kind, name, in.Reason, in.Act.Number, in.Act.Date, by.Username); err != nil {
			return err
		}
		h, err = calendarDay(ctx, tx, d)
		return err
	})
	return h, err
}
