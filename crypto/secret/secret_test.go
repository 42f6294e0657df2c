package secret_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"valise/crypto/secret"
)

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, secret.KeySize)
	other := bytes.Repeat([]byte{8}, secret.KeySize)
	sealed, err := secret.Seal(key, []byte("private key"), []byte("signing_key:k1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("private key")) {
		t.Fatal("plaintext visible in the sealed value")
	}
	if pt, err := secret.Open(key, sealed, []byte("signing_key:k1")); err != nil || string(pt) != "private key" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for name, tc := range map[string]struct {
		key, sealed, ad []byte
	}{
		"wrong key":       {other, sealed, []byte("signing_key:k1")},
		"wrong ad":        {key, sealed, []byte("signing_key:k2")},
		"tampered":        {key, tampered, []byte("signing_key:k1")},
		"truncated":       {key, sealed[:10], []byte("signing_key:k1")},
		"unknown version": {key, append([]byte{9}, sealed[1:]...), []byte("signing_key:k1")},
	} {
		if _, err := secret.Open(tc.key, tc.sealed, tc.ad); !errors.Is(err, secret.ErrOpen) {
			t.Errorf("%s: Open err = %v, want ErrOpen", name, err)
		}
	}
}

func TestMasterKeyFile(t *testing.T) {
	t.Setenv(secret.EnvVar, "")
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := secret.LoadMasterKey(dir)
	if err != nil || len(k1) != secret.KeySize {
		t.Fatalf("LoadMasterKey = %d bytes, %v", len(k1), err)
	}
	st, err := os.Stat(filepath.Join(dir, secret.KeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
	k2, err := secret.LoadMasterKey(dir)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load gave another key (%v)", err)
	}
	if err := os.Chmod(filepath.Join(dir, secret.KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := secret.LoadMasterKey(dir); err == nil {
		t.Error("a world-readable key file was accepted")
	}
}

func TestMasterKeyFromEnv(t *testing.T) {
	want := bytes.Repeat([]byte{3}, secret.KeySize)
	t.Setenv(secret.EnvVar, base64.StdEncoding.EncodeToString(want))
	dir := t.TempDir()
	got, err := secret.LoadMasterKey(dir)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("LoadMasterKey = %x, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, secret.KeyFile)); !os.IsNotExist(err) {
		t.Error("a key file was written although the environment gave the key")
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		t.Setenv(secret.EnvVar, bad)
		if _, err := secret.LoadMasterKey(dir); err == nil {
			t.Errorf("bad %s %q accepted", secret.EnvVar, bad)
		}
	}
}
