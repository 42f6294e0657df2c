package keyring

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"valise"
	"valise/crypto/seal"
	"valise/crypto/trust"
	"valise/internal/db"
)

// Published is a stored trust list, exactly as signed.
type Published struct {
	Sequence   uint64
	IssuedAt   time.Time
	StaleAfter time.Time
	Document   []byte // the DSSE envelope
	ETag       string // strong entity tag, quoted
}

// Publish signs and stores a new trust list with the next sequence number:
// every active key, every retired key still within its overlap, every revoked
// key (so verifiers can say "revoked" rather than "unknown"), and the
// revoked serials of seals not yet expired (an expired seal fails anyway).
func (k *Keyring) Publish(ctx context.Context, q db.Querier) (*Published, error) {
	rootKID, root, err := k.rootSigner(ctx, q)
	if err != nil {
		return nil, err
	}
	now := k.now()
	var seq uint64
	if err := q.QueryRow(ctx, `SELECT coalesce(max(sequence), 0) + 1 FROM trust_lists`).Scan(&seq); err != nil {
		return nil, fmt.Errorf("next trust list sequence: %w", err)
	}
	rows, err := q.Query(ctx, `SELECT `+keyColumns+` FROM seal_keys k JOIN units u ON u.id = k.office_id
		WHERE k.status IN ('active', 'revoked') OR k.listed_until > $1`, now)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*KeyInfo, error) { return scanKey(r) })
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	stale, err := k.staleAfter(ctx, q)
	if err != nil {
		return nil, err
	}
	l := &trust.List{Sequence: seq, IssuedAt: now, StaleAfter: now.Add(stale), RevokedSerials: []seal.Serial{}}
	for _, ki := range keys {
		tk := trust.Key{KID: ki.KID, Office: ki.Office, PublicKey: ki.PublicKey, NotBefore: ki.NotBefore,
			NotAfter: ki.NotAfter, Status: ki.Status}
		if ki.RevokedAt != nil {
			tk.RevokedAt = *ki.RevokedAt
		}
		l.Keys = append(l.Keys, tk)
	}
	if l.Keys == nil {
		l.Keys = []trust.Key{}
	}
	rows, err = q.Query(ctx, `SELECT r.serial FROM seal_revocations r JOIN seals s USING (serial)
		WHERE s.expires_at > $1`, now)
	if err != nil {
		return nil, fmt.Errorf("list revoked serials: %w", err)
	}
	serials, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("list revoked serials: %w", err)
	}
	for _, s := range serials {
		var sr seal.Serial
		copy(sr[:], s)
		l.RevokedSerials = append(l.RevokedSerials, sr)
	}
	doc, err := trust.Sign(l, root)
	if err != nil {
		return nil, fmt.Errorf("sign trust list: %w", err)
	}
	sum := sha256.Sum256(doc)
	p := &Published{Sequence: seq, IssuedAt: l.IssuedAt, StaleAfter: l.StaleAfter, Document: doc,
		ETag: `"tl-` + strconv.FormatUint(seq, 10) + "-" + hex.EncodeToString(sum[:8]) + `"`}
	_, err = q.Exec(ctx, `INSERT INTO trust_lists (sequence, root_kid, issued_at, stale_after, document, etag)
		VALUES ($1, $2, $3, $4, $5, $6)`, int64(seq), rootKID.String(), p.IssuedAt, p.StaleAfter, doc, p.ETag)
	if err != nil {
		return nil, fmt.Errorf("store trust list: %w", err)
	}
	return p, nil
}

// Latest returns the newest published trust list, ENOTFOUND if none.
func Latest(ctx context.Context, q db.Querier) (*Published, error) {
	var p Published
	var seq int64
	err := q.QueryRow(ctx, `SELECT sequence, issued_at, stale_after, document, etag FROM trust_lists
		ORDER BY sequence DESC LIMIT 1`).Scan(&seq, &p.IssuedAt, &p.StaleAfter, &p.Document, &p.ETag)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, valise.Errorf(valise.ENOTFOUND, "no trust list has been published: run 'valise keys init-root'")
	}
	if err != nil {
		return nil, fmt.Errorf("load trust list: %w", err)
	}
	p.Sequence = uint64(seq)
	return &p, nil
}

// Current returns the list to serve: the newest one, or a freshly published
// one when there is none yet or the newest is past half its stale period, so
// that phones refreshing on schedule never receive a list about to go stale
// (and revoked serials whose seals expired drop out).
func (k *Keyring) Current(ctx context.Context, q db.Querier) (*Published, error) {
	p, err := Latest(ctx, q)
	if err != nil && valise.ErrorCode(err) != valise.ENOTFOUND {
		return nil, err
	}
	if p != nil && k.now().Before(p.IssuedAt.Add(p.StaleAfter.Sub(p.IssuedAt)/2)) {
		return p, nil
	}
	return k.Publish(ctx, q)
}

// Parsed verifies a stored list against the database's root key at the
// keyring's now and returns it ready to resolve seal keys.
func (k *Keyring) Parsed(ctx context.Context, q db.Querier, p *Published) (*trust.List, error) {
	_, root, err := Root(ctx, q)
	if err != nil {
		return nil, err
	}
	return trust.ParseAt(p.Document, root, k.o.Now())
}
