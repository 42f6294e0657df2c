package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/url"
	"testing"
)

// TestBagCursorsAreOpaque: the bag list's page cursor walks every bag once,
// carries no registry sequence (it is sealed: two cursors for one position
// differ and neither holds the number), and a tampered cursor, the old
// numeric form or another user's cursor is refused with 422 naming after.
func TestBagCursorsAreOpaque(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	want := map[string]bool{}
	for range 3 {
		b := e.must(201, "disp", "POST", "/api/v1/bags", map[string]any{"origin": "MFA", "destination": "DE-BER"})
		want[b["id"].(string)] = true
	}
	page := func(user, after string) map[string]any {
		q := "/api/v1/bags?limit=1"
		if after != "" {
			q += "&after=" + url.QueryEscape(after)
		}
		return e.must(200, user, "GET", q, nil)
	}
	seen := map[string]int{}
	var cursors []string
	for after := ""; ; {
		p := page("sec", after)
		for _, b := range p["bags"].([]any) {
			seen[b.(map[string]any)["id"].(string)]++
		}
		next, _ := p["next"].(string)
		if next == "" {
			break
		}
		cursors = append(cursors, next)
		after = next
	}
	if len(seen) != len(want) {
		t.Fatalf("the walk saw %v, want each of %v once", seen, want)
	}
	for id, n := range seen {
		if !want[id] || n != 1 {
			t.Errorf("bag %s seen %d times", id, n)
		}
	}
	// The first cursor stands after the newest bag: its registry_seq is not in it.
	var seq int64
	if err := e.pool.QueryRow(context.Background(), `SELECT max(registry_seq) FROM bags`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursors[0])
	if err != nil {
		t.Fatalf("cursor %q is not base64url: %v", cursors[0], err)
	}
	if bytes.Contains(raw, binary.BigEndian.AppendUint64(nil, uint64(seq))) || bytes.Equal(raw, []byte(fmt.Sprint(seq))) {
		t.Errorf("cursor %q carries the registry sequence %d", cursors[0], seq)
	}
	if again, _ := page("sec", "")["next"].(string); again == cursors[0] {
		t.Errorf("two cursors for one position are equal (%q): they are not sealed", again)
	}
	tampered := []byte(cursors[0])
	if i := len(tampered) / 2; tampered[i] == 'A' { // another letter of the alphabet: the seal, not the syntax, refuses it
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	for name, c := range map[string]string{"tampered": string(tampered), "numeric": fmt.Sprint(seq)} {
		p := e.refused(422, "sec", "GET", "/api/v1/bags?after="+url.QueryEscape(c), nil)
		if fmt.Sprint(p["errors"]) != "[map[field:after reason:not a cursor this server gave you for this list]]" {
			t.Errorf("%s cursor: %v", name, p)
		}
	}
	e.refused(422, "clerk", "GET", "/api/v1/bags?after="+url.QueryEscape(cursors[0]), nil) // another user's
}

// TestDecisionCursorsAreOpaque: the decision log pages with a sealed cursor
// and shows no row ids (their gaps would count the denies above the
// reader's clearance); a tampered cursor is a 422 naming before.
func TestDecisionCursorsAreOpaque(t *testing.T) {
	t.Parallel()
	e := newMailEnv(t)
	for range 3 {
		e.must(404, "lowber", "GET", "/api/v1/bags/"+randomUUID(), nil) // a miss is no deny
		e.must(403, "lowber", "GET", "/api/v1/users", nil)              // a deny
	}
	seen := 0
	var first string
	for before := ""; ; {
		q := "/api/v1/security/decisions?limit=1"
		if before != "" {
			q += "&before=" + url.QueryEscape(before)
		}
		p := e.must(200, "sec", "GET", q, nil)
		for _, d := range p["decisions"].([]any) {
			if _, ok := d.(map[string]any)["id"]; ok {
				t.Errorf("a decision row shows its id: %v", d)
			}
			seen++
		}
		next, _ := p["next"].(string)
		if next == "" {
			break
		}
		if first == "" {
			first = next
		}
		before = next
	}
	if seen != 3 {
		t.Errorf("the walk saw %d denies, want 3", seen)
	}
	tampered := []byte(first)
	if i := len(tampered) / 2; tampered[i] == 'A' { // another letter of the alphabet: the seal, not the syntax, refuses it
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	for _, c := range []string{string(tampered), "3"} {
		p := e.refused(422, "sec", "GET", "/api/v1/security/decisions?before="+url.QueryEscape(c), nil)
		if fmt.Sprint(p["errors"]) != "[map[field:before reason:not a cursor this server gave you for this list]]" {
			t.Errorf("cursor %q: %v", c, p)
		}
	}
}
