package db_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"valise/internal/db"
	"valise/internal/dbtest"
)

// groupOf runs n grouped requests at once on a committer with one worker,
// the first of which holds its group's transaction until every other one
// is queued, so the others share the next group. fn(i, tx) is request i.
func groupOf(t *testing.T, n int, fn func(i int, tx pgx.Tx) error) []error {
	t.Helper()
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := d.Pool.Exec(ctx, `CREATE TABLE g (k int PRIMARY KEY, v text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	db.SetGroupOptions(d.Pool, db.GroupOptions{Workers: 1})
	release := make(chan struct{})
	var queued sync.WaitGroup
	queued.Add(n - 1)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i > 0 {
				queued.Done()
			}
			errs[i] = db.InTxOpts(db.Grouped(ctx, "one key"), d.Pool, db.ReadCommitted, func(tx pgx.Tx) error {
				if i == 0 {
					<-release
				}
				return fn(i, tx)
			})
		}()
	}
	go func() {
		queued.Wait()
		time.Sleep(100 * time.Millisecond) // let the last of them reach the queue
		// Closed, not sent: request 0 may run again alone if its group is
		// doomed (it shared one with the failing request on a loaded machine).
		close(release)
	}()
	wg.Wait()
	rows, err := d.Pool.Query(ctx, `SELECT k FROM g ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		committed := false
		for _, k := range ks {
			committed = committed || k == i
		}
		if committed != (errs[i] == nil) {
			t.Errorf("request %d: error %v, yet committed = %v", i, errs[i], committed)
		}
	}
	return errs
}

// TestGroupOneBadRequest: in a group, a request that fails (after writing,
// or on a statement error that aborts the transaction) is rolled back to its
// savepoint; the others commit, and each is answered by its own outcome.
func TestGroupOneBadRequest(t *testing.T) {
	t.Parallel()
	before := db.GroupStats.Requests.Load() - db.GroupStats.Groups.Load()
	errs := groupOf(t, 8, func(i int, tx pgx.Tx) error {
		ctx := context.Background()
		if _, err := tx.Exec(ctx, `INSERT INTO g VALUES ($1, 'x')`, i); err != nil {
			return err
		}
		switch i {
		case 3: // wrote, then refused
			return errors.New("refused on its merits")
		case 5: // a statement error: the transaction is aborted until the savepoint
			_, err := tx.Exec(ctx, `SELECT 1 / 0`)
			return err
		}
		return nil
	})
	for i, err := range errs {
		if bad := i == 3 || i == 5; bad != (err != nil) {
			t.Errorf("request %d: error %v", i, err)
		}
	}
	if after := db.GroupStats.Requests.Load() - db.GroupStats.Groups.Load(); after == before {
		t.Error("no group held more than one request")
	}
}

// TestGroupDoomedRunsAlone: a request that dooms its group's transaction
// (a serialization failure) makes every request of the group run again
// alone, once; each commits exactly once.
func TestGroupDoomedRunsAlone(t *testing.T) {
	t.Parallel()
	var failures atomic.Int32
	solo := db.GroupStats.Solo.Load()
	errs := groupOf(t, 6, func(i int, tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), `INSERT INTO g VALUES ($1, 'x')`, i); err != nil {
			return err
		}
		if i == 4 && failures.Add(1) == 1 {
			return fmt.Errorf("lost a race: %w", &pgconn.PgError{Code: "40001"})
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if db.GroupStats.Solo.Load()-solo < 2 {
		t.Errorf("%d requests ran alone after the group failed, want every request of the group", db.GroupStats.Solo.Load()-solo)
	}
}

// TestGroupLockHeldElsewhere: a grouped request that waits for a row lock
// another process's group holds leaves its group (which commits without
// it) and runs alone once that lock is free; both succeed.
func TestGroupLockHeldElsewhere(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := d.Pool.Exec(ctx, `CREATE TABLE g (k int PRIMARY KEY, v int NOT NULL); INSERT INTO g VALUES (1, 0), (2, 0)`); err != nil {
		t.Fatal(err)
	}
	other, err := db.Open(ctx, d.URL, db.Options{MaxConns: 4}) // a second API process
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	locked := make(chan struct{})
	solo := db.GroupStats.Solo.Load()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the other process holds row 1 for longer than the lock timeout
		defer wg.Done()
		err := db.InTxOpts(db.Grouped(ctx, "a"), other, db.ReadCommitted, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `UPDATE g SET v = v + 1 WHERE k = 1`); err != nil {
				return err
			}
			close(locked)
			time.Sleep(3 * db.GroupLockTimeout)
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}()
	<-locked
	err = db.InTxOpts(db.Grouped(ctx, "b"), d.Pool, db.ReadCommitted, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE g SET v = v + 10 WHERE k = 1`)
		return err
	})
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := d.Pool.QueryRow(ctx, `SELECT v FROM g WHERE k = 1`).Scan(&v); err != nil || v != 11 {
		t.Fatalf("row 1 = %d (%v), want both updates", v, err)
	}
	if db.GroupStats.Solo.Load() == solo {
		t.Error("the waiting request did not leave its group")
	}
}
