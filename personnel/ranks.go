package personnel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"valise/internal/db"
	"valise/policy"
)

// Rank is a diplomatic rank by its ordinal 1-11 (HR-03, Art. 10).
type Rank struct {
	Ordinal      int    `json:"ordinal"`
	Code         string `json:"code"`
	Name         string `json:"name"`
	Kazakh       string `json:"kazakh"`
	MinYears     int    `json:"min_years,omitempty"` // Art. 12(1); 0 = none set
	AssignedBy   string `json:"assigned_by"`         // Art. 11(1)
	OnSubmission bool   `json:"on_minister_submission,omitempty"`
}

// Ranks is the statutory list in order (Art. 10, 11(1), 12(1)).
var Ranks = []Rank{
	{1, "attache", "Attaché", "атташе", 2, "minister", false},
	{2, "third_secretary", "Third Secretary", "үшінші хатшы", 2, "minister", false},
	{3, "second_secretary_2", "Second Secretary, 2nd class", "ІІ сыныпты екінші хатшы", 2, "minister", false},
	{4, "second_secretary_1", "Second Secretary, 1st class", "І сыныпты екінші хатшы", 2, "minister", false},
	{5, "first_secretary_2", "First Secretary, 2nd class", "ІІ сыныпты бірінші хатшы", 3, "minister", false},
	{6, "first_secretary_1", "First Secretary, 1st class", "І сыныпты бірінші хатшы", 3, "minister", false},
	{7, "counsellor_2", "Counsellor, 2nd class", "ІІ сыныпты кеңесші", 3, "minister", false},
	{8, "counsellor_1", "Counsellor, 1st class", "І сыныпты кеңесші", 0, "minister", false},
	{9, "envoy_2", "Envoy Extraordinary and Plenipotentiary, 2nd class", "II сыныпты Төтенше және Өкілетті Уәкіл", 0, "president", true},
	{10, "envoy_1", "Envoy Extraordinary and Plenipotentiary, 1st class", "І сыныпты Төтенше және Өкілетті Уәкіл", 0, "president", true},
	{11, "ambassador", "Ambassador Extraordinary and Plenipotentiary", "Төтенше және Өкілетті Елші", 0, "president", true},
}

func rankOf(n int) Rank { return Ranks[n-1] }

// Service period types (HR-08). The first eight are the Art. 12(2) types
// that count toward time in rank; any other period does not count.
const (
	PeriodMFA                  = "mfa"                        // 12(2)(1) the MFA and organisations subordinate to it
	PeriodForeignInstitution   = "foreign_institution"        // 12(2)(2)
	PeriodRepresentativeOffice = "representative_office"      // 12(2)(3) MFA representative offices in RK
	PeriodUSSRMinistry         = "ussr_foreign_ministry"      // 12(2)(4) foreign ministries of the USSR and union republics
	PeriodInternationalOrg     = "international_organisation" // 12(2)(5)
	PeriodScienceTeaching      = "science_teaching"           // 12(2)(6) MFA higher-education and scientific institutions
	PeriodProfessionalDev      = "professional_development"   // 12(2)(7)
	PeriodStudy                = "study"                      // 12(2)(8) study on referral by the MFA (Art. 17)
	PeriodOther                = "other"                      // anything else: not counted
)

// CountedPeriodTypes are the eight Art. 12(2) types.
var CountedPeriodTypes = []string{PeriodMFA, PeriodForeignInstitution, PeriodRepresentativeOffice, PeriodUSSRMinistry,
	PeriodInternationalOrg, PeriodScienceTeaching, PeriodProfessionalDev, PeriodStudy}

// period is a closed-open day interval [from, to); to zero = open-ended.
type period struct{ from, to Date }

// periodsOf loads the counted service periods of a person ([start, end] inclusive
// in the table; [start, end+1) here).
func periodsOf(ctx context.Context, q db.Querier, staffID string) ([]period, error) {
	return periodsOfTypes(ctx, q, staffID, nil)
}

// periodsOfTypes is periodsOf for the given period types only (nil: every type).
func periodsOfTypes(ctx context.Context, q db.Querier, staffID string, types []string) ([]period, error) {
	rows, err := q.Query(ctx, `SELECT start_date, end_date FROM service_periods WHERE staff_id = $1 AND counted
		AND ($2::text[] IS NULL OR period_type = ANY($2)) ORDER BY start_date`, staffID, types)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (period, error) {
		var p period
		var end Date
		if err := row.Scan(&p.from, &end); err != nil {
			return p, err
		}
		if !end.IsZero() {
			p.to = end.AddDate(0, 0, 1)
		}
		return p, nil
	})
}

