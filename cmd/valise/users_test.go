package main

import (
	"context"
	"strings"
	"testing"

	"valise/identity"
	"valise/internal/dbtest"
)

// TestCreateAdmin bootstraps a deployment without demo data: the admin is
// created with the password from stdin and can log in; bad input changes nothing.
func TestCreateAdmin(t *testing.T) {
	t.Setenv("VALISE_DATA_DIR", t.TempDir())
	d := dbtest.Empty(t)
	url := "--database-url=" + d.URL

	stdin = strings.NewReader("short\n")
	if code, _, errs := runCmd(t, "users", "create-admin", "--username", "root.admin", url); code != 1 || !strings.Contains(errs, "password") {
		t.Fatalf("short password: %d %s", code, errs)
	}
	var n int
	_ = d.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM units)`).Scan(&n)
	if n != 0 {
		t.Fatalf("a refused bootstrap created %d users", n)
	}
	stdin = strings.NewReader("a-long-admin-password\n")
	code, out, errs := runCmd(t, "users", "create-admin", "--username", "root.admin", url)
	if code != 0 || !strings.Contains(out, "created admin root.admin") {
		t.Fatalf("create-admin = %d %s %s", code, out, errs)
	}
	if strings.Contains(out+errs, "a-long-admin-password") {
		t.Error("the password was echoed")
	}
	svc := identity.New(d.Pool, nil, identity.Config{}, nil)
	if _, err := svc.Login(context.Background(), "root.admin", "a-long-admin-password", "test"); err != nil {
		t.Errorf("the new admin cannot log in: %v", err)
	}
	// Outside demo mode there is no demo account.
	if _, err := svc.Login(context.Background(), "admin", "valise-demo", "test"); err == nil {
		t.Error("a demo account exists outside demo mode")
	}
	if code, _, _ := runCmd(t, "users", "create-admin"); code != 2 {
		t.Errorf("missing --username: %d", code)
	}
}
