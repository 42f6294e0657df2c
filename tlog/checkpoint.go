package tlog

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/note"

	"valise"
	"valise/crypto/secret"
	"valise/internal/db"
)

// DefaultOrigin is the checkpoint origin line when none is configured.
const DefaultOrigin = "valise.example/custody"

// Checkpoint is a parsed C2SP tlog-checkpoint body.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// Body returns the checkpoint body: origin, size and base64 root hash, one
// per line.
func (c Checkpoint) Body() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root))
}

// ParseCheckpoint parses a checkpoint body (the text of the signed note).
func ParseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return Checkpoint{}, errors.New("checkpoint: fewer than three lines")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || lines[1] != strconv.FormatUint(size, 10) {
		return Checkpoint{}, fmt.Errorf("checkpoint: bad size line %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return Checkpoint{}, fmt.Errorf("checkpoint: bad root hash line %q", lines[2])
	}
	if lines[0] == "" {
		return Checkpoint{}, errors.New("checkpoint: empty origin")
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root}, nil
}

// OpenCheckpoint verifies a signed checkpoint note with the log's verifier
// (and any witness verifiers; their signatures are then checked too) and
// parses its body. The origin must be the log key's name.
func OpenCheckpoint(signed []byte, log note.Verifier, witnesses ...note.Verifier) (Checkpoint, *note.Note, error) {
	n, err := note.Open(signed, note.VerifierList(append([]note.Verifier{log}, witnesses...)...))
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint signature: %w", err)
	}
	signedByLog := false
	for _, s := range n.Sigs {
		if s.Name == log.Name() && s.Hash == log.KeyHash() {
			signedByLog = true
		}
	}
	if !signedByLog {
		return Checkpoint{}, nil, errors.New("checkpoint signature: not signed by the log key")
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if c.Origin != log.Name() {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint origin %q is not the log's %q", c.Origin, log.Name())
	}
	return c, n, nil
}

// Signed is a checkpoint as stored: its body and the signed note bytes
// (the log's signature and any witness cosignatures).
type Signed struct {
	Checkpoint
	Note []byte
}

// LatestCheckpoint returns the newest signed checkpoint with every stored
// witness cosignature appended. ENOTFOUND when the log has none yet.
func LatestCheckpoint(ctx context.Context, q db.Querier) (Signed, error) {
	return checkpointAt(ctx, q, -1)
}

// CheckpointAt returns the signed checkpoint of exactly size, with its
// cosignatures.
func CheckpointAt(ctx context.Context, q db.Querier, size uint64) (Signed, error) {
	return checkpointAt(ctx, q, int64(size))
}

func checkpointAt(ctx context.Context, q db.Querier, size int64) (Signed, error) {
	var (
		s    Signed
		text string
		sz   int64
	)
	err := q.QueryRow(ctx, `
		SELECT c.size, c.root, c.note || coalesce((SELECT string_agg(w.line || E'\n', '' ORDER BY w.witness)
		                                          FROM tlog_cosignatures w WHERE w.size = c.size), '')
		FROM tlog_checkpoints c
		WHERE $1 < 0 OR c.size = $1
		ORDER BY c.size DESC LIMIT 1`, size).Scan(&sz, &s.Root, &text)
	if errors.Is(err, pgx.ErrNoRows) {
		if size < 0 {
			return Signed{}, valise.Errorf(valise.ENOTFOUND, "the log has no checkpoint yet")
		}
		return Signed{}, valise.Errorf(valise.ENOTFOUND, "no checkpoint of size %d", size)
	}
	if err != nil {
		return Signed{}, fmt.Errorf("read checkpoint: %w", err)
	}
	s.Size = uint64(sz)
	s.Note = []byte(text)
	c, err := ParseCheckpoint(text[:strings.Index(text, "\n\n")+1])
	if err != nil {
		return Signed{}, fmt.Errorf("stored checkpoint %d: %w", sz, err)
	}
	s.Origin = c.Origin
	return s, nil
}

// Key is the log's signing identity.
type Key struct {
	Signer   note.Signer
	Verifier note.Verifier
	// VerifierKey is the verifier in note's "name+hash+key" text form, the
	// string a relying party pins.
	VerifierKey string
}

// LoadOrCreateKey returns the log's signing key for origin, generating and
// storing it on first use. The private key is stored sealed with master (32
// bytes) using XChaCha20-Poly1305, the origin as associated data. Two
// processes starting at once agree on one key (the insert does nothing if
// another won, and both read the stored row).
func LoadOrCreateKey(ctx context.Context, pool *pgxpool.Pool, origin string, master []byte) (*Key, error) {
	if origin == "" || strings.ContainsAny(origin, "\n+ ") {
		return nil, fmt.Errorf("tlog key: bad origin %q", origin)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, fmt.Errorf("tlog key: generate: %w", err)
	}
	sealed, err := secret.Seal(master, []byte(skey), []byte("tlog_key:"+origin))
	if err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, `INSERT INTO tlog_keys (origin, vkey, skey_sealed) VALUES ($1, $2, $3)
		ON CONFLICT (origin) DO NOTHING`, origin, vkey, sealed); err != nil {
		return nil, fmt.Errorf("tlog key: store: %w", err)
	}
	if err := pool.QueryRow(ctx, `SELECT vkey, skey_sealed FROM tlog_keys WHERE origin = $1`, origin).Scan(&vkey, &sealed); err != nil {
		return nil, fmt.Errorf("tlog key: load: %w", err)
	}
	plain, err := secret.Open(master, sealed, []byte("tlog_key:"+origin))
	if err != nil {
		return nil, fmt.Errorf("tlog key: cannot unseal the log key (wrong master key?): %w", err)
	}
	return NewKey(string(plain), vkey)
}

// NewKey builds a Key from note's private and public key texts.
func NewKey(skey, vkey string) (*Key, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("tlog key: signer: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("tlog key: verifier: %w", err)
	}
	if s.Name() != v.Name() || s.KeyHash() != v.KeyHash() {
		return nil, errors.New("tlog key: private and public keys do not match")
	}
	return &Key{Signer: s, Verifier: v, VerifierKey: vkey}, nil
}

// VerifierKey returns the log's public verifier key text for origin, as
// stored (for GET /log/key).
func VerifierKey(ctx context.Context, q db.Querier) (string, error) {
	var vkey string
	err := q.QueryRow(ctx, `SELECT vkey FROM tlog_keys ORDER BY created_at LIMIT 1`).Scan(&vkey)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", valise.Errorf(valise.ENOTFOUND, "the log has no key yet")
	}
	if err != nil {
		return "", fmt.Errorf("read log key: %w", err)
	}
	return vkey, nil
}

// signCheckpoint returns the signed note of c.
func signCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	b, err := note.Sign(&note.Note{Text: c.Body()}, s)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return b, nil
}
