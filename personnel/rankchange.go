package personnel

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"valise/internal/db"
	"valise/policy"
)

// Rank changes.
const (
	RankAssign  = "assign"
	RankLower   = "lower"
	RankDeprive = "deprive"
	RankRestore = "restore"
)

// rankAuthority is who assigns (and so lowers, deprives and restores) rank
// n: the President on the Minister's submission for 9-11, else the Minister
// (HR-04, Art. 11(1), 13(2) part 3).
func rankAuthority(n int) string { return rankOf(n).AssignedBy }

// ChangeRank assigns, lowers, deprives or restores a rank (HR-02 … HR-12).
func (s *Service) ChangeRank(ctx context.Context, check Check, by policy.Subject, id string, in RankInput) (RankChange, error) {
	var out RankChange
	err := s.write(ctx, id, check, func(tx pgx.Tx, r resource) error {
		var err error
		out, err = changeRank(ctx, tx, by, id, in, "rank_changed")
		return err
	})
	return out, err
}

// changeRank applies in within tx (also called by penalties and terminations).
func changeRank(ctx context.Context, tx pgx.Tx, by policy.Subject, id string, in RankInput, eventKind string) (RankChange, error) {
	out := RankChange{Change: in.Change, EffectiveDate: in.EffectiveDate, Authority: in.Authority, Grounds: in.Grounds, Warnings: []string{}}
	fs := in.fields()
	if in.EffectiveDate.IsZero() {
		fs = append(fs, fe("effective_date", "required"))
	}
	if !slices.Contains([]string{RankAssign, RankLower, RankDeprive, RankRestore}, in.Change) {
		fs = append(fs, fe("change", "one of assign, lower, deprive, restore"))
	}
	if in.Change != RankDeprive && in.Change != RankRestore && (in.Rank < 1 || in.Rank > 11) {
		fs = append(fs, fe("rank", "HR-03: a rank ordinal 1-11 (Art. 10)"))
	}
	if len(fs) > 0 {
		return out, refusal("the rank change is invalid", fs...)
	}
	cur, err := currentRank(ctx, tx, id)
	if err != nil {
		return out, err
	}
	var staffKind string
	var terminated Date
	if err := tx.QueryRow(ctx, `SELECT staff_kind, terminated_on FROM staff WHERE id = $1`, id).Scan(&staffKind, &terminated); err != nil {
		return out, err
	}
	from := 0
	if cur != nil {
		from = cur.Rank
	}
	out.FromRank = from
	to := in.Rank
	switch in.Change {
	case RankAssign:
		// HR-02 and erratum 2: only assignment is limited to serving diplomatic officers.
		if !terminated.IsZero() && !in.EffectiveDate.Before(terminated) {
			return out, conflict("HR-02", "a rank is assigned only to serving diplomatic officers; this person's service ended on %s", terminated)
		}
		if staffKind != KindDiplomatic {
			return out, conflict("HR-02", "a rank is assigned only to diplomatic officers (Art. 10); this person holds an administrative-technical position")
		}
		if to <= from {
			return out, refusal("the rank change is invalid", fe("rank", fmt.Sprintf("an assignment raises the rank above the current %d; use lower to lower it", from)))
		}
		if until, err := delayRunning(ctx, tx, id, in.EffectiveDate); err != nil {
			return out, err
		} else if !until.IsZero() {
			return out, conflict("HR-36", "a rank-delay penalty runs until %s: no rank may be assigned before then (Art. 22(2)(4))", until)
		}
		if cur != nil {
			if to > from+1 { // HR-07
				out.OutOfTurn = true
			}
			if k := rankOf(from); k.MinYears > 0 { // HR-06
				ps, err := periodsOf(ctx, tx, id)
				if err != nil {
					return out, err
				}
				due, ok := MinimumReached(ps, cur.Since, k.MinYears)
				if !ok || in.EffectiveDate.Before(due) {
					out.Early = true
				}
			}
			if (out.Early || out.OutOfTurn) && strings.TrimSpace(in.Grounds) == "" {
				var rules []string
				if out.Early {
					rules = append(rules, fmt.Sprintf("HR-06: before the minimum %d years in rank (Art. 12(1))", rankOf(from).MinYears))
				}
				if out.OutOfTurn {
					rules = append(rules, fmt.Sprintf("HR-07: skips from rank %d to %d (Art. 13(1))", from, to))
				}
				return out, refusal("an early or out-of-turn assignment needs its grounds (significant success or special merit, Art. 13(1))",
					fe("grounds", strings.Join(rules, "; ")))
			}
		}
	case RankLower:
		if cur == nil {
			return out, conflict("HR-10", "the person holds no rank to lower")
		}
		if to >= from {
			return out, refusal("the rank change is invalid", fe("rank", fmt.Sprintf("lowering goes below the current rank %d", from)))
		}
	case RankDeprive:
		if cur == nil {
			return out, conflict("HR-10", "the person holds no rank to deprive")
		}
		to = 0
	case RankRestore:
		var last string
		var lastFrom *int16
		err := tx.QueryRow(ctx, `SELECT change, from_rank FROM staff_ranks WHERE staff_id = $1 ORDER BY id DESC LIMIT 1`, id).Scan(&last, &lastFrom)
		if err != nil && err != pgx.ErrNoRows {
			return out, err
		}
		if (last != RankLower && last != RankDeprive) || lastFrom == nil {
			return out, conflict("HR-10", "only a lowered or deprived rank is restored (Art. 13(2))")
		}
		to = int(*lastFrom)
		if in.Rank != 0 && in.Rank != to {
			return out, refusal("the rank change is invalid", fe("rank", fmt.Sprintf("restoration returns the rank held before, %d", to)))
		}
	}
	if in.Change == RankLower || in.Change == RankDeprive {
		if strings.TrimSpace(in.Grounds) == "" { // HR-12
			return out, refusal("the rank change is invalid", fe("grounds", "HR-12: name the acts entailing liability under RK or host-country law (Art. 13(2))"))
		}
	}
	// HR-04: the authority of the highest rank concerned.
	hi := max(from, to)
	want := rankAuthority(hi)
	if in.Authority != want {
		return out, refusal("the rank change is invalid", fe("authority", fmt.Sprintf("HR-04: rank %d (%s) is %s by the %s (Art. 11(1), 13(2))", hi, rankOf(hi).Name, verb(in.Change), describeAuthority(want))))
	}
	if want == "president" && (in.Submission == nil || in.Submission.Number == "" || in.Submission.Date.IsZero()) {
		return out, refusal("the rank change is invalid", fe("submission", "HR-04: a President's act on ranks 9-11 rests on the Minister's submission: give its number and date"))
	}
	// HR-05: rank vs the position's nominal rank.
	if to > 0 && (in.Change == RankAssign || in.Change == RankRestore) {
		var nominal int
		_ = tx.QueryRow(ctx, `SELECT coalesce(nominal_rank, 0) FROM staff_positions WHERE staff_id = $1 ORDER BY (end_date IS NULL) DESC, start_date DESC LIMIT 1`, id).Scan(&nominal)
		if nominal > 0 && (to-nominal > 1 || nominal-to > 1) {
			w := fmt.Sprintf("HR-05: rank %d is more than one step from the position's nominal rank %d (Art. 11(2))", to, nominal)
			if strings.TrimSpace(in.Justification) == "" {
				return out, refusal("the rank does not correspond to the position", fe("justification", w+": justify it"))
			}
			out.Warnings = append(out.Warnings, w+"; justified: "+in.Justification)
		}
	}
	out.Rank = to
	if in.Change == RankAssign || in.Change == RankRestore { // HR-09: a certificate for every assignment
		var n int64
		if err := tx.QueryRow(ctx, `SELECT nextval('rank_certificate_seq')`).Scan(&n); err != nil {
			return out, err
		}
		out.Certificate = fmt.Sprintf("RC-%d-%06d", in.EffectiveDate.Year(), n)
	}
	out.Entry = serviceRecordEntry(out, in)
	evID, err := record(ctx, tx, id, eventKind, out, in.ChangeInfo, "", by)
	if err != nil {
		return out, err
	}
	out.EventID = evID
	warn, _ := json.Marshal(out.Warnings)
	err = tx.QueryRow(ctx, `INSERT INTO staff_ranks (staff_id, change, from_rank, rank, effective_date, early, out_of_turn,
		grounds, warnings, authority, certificate, event_id)
		VALUES ($1, $2, nullif($3, 0), nullif($4, 0), $5, $6, $7, $8, $9, $10, nullif($11, ''), $12) RETURNING id`,
		id, in.Change, from, to, in.EffectiveDate, out.Early, out.OutOfTurn, in.Grounds, warn, in.Authority, out.Certificate, evID).Scan(&out.ID)
	return out, err
}

