package password_test

import (
	"strings"
	"testing"

	"valise/crypto/password"
)

var fast = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashAndVerify(t *testing.T) {
	t.Parallel()
	h, err := password.Hash("correct horse", password.Default)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("PHC string %q does not record the parameters", h)
	}
	if ok, err := password.Verify("correct horse", h); !ok || err != nil {
		t.Errorf("right password refused: %v", err)
	}
	if ok, _ := password.Verify("correct horsE", h); ok {
		t.Error("wrong password accepted")
	}
	h2, _ := password.Hash("correct horse", password.Default)
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

// Hashes made under old parameters keep verifying, and are flagged for rehash.
func TestParametersPerHash(t *testing.T) {
	t.Parallel()
	old, _ := password.Hash("pw", fast)
	if ok, _ := password.Verify("pw", old); !ok {
		t.Fatal("a weaker, older hash must still verify")
	}
	if !password.NeedsRehash(old, password.Default) {
		t.Error("a weaker hash should need a rehash")
	}
	cur, _ := password.Hash("pw", password.Default)
	if password.NeedsRehash(cur, password.Default) {
		t.Error("a current hash should not need a rehash")
	}
	if p, err := password.ParamsOf(old); err != nil || p.Memory != 64 || p.Time != 1 {
		t.Errorf("ParamsOf = %+v, %v", p, err)
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	good, _ := password.Hash("pw", fast)
	parts := strings.Split(good, "$")
	for _, h := range []string{
		"", "plain", "$2a$10$abcdefghijklmnopqrstuv",
		"$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=18$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=99999999,t=1,p=1$" + parts[4] + "$" + parts[5], // would burn 95 GiB
		"$argon2id$v=19$m=64,t=1,p=1$!!$" + parts[5],
	} {
		if ok, err := password.Verify("pw", h); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want a malformed error", h, ok, err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h, _ := password.Hash("pw", password.Default)
	for b.Loop() {
		_, _ = password.Verify("pw", h)
	}
}

// BenchmarkVerifyDummy is the cost of an unknown user's login; compare it
// with BenchmarkVerify (TestDummyIsADefaultHash proves the work is the same).
func BenchmarkVerifyDummy(b *testing.B) {
	for b.Loop() {
		password.VerifyDummy("pw")
	}
}
