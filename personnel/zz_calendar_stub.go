package personnel

// TEMPORARY stub of the shared calendar and alerts API (branch rot14 owns
// personnel/calendar.go and personnel/alerts.go); deleted on merging main.

import (
	"context"
	"time"

	"valise/internal/db"
)

type Calendar struct{ holidays map[string]bool }

func LoadCalendar(ctx context.Context, q db.Querier) (*Calendar, error) {
	return &Calendar{holidays: map[string]bool{}}, nil
}

func (c *Calendar) IsWorkingDay(d time.Time) bool {
	if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		return false
	}
	return !c.holidays[d.Format(time.DateOnly)]
}

func (c *Calendar) AddWorkingDays(d time.Time, n int) time.Time {
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if c.IsWorkingDay(d) {
			n--
		}
	}
	return d
}

func (c *Calendar) NextWorkingDay(d time.Time) time.Time {
	for !c.IsWorkingDay(d) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

type Alert struct {
	Kind, Rule, StaffID, StaffName, Subject string
	Due                                     time.Time
	Ref                                     string
}

type AlertSource func(ctx context.Context, q db.Querier, cal *Calendar, asOf time.Time) ([]Alert, error)

var stubSources = map[string]AlertSource{}

func RegisterAlertSource(name string, src AlertSource) { stubSources[name] = src }