func days(a, b Date) int { return int(b.Sub(a.Time).Hours() / 24) }

// countedDays is the number of days in [from, to) covered by a counted period.
func countedDays(ps []period, from, to Date) int {
	type iv struct{ a, b Date }
	var ivs []iv
	for _, p := range ps {
		a, b := p.from, p.to
		if a.Before(from) {
			a = from
		}
		if b.IsZero() || b.After(to) {
			b = to
		}
		if a.Before(b) {
			ivs = append(ivs, iv{a, b})
		}
	}
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].a.Before(ivs[j].a) })
	n := 0
	var end Date
	for _, x := range ivs {
		if !end.IsZero() && x.a.Before(end) {
			x.a = end
		}
		if x.a.Before(x.b) {
			n += days(x.a, x.b)
			end = x.b
		}
	}
	return n
}

// MinimumReached is the first date on which years of counted service since
// since are complete (the counting convention of docs/personnel.md: a term
// of N years started on 1 March 2023 is reached on 1 March 2023+N; days not
// covered by a counted period push it later, day for day). ok is false when
// the counted periods never complete it.
func MinimumReached(ps []period, since Date, years int) (Date, bool) {
	base := since.AddDate(years, 0, 0)
	due := base
	for range 128 {
		gap := days(since, due) - countedDays(ps, since, due)
		next := base.AddDate(0, 0, gap)
		if next.Equal(due) {
			return due, true
		}
		due = next
	}
	return Date{}, false
}

// RankHeld is a person's current rank.
type RankHeld struct {
	Rank  int    `json:"rank"`
	Code  string `json:"code"`
	Name  string `json:"name"`
	Since Date   `json:"since"`
}

// currentRank is the rank of the newest rank row, nil when none (or deprived).
func currentRank(ctx context.Context, q db.Querier, staffID string) (*RankHeld, error) {
	var r *int16
	var since Date
	err := q.QueryRow(ctx, `SELECT rank, effective_date FROM staff_ranks WHERE staff_id = $1 ORDER BY id DESC LIMIT 1`, staffID).Scan(&r, &since)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && r == nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	k := rankOf(int(*r))
	return &RankHeld{Rank: k.Ordinal, Code: k.Code, Name: k.Name, Since: since}, nil
}

// TimeInRank is what the minimum-time rule (Art. 12) says on a date.
type TimeInRank struct {
	Rank         *RankHeld `json:"rank"`
	On           Date      `json:"on"`
	CountedDays  int       `json:"counted_days"`
	MinYears     int       `json:"min_years,omitempty"`
	ReachedOn    Date      `json:"minimum_reached_on"`
	Reached      bool      `json:"minimum_reached"`
	DelayedUntil Date      `json:"rank_delay_until"` // a rank-delay penalty running on the date (HR-36)
	NextRank     int       `json:"next_rank,omitempty"`
	Eligible     bool      `json:"eligible"` // for the next rank without an early assignment
}

func timeInRank(ctx context.Context, q db.Querier, staffID string, on Date) (TimeInRank, error) {
	t := TimeInRank{On: on}
	var err error
	if t.Rank, err = currentRank(ctx, q, staffID); err != nil || t.Rank == nil {
		return t, err
	}
	ps, err := periodsOf(ctx, q, staffID)
	if err != nil {
		return t, err
	}
	if t.Rank.Since.Before(on) {
		t.CountedDays = countedDays(ps, t.Rank.Since, on)
	}
	k := rankOf(t.Rank.Rank)
	t.MinYears = k.MinYears
	if k.MinYears == 0 {
		t.Reached = true
	} else if d, ok := MinimumReached(ps, t.Rank.Since, k.MinYears); ok {
		t.ReachedOn = d
		t.Reached = !on.Before(d)
	}
	if t.DelayedUntil, err = delayRunning(ctx, q, staffID, on); err != nil {
		return t, err
	}
	if k.Ordinal < 11 {
		t.NextRank = k.Ordinal + 1
		t.Eligible = t.Reached && t.DelayedUntil.IsZero()
	}
	return t, nil
}

