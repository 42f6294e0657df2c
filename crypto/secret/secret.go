// Package secret encrypts small secrets at rest (token signing keys, seal
// keys) under one master key with XChaCha20-Poly1305. The master key comes
// from VALISE_MASTER_KEY (base64 of 32 bytes) or, when that is unset, from
// <data dir>/master.key, which is generated with mode 0600 on first use.
//
// Associated data binds a ciphertext to its place (for example
// "signing_key:<kid>"), so a sealed value copied to another row fails to open.
package secret

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the master key's length in bytes.
const KeySize = chacha20poly1305.KeySize

// EnvVar names the environment variable holding the base64 master key.
const EnvVar = "VALISE_MASTER_KEY"

// KeyFile is the master key's file name inside the data directory.
const KeyFile = "master.key"

// version prefixes every sealed value so the format can change later.
const version byte = 1

// ErrOpen means a sealed value could not be opened: wrong key, wrong
// associated data, or tampered bytes. It deliberately does not say which.
var ErrOpen = errors.New("secret: cannot open the sealed value")

// LoadMasterKey returns the master key: from VALISE_MASTER_KEY when set,
// else from <dataDir>/master.key, creating it (0600, in a 0700 directory)
// when absent. A key file readable by group or others is refused.
func LoadMasterKey(dataDir string) ([]byte, error) {
	if v, ok := os.LookupEnv(EnvVar); ok && v != "" {
		k, err := decodeKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvVar, err)
		}
		return k, nil
	}
	path := filepath.Join(dataDir, KeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKeyFile(dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("stat master key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key %s is readable by others (mode %o); chmod 600 it", path, st.Mode().Perm())
	}
	k, err := decodeKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	return k, nil
}

func createKeyFile(dataDir string) ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate master key: %w", err)
	}
	// O_EXCL: if another process created it meanwhile, read theirs instead.
	err := WriteKeyFile(dataDir, k)
	if errors.Is(err, fs.ErrExist) {
		return LoadMasterKey(dataDir)
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

// WriteKeyFile writes key as <dataDir>/master.key (base64, mode 0600, in a
// directory created 0700). It never replaces a key file: when one exists
// the error wraps fs.ErrExist. `valise restore` uses it to put back the key
// of a backup.
func WriteKeyFile(dataDir string, key []byte) error {
	if len(key) != KeySize {
		return fmt.Errorf("master key is %d bytes; want %d", len(key), KeySize)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dataDir, KeyFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create master key: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write master key: %w", werr)
	}
	return nil
}

func decodeKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("is %d bytes; want %d", len(k), KeySize)
	}
	return k, nil
}

// Seal encrypts plaintext under key, bound to ad. The result is
// version || 24-byte nonce || ciphertext+tag.
func Seal(key, plaintext, ad []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("secret nonce: %w", err)
	}
	return aead.Seal(out, out[1:], plaintext, ad), nil
}

// Open decrypts a value made by Seal with the same key and ad.
func Open(key, sealed, ad []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	n := aead.NonceSize()
	if len(sealed) < 1+n+aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	pt, err := aead.Open(nil, sealed[1:1+n], sealed[1+n:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
