package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// testPersonnelDesk: the personnel officer searches the staff, opens a
// person's record (ranks, time in rank) and sees who is eligible; a registry
// clerk gets no personnel desk and a person's page answers as a missing one.
func testPersonnelDesk(t *testing.T, e *env) {
	b := e.tab(t)
	b.signIn("personnel")
	if !strings.Contains(b.location(), "/console/personnel") || !strings.Contains(b.text(), "Staff search") {
		t.Fatalf("the personnel officer lands on %s: %q", b.location(), b.text())
	}
	b.check()
	b.fill("p-kind", "diplomatic")
	b.submit(`form[action="/console/personnel"]`)
	link := get(b, chromedp.AttributeValue(chromedp.CSS(`a[href^="/console/personnel/staff/"]`), "href")).Value
	if link == "" {
		t.Fatalf("no diplomatic staff listed: %q", b.text())
	}
	b.open(link)
	if !strings.Contains(b.text(), "Time in rank") || !strings.Contains(b.text(), "Service record") {
		t.Fatalf("a person's record: %q", b.text())
	}
	b.check()
	c := signedIn(t, e.URL, "clerk.mfa")
	missing := "/console/personnel/staff/00000000-0000-4000-8000-00000000abcd"
	if h, m := fetch(t, c, e.URL+link, strings.TrimPrefix(link, "/console/personnel/staff/")), fetch(t, c, e.URL+missing, "00000000-0000-4000-8000-00000000abcd"); h != m {
		t.Errorf("a clerk sees a person's page differently from a missing one:\n%s\n---\n%s", h, m)
	}
}
