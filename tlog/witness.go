package tlog

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/note"

	"valise"
	"valise/internal/db"
)

// AddWitness registers a witness by its note verifier key ("name+hash+key").
// Adding the same key again changes nothing.
func AddWitness(ctx context.Context, q db.Querier, vkey string) error {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return valise.Invalid("bad witness key", valise.FieldError{Field: "vkey", Reason: err.Error()})
	}
	if _, err := q.Exec(ctx, `INSERT INTO tlog_witnesses (name, vkey) VALUES ($1, $2) ON CONFLICT DO NOTHING`, v.Name(), vkey); err != nil {
		return fmt.Errorf("add witness: %w", err)
	}
	return nil
}

// Witnesses returns the registered witnesses' verifiers.
func Witnesses(ctx context.Context, q db.Querier) ([]note.Verifier, error) {
	rows, err := q.Query(ctx, `SELECT vkey FROM tlog_witnesses ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read witnesses: %w", err)
	}
	defer rows.Close()
	var out []note.Verifier
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("stored witness key %q: %w", k, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// AddCosignature stores a witness's cosignature of the checkpoint of the
// given size. cosigned is that checkpoint as a signed note carrying the
// witness's signature (any other signatures in it are ignored). The
// signature must verify with a registered witness key over exactly the
// stored checkpoint body. Receipts then carry it.
//
// Witness signatures are plain note Ed25519 signatures over the checkpoint
// body; C2SP tlog-cosignature/v1 (timestamped, key type 0x04) is not
// implemented yet.
func AddCosignature(ctx context.Context, pool *pgxpool.Pool, size uint64, cosigned []byte) error {
	ws, err := Witnesses(ctx, pool)
	if err != nil {
		return err
	}
	cp, err := CheckpointAt(ctx, pool, size)
	if err != nil {
		return err
	}
	n, err := note.Open(cosigned, note.VerifierList(ws...))
	if err != nil {
		return valise.Errorf(valise.EINVALID, "no valid witness signature: %v", err)
	}
	if n.Text != cp.Body() {
		return valise.Errorf(valise.EINVALID, "the cosigned note is not the checkpoint of size %d", size)
	}
	for _, s := range n.Sigs {
		line := "— " + s.Name + " " + s.Base64
		if _, err := pool.Exec(ctx, `INSERT INTO tlog_cosignatures (size, witness, line) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, int64(size), s.Name, line); err != nil {
			return fmt.Errorf("store cosignature: %w", err)
		}
	}
	return nil
}

// CheckpointRecord is one stored checkpoint: its size, root, when it was
// signed and which witnesses cosigned it.
type CheckpointRecord struct {
	Size      uint64    `json:"size"`
	Root      []byte    `json:"root"`
	CreatedAt time.Time `json:"created_at"`
	Witnesses []string  `json:"witnesses"`
}

// Checkpoints returns the newest n checkpoints (the log's history of
// signed sizes), newest first, each with its cosigning witnesses.
func Checkpoints(ctx context.Context, q db.Querier, n int) ([]CheckpointRecord, error) {
	rows, err := q.Query(ctx, `SELECT c.size, c.root, c.created_at,
		coalesce((SELECT array_agg(w.witness ORDER BY w.witness) FROM tlog_cosignatures w WHERE w.size = c.size), '{}')
		FROM tlog_checkpoints c ORDER BY c.size DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (CheckpointRecord, error) {
		var c CheckpointRecord
		var size int64
		err := r.Scan(&size, &c.Root, &c.CreatedAt, &c.Witnesses)
		c.Size = uint64(size)
		return c, err
	})
}
