package demo_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"valise/demo"
	"valise/internal/dbtest"
	"valise/personnel"
)

// TestDemoRotationAlertsFire: after the demo loads (twice), the personnel
// alerts the issue names fire today: a term ending, a return notice due, an
// attestation due, a document missing before departure, a plan deadline;
// this year's holidays are on the calendar.
func TestDemoRotationAlertsFire(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	for range 2 {
		if _, err := demo.Load(ctx, d.Pool, demo.Options{Password: "demo-password-1", MasterKey: bytes.Repeat([]byte{7}, 32)}); err != nil {
			t.Fatal(err)
		}
	}
	as, err := personnel.AllAlerts(ctx, d.Pool, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, a := range as {
		kinds[a.Kind]++
	}
	for _, k := range []string{"posting_term_ending", "return_notice_due", "attestation_due", "document_missing", "plan_deadline", "pregnancy_recall_due"} {
		if kinds[k] == 0 {
			t.Errorf("no %s alert in the demo: %v", k, kinds)
		}
	}
	var n int
	if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM public_holidays WHERE extract(year FROM day) = extract(year FROM current_date)`).Scan(&n); err != nil || n != 14 {
		t.Errorf("this year's holidays: %d %v", n, err)
	}
}