// delayRunning returns the end of a rank-delay penalty running on date on
// (imposed_on <= on < delay_until), or the zero date.
func delayRunning(ctx context.Context, q db.Querier, staffID string, on Date) (Date, error) {
	var until Date
	err := q.QueryRow(ctx, `SELECT max(delay_until) FROM penalties WHERE staff_id = $1 AND kind = 'rank_delay'
		AND imposed_on <= $2 AND delay_until > $2`, staffID, on).Scan(&until)
	return until, err
}

// TimeInRank returns the time-in-rank view of a person on a date.
func (s *Service) TimeInRank(ctx context.Context, check Check, id string, on Date) (TimeInRank, error) {
	var t TimeInRank
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockStaffRead(ctx, tx, id, check); err != nil {
			return err
		}
		var err error
		t, err = timeInRank(ctx, tx, id, on)
		return err
	})
	return t, err
}

// PeriodInput records a service period.
type PeriodInput struct {
	Type      string `json:"type"`
	StartDate Date   `json:"start_date"`
	EndDate   Date   `json:"end_date"`
	Note      string `json:"note"`
	Change
}

// ServicePeriod is a classified period of service (HR-08).
type ServicePeriod struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Counted   bool   `json:"counted"`
	StartDate Date   `json:"start_date"`
	EndDate   Date   `json:"end_date"`
	Note      string `json:"note"`
}

// AddPeriod records a service period and whether it counts (HR-08).
func (s *Service) AddPeriod(ctx context.Context, check Check, by policy.Subject, id string, in PeriodInput) (ServicePeriod, error) {
	var out ServicePeriod
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		fs := in.fields()
		if !slices.Contains(CountedPeriodTypes, in.Type) && in.Type != PeriodOther {
			fs = append(fs, fe("type", fmt.Sprintf("one of %s (Art. 12(2)), or other (not counted)", strings.Join(CountedPeriodTypes, ", "))))
		}
		if in.StartDate.IsZero() {
			fs = append(fs, fe("start_date", "required"))
		}
		if !in.EndDate.IsZero() && in.EndDate.Before(in.StartDate) {
			fs = append(fs, fe("end_date", "must not be before start_date"))
		}
		if len(fs) > 0 {
			return refusal("the service period is invalid", fs...)
		}
		out = ServicePeriod{Type: in.Type, Counted: in.Type != PeriodOther, StartDate: in.StartDate, EndDate: in.EndDate, Note: in.Note}
		if err := tx.QueryRow(ctx, `INSERT INTO service_periods (staff_id, period_type, counted, start_date, end_date, note)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, id, in.Type, out.Counted, in.StartDate, in.EndDate, in.Note).Scan(&out.ID); err != nil {
			return err
		}
		_, err := record(ctx, tx, id, "service_period_recorded", out, in.Change, "", by)
		return err
	})
	return out, err
}

// RankInput changes a rank (Art. 11, 13).
type RankInput struct {
	Change        string `json:"change"` // assign, lower, deprive, restore
	Rank          int    `json:"rank,omitempty"`
	EffectiveDate Date   `json:"effective_date"`
	Authority     string `json:"authority"` // minister, or president for ranks 9-11 (HR-04)
	// Submission is the Minister's submission a President's act rests on (ranks 9-11).
	Submission *Act `json:"submission,omitempty"`
	// Grounds: significant success or special merit (early, out-of-turn:
	// HR-06, HR-07), or the acts entailing liability (lower, deprive: HR-12).
	Grounds string `json:"grounds,omitempty"`
	// Justification of a rank more than one step from the position's nominal rank (HR-05).
	Justification string `json:"justification,omitempty"`
	ChangeInfo
}

// ChangeInfo is Change under another name, so RankInput can have a field "change".
type ChangeInfo = Change

// RankChange is one entry of the rank history (HR-09).
type RankChange struct {
	ID            int64    `json:"id"`
	Change        string   `json:"change"`
	FromRank      int      `json:"from_rank,omitempty"`
	Rank          int      `json:"rank,omitempty"`
	EffectiveDate Date     `json:"effective_date"`
	Early         bool     `json:"early"`
	OutOfTurn     bool     `json:"out_of_turn"`
	Grounds       string   `json:"grounds,omitempty"`
	Warnings      []string `json:"warnings"`
	Authority     string   `json:"authority"`
	Certificate   string   `json:"certificate,omitempty"`
	Entry         string   `json:"service_record_entry"`
	EventID       string   `json:"event_id"`
}
