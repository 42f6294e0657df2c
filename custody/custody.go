// Package custody reads a bag's custody: its trail with inclusion proofs
// and receipts, the per-bag hash-chain audit (chain.go), and overdue alerts
// for bags in transit that went silent.
//
// It writes nothing: a bag's one history (state and possession together,
// the two-party hand-offs and every stage) is owned by package pouch, and
// each of its events is a leaf of the custody transparency log
// (package tlog, which knows nothing of bags), committed in the same transaction as the change.
package custody

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"valise/pouch"
)

// Service reads custody over one pool.
type Service struct {
	pool *pgxpool.Pool
}

// New returns the service.
func New(pool *pgxpool.Pool) *Service { return &Service{pool: pool} }

// Party is a holder of a bag (pouch.Party).
type Party = pouch.Party
