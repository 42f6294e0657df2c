package pgcluster

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// hba is the whole of the cluster's pg_hba.conf: the valise role, with its
// password (SCRAM), over loopback TCP. Anything else, any other local
// account or a connection without the password, is refused.
const hba = `# written by valise on every start: the password in ` + PasswordFile + ` over loopback TCP, nothing else
host all valise 127.0.0.1/32 scram-sha-256
host all valise ::1/128 scram-sha-256
`

// loadOrCreatePassword reads dir/PasswordFile, creating it (0600, 32 random
// hex characters) when absent. A file readable by group or others is refused.
func loadOrCreatePassword(dir string) (string, error) {
	path := filepath.Join(dir, PasswordFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var k [16]byte
		if _, err := rand.Read(k[:]); err != nil {
			return "", fmt.Errorf("generate the cluster password: %w", err)
		}
		pw := hex.EncodeToString(k[:])
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return "", fmt.Errorf("create %s: %w", path, err)
		}
		_, werr := f.WriteString(pw + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			_ = os.Remove(path)
			return "", fmt.Errorf("write %s: %w", path, werr)
		}
		return pw, nil
	}
	if err != nil {
		return "", fmt.Errorf("read the cluster password: %w", err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("cluster password %s is readable by others (mode %o); chmod 600 it", path, st.Mode().Perm())
	}
	pw := strings.TrimSpace(string(b))
	if len(pw) < 16 || strings.ContainsAny(pw, "'\\ @:/?#") {
		return "", fmt.Errorf("cluster password %s: want at least 16 characters, no quotes, spaces or URL punctuation", path)
	}
	return pw, nil
}

// secure writes pg_hba.conf and sets the valise role's password, with the
// server stopped: in single-user mode, which listens on nothing, so there is
// no moment in which the cluster trusts anyone. The role gets a SCRAM
// verifier, so not even the server's log could hold the password.
func (c *Cluster) secure() error {
	if err := os.WriteFile(filepath.Join(c.PGData, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fmt.Errorf("write pg_hba.conf: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(filepath.Join(c.PGData, "pg_hba.conf"), int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return err
		}
	}
	v, err := scramVerifier(c.password)
	if err != nil {
		return err
	}
	stmt := fmt.Sprintf("ALTER ROLE valise PASSWORD '%s'\n", v)
	if err := c.runInput(strings.NewReader(stmt), nil, "postgres", "--single", "-D", c.PGData, "postgres"); err != nil {
		return fmt.Errorf("set the cluster password: %w", err)
	}
	return nil
}

// scramVerifier is PostgreSQL's stored form of a SCRAM-SHA-256 password
// (RFC 5802/7677): SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>.
func scramVerifier(password string) (string, error) {
	const iterations = 4096
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(mac(salted, "Server Key"))), nil
}
