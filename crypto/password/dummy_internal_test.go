package password

import (
	"fmt"
	"strings"
	"testing"
)

// An unknown user costs what a wrong password costs: VerifyDummy verifies
// against a hash made with exactly the Default parameters, so it does the
// same argon2id work as a real verification (the same memory, passes and
// lanes; the timing is in BenchmarkVerifyDummy, not in a test that a busy
// machine could fail).
func TestDummyIsADefaultHash(t *testing.T) {
	real, err := Hash("pw", Default)
	if err != nil {
		t.Fatal(err)
	}
	params := func(h string) string { // $argon2id$v=19$m=…,t=…,p=…$salt$key
		parts := strings.Split(h, "$")
		if len(parts) != 6 {
			t.Fatalf("not a PHC hash: %q", h)
		}
		return fmt.Sprintf("%s$%s$%s salt %d key %d", parts[1], parts[2], parts[3], len(parts[4]), len(parts[5]))
	}
	if params(dummy) != params(real) {
		t.Fatalf("the dummy hash %s is not made like a real one %s", params(dummy), params(real))
	}
	if ok, err := Verify("anything", dummy); ok || err != nil {
		t.Fatalf("the dummy verifies: %v %v", ok, err)
	}
}
