package personnel

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"valise/internal/db"
)

// Alert kinds of secondment (issue 14): every deadline of a running file.
const (
	AlertSecondmentEnding  = "secondment_ending"            // the term (with extensions) ends
	AlertSecondmentStep    = "secondment_step_due"          // a step of the workflow is due (R1 §13-§17, §19, §20; R2 §14-§18, §22; R3 ...)
	AlertSecondmentReport  = "secondment_report_due"        // R2 §12: KPIs or a performance report due
	AlertSecondmentDocs    = "secondment_documents_missing" // R1 §17: the order copy and personal file not yet sent
	AlertSecondmentReplace = "secondment_replacement_due"   // R1 §14, R2 §15: another candidate due after a refusal
)

func init() {
	RegisterAlertSource("secondment", SecondmentAlerts)
	alertRefFacts["secondment"] = func(ctx context.Context, q db.Querier, ids []string) (map[string]resource, error) {
		rows, err := q.Query(ctx, `SELECT s.id::text, u.code, coalesce(st.user_id::text, '') FROM secondments s
			JOIN units u ON u.id = s.unit_id LEFT JOIN staff st ON st.id = s.staff_id WHERE s.id = ANY($1::uuid[])`, ids)
		if err != nil {
			return nil, err
		}
		out := map[string]resource{}
		var r resource
		_, err = pgx.ForEachRow(rows, []any{&r.id, &r.unit, &r.userID}, func() error {
			out[r.id] = r
			return nil
		})
		return out, err
	}
}

// SecondmentAlerts lists the deadlines of every open secondment as of a
// date: each pending step with its due date, the end of the term, and the
// replacement a refusal calls for, from the lead time on (the Decree sets
// none: the setting personnel.alert_lead); a past one is overdue.
func SecondmentAlerts(ctx context.Context, q db.Querier, cal *Calendar, asOf time.Time) ([]Alert, error) {
	files, err := loadSecondmentRows(ctx, q, `s.state NOT IN ('closed', 'coordination_refused')
		AND NOT (s.state = 'refused' AND (s.rule_set = 'r3' OR EXISTS (SELECT 1 FROM secondments r WHERE r.replaces = s.id)))`, false)
	if err != nil {
		return nil, err
	}
	lead, err := LeadTime(ctx, q, "personnel.alert_lead")
	if err != nil {
		return nil, err
	}
	today := Today(asOf)
	var out []Alert
	for _, r := range files {
		id, p := r.id, r.who
		R := up(r.rs)
		add := func(kind, rule, subject string, due Date) {
			if !Within(due.Time, asOf, lead) {
				return
			}
			out = append(out, Alert{Kind: kind, Rule: rule, StaffID: r.staffID, StaffName: p.FullName, Subject: subject,
				Due: due.Time, Ref: "secondment/" + id})
		}
		if r.state == SRefused {
			ref, _ := r.last(map[string]string{RuleR1: "receiver_decision", RuleR2: "mfa_decision"}[r.rs])
			add(AlertSecondmentReplace, R+map[string]string{RuleR1: " §14", RuleR2: " §15"}[r.rs],
				"another candidate is due after the refusal", dueDate(cal, ref.On, Deadline{WD: 5}))
			continue
		}
		for _, n := range r.pending(cal, today) {
			if n.Due.IsZero() {
				continue
			}
			kind := AlertSecondmentStep
			switch n.Step {
			case "kpi_approved", "report":
				kind = AlertSecondmentReport
			case "order_dispatched":
				kind = AlertSecondmentDocs
			}
			add(kind, R+" "+n.Para, fmt.Sprintf("%s (%s)", n.Step, n.Actor), n.Due)
		}
		if (r.state == SServing || r.state == SExpiryNoticed) && !r.extended.IsZero() {
			add(AlertSecondmentEnding, R+" §8", "the secondment term ends", r.extended)
		}
	}
	return out, nil
}
