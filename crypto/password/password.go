// Package password hashes and verifies passwords with argon2id. Each hash is
// a PHC string that records its own parameters
// ($argon2id$v=19$m=19456,t=2,p=1$salt$hash), so the parameters can be raised
// later: old hashes still verify, and NeedsRehash says when to upgrade one.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// Default follows OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane).
var Default = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// ErrMalformed means a stored hash is not an argon2id PHC string this package can read.
var ErrMalformed = errors.New("password: malformed argon2id hash")

var b64 = base64.RawStdEncoding

// Hash returns the PHC string of password under p.
func Hash(password string, p Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches the PHC string, in constant time
// with respect to the key comparison.
func Verify(password, phc string) (bool, error) {
	p, salt, key, err := decode(phc)
	if err != nil {
		return false, err
	}
	derivations.Add(1)
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether phc was made with weaker parameters than want.
func NeedsRehash(phc string, want Params) bool {
	p, _, _, err := decode(phc)
	return err != nil || p.Memory < want.Memory || p.Time < want.Time || p.Threads < want.Threads || p.KeyLen < want.KeyLen
}

// ParamsOf returns the parameters recorded in a PHC string.
func ParamsOf(phc string) (Params, error) {
	p, _, _, err := decode(phc)
	return p, err
}

// Limits on the parameters a stored hash may ask for, so a tampered row
// cannot make a login burn gigabytes of memory.
const (
	maxMemory = 1 << 21 // 2 GiB in KiB
	maxTime   = 64
)

func decode(phc string) (Params, []byte, []byte, error) {
	parts := strings.Split(phc, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformed
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return Params{}, nil, nil, ErrMalformed
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, ErrMalformed
	}
	if p.Memory < 8 || p.Memory > maxMemory || p.Time < 1 || p.Time > maxTime || p.Threads < 1 {
		return Params{}, nil, nil, ErrMalformed
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return Params{}, nil, nil, ErrMalformed
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 {
		return Params{}, nil, nil, ErrMalformed
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// dummy is a hash of a random password under Default, verified against when
// the user does not exist so that "unknown user" costs what "wrong password"
// costs.
var dummy = func() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h, err := Hash(string(b), Default)
	if err != nil {
		panic(err)
	}
	return h
}()

// derivations counts argon2id derivations done by Verify (Derivations).
var derivations atomic.Int64

// Derivations is how many argon2id derivations Verify has done in this
// process: a test compares the work two code paths do without timing them.
func Derivations() int64 { return derivations.Load() }

// VerifyDummy spends the time of one Verify under Default and always fails.
func VerifyDummy(password string) {
	_, _ = Verify(password, dummy)
}
