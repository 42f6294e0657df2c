package demo_test

import (
	"context"
	"testing"
	"time"

	"valise/personnel"
)

// TestDemoSecondments: one secondment under each rule set, loaded once
// however often the demo loads, and their alerts firing.
func TestDemoSecondments(t *testing.T) {
	t.Parallel()
	d := loadedTwice(t)
	ctx := context.Background()
	rows, err := d.Pool.Query(ctx, `SELECT rule_set || ':' || state FROM secondments ORDER BY rule_set`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		got = append(got, s)
	}
	if len(got) != 3 || got[0] != "r1:serving" || got[1] != "r2:serving" || got[2] != "r3:proposed" {
		t.Fatalf("secondments %v", got)
	}
	cal, err := personnel.LoadCalendar(ctx, d.Pool)
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := personnel.SecondmentAlerts(ctx, d.Pool, cal, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, a := range alerts {
		kinds[a.Kind] = true
	}
	for _, k := range []string{personnel.AlertSecondmentEnding, personnel.AlertSecondmentStep, personnel.AlertSecondmentReport} {
		if !kinds[k] {
			t.Errorf("no %s alert in the demo: %+v", k, alerts)
		}
	}
}