func verb(change string) string {
	switch change {
	case RankLower:
		return "lowered"
	case RankDeprive:
		return "deprived"
	case RankRestore:
		return "restored"
	}
	return "assigned"
}

func describeAuthority(a string) string {
	if a == "president" {
		return "President on the Minister's submission"
	}
	return "Minister"
}

// serviceRecordEntry is the line the service record (employment record book) gets (HR-09).
func serviceRecordEntry(c RankChange, in RankInput) string {
	act := fmt.Sprintf("act No. %s of %s", in.Act.Number, in.Act.Date)
	switch c.Change {
	case RankAssign:
		kind := ""
		if c.Early {
			kind += " early"
		}
		if c.OutOfTurn {
			kind += " out of turn"
		}
		return fmt.Sprintf("%s: assigned%s the diplomatic rank of %s (%s); certificate %s", c.EffectiveDate, kind, rankOf(c.Rank).Name, act, c.Certificate)
	case RankLower:
		return fmt.Sprintf("%s: diplomatic rank lowered from %s to %s (%s)", c.EffectiveDate, rankOf(c.FromRank).Name, rankOf(c.Rank).Name, act)
	case RankDeprive:
		return fmt.Sprintf("%s: deprived of the diplomatic rank of %s (%s)", c.EffectiveDate, rankOf(c.FromRank).Name, act)
	default:
		return fmt.Sprintf("%s: diplomatic rank of %s restored (%s); certificate %s", c.EffectiveDate, rankOf(c.Rank).Name, act, c.Certificate)
	}
}

