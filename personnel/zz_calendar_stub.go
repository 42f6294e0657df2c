package personnel

// TEMPORARY stub of the working-day calendar and personnel alerts that
// branch rot14 provides (personnel/calendar.go, personnel/alerts.go), with
// exactly their API. Deleted when rot14 is merged from main.

import (
	"context"
	"sync"
	"time"

	"valise/internal/db"
)

// Calendar is the working-day calendar (stub: Monday to Friday).
type Calendar struct{}

// LoadCalendar loads the calendar.
func LoadCalendar(ctx context.Context, q db.Querier) (*Calendar, error) { return &Calendar{}, nil }

// IsWorkingDay reports whether d is a working day.
func (c *Calendar) IsWorkingDay(d time.Time) bool {
	return d.Weekday() != time.Saturday && d.Weekday() != time.Sunday
}

// AddWorkingDays returns the n-th working day after d.
func (c *Calendar) AddWorkingDays(d time.Time, n int) time.Time {
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if c.IsWorkingDay(d) {
			n--
		}
	}
	return d
}

// NextWorkingDay returns the first working day after d.
func (c *Calendar) NextWorkingDay(d time.Time) time.Time { return c.AddWorkingDays(d, 1) }

// Alert is one personnel alert.
type Alert struct {
	Kind, Rule, StaffID, StaffName, Subject string
	Due                                     time.Time
	Ref                                     string
}

// AlertSource finds the alerts of one kind as of a date.
type AlertSource func(ctx context.Context, q db.Querier, cal *Calendar, asOf time.Time) ([]Alert, error)

var (
	alertMu      sync.Mutex
	alertSources = map[string]AlertSource{}
)

// RegisterAlertSource adds a source of personnel alerts.
func RegisterAlertSource(name string, src AlertSource) {
	alertMu.Lock()
	defer alertMu.Unlock()
	alertSources[name] = src
}