// ServiceRecord is the printable service record: every rank entry in order.
type ServiceRecord struct {
	Staff   StaffSummary `json:"staff"`
	Entries []RankChange `json:"entries"`
}

// ServiceRecord returns a person's rank entries (HR-09).
func (s *Service) ServiceRecord(ctx context.Context, check Check, id string) (ServiceRecord, error) {
	var out ServiceRecord
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockStaffRead(ctx, tx, id, check); err != nil {
			return err
		}
		st, err := loadStaff(ctx, tx, id, Today(s.now()))
		if err != nil {
			return err
		}
		out.Staff = StaffSummary{ID: st.ID, PersonnelNumber: st.PersonnelNumber, FullName: st.FullName, StaffKind: st.StaffKind,
			Unit: st.Unit, Terminated: st.Status == "terminated"}
		if st.Rank != nil {
			out.Staff.Rank = st.Rank.Rank
		}
		rows, err := tx.Query(ctx, `SELECT r.id, r.change, coalesce(r.from_rank, 0), coalesce(r.rank, 0), r.effective_date, r.early,
			r.out_of_turn, r.grounds, r.warnings, r.authority, coalesce(r.certificate, ''), r.event_id, e.data->>'service_record_entry'
			FROM staff_ranks r JOIN staff_events e ON e.id = r.event_id WHERE r.staff_id = $1 ORDER BY r.id`, id)
		if err != nil {
			return err
		}
		out.Entries, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (RankChange, error) {
			var c RankChange
			var w []byte
			err := row.Scan(&c.ID, &c.Change, &c.FromRank, &c.Rank, &c.EffectiveDate, &c.Early, &c.OutOfTurn, &c.Grounds, &w,
				&c.Authority, &c.Certificate, &c.EventID, &c.Entry)
			_ = json.Unmarshal(w, &c.Warnings)
			return c, err
		})
		return err
	})
	return out, err
}

// Eligible is one person eligible for their next rank on a date.
type Eligible struct {
	ID              string `json:"id"`
	PersonnelNumber string `json:"personnel_number"`
	FullName        string `json:"full_name"`
	Unit            string `json:"unit"`
	Rank            int    `json:"rank"`
	NextRank        int    `json:"next_rank"`
	Since           Date   `json:"since"`
	ReachedOn       Date   `json:"minimum_reached_on"` // zero when the rank has no minimum
}

// EligibleOn lists the serving diplomatic officers in scope whose minimum
// time in rank is complete on date on, with no rank delay running.
func (s *Service) EligibleOn(ctx context.Context, sc policy.Scope, by policy.Subject, on Date) ([]Eligible, error) {
	where, args := ScopeWhere(sc, by.UserID, 2)
	out := []Eligible{}
	err := db.InTxOpts(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			WITH cur AS (
				SELECT DISTINCT ON (staff_id) staff_id, rank, effective_date FROM staff_ranks ORDER BY staff_id, id DESC),
			per AS (
				SELECT staff_id, array_agg(start_date ORDER BY start_date) AS starts,
				       array_agg(coalesce(end_date, '9999-12-31') ORDER BY start_date) AS ends
				FROM service_periods WHERE counted GROUP BY staff_id),
			delayed AS (
				SELECT DISTINCT staff_id FROM penalties WHERE kind = 'rank_delay' AND imposed_on <= $1 AND delay_until > $1)
			SELECT s.id, s.personnel_number, s.full_name, u.code, c.rank, c.effective_date,
			       coalesce(per.starts, '{}'), coalesce(per.ends, '{}')
			FROM staff s JOIN cur c ON c.staff_id = s.id JOIN units u ON u.id = s.unit_id
			LEFT JOIN per ON per.staff_id = s.id LEFT JOIN delayed x ON x.staff_id = s.id
			WHERE c.rank IS NOT NULL AND c.rank < 11 AND s.staff_kind = 'diplomatic' AND x.staff_id IS NULL
			  AND (s.terminated_on IS NULL OR s.terminated_on > $1) AND c.effective_date <= $1
			  AND `+where+`
			ORDER BY s.personnel_number`, append([]any{on}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e Eligible
			var starts []time.Time
			var ends []time.Time
			if err := rows.Scan(&e.ID, &e.PersonnelNumber, &e.FullName, &e.Unit, &e.Rank, &e.Since, &starts, &ends); err != nil {
				return err
			}
			e.NextRank = e.Rank + 1
			if k := rankOf(e.Rank); k.MinYears > 0 {
				ps := make([]period, len(starts))
				for i := range starts {
					ps[i].from = Date{starts[i]}
					if ends[i].Year() < 9999 {
						ps[i].to = Date{ends[i]}.AddDate(0, 0, 1)
					}
				}
				due, ok := MinimumReached(ps, e.Since, k.MinYears)
				if !ok || on.Before(due) {
					continue
				}
				e.ReachedOn = due
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}
