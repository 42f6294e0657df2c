package tlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"

	"valise/internal/db"
)

// ReceiptHeader is the first line of a C2SP tlog-proof.
const ReceiptHeader = "c2sp.org/tlog-proof@v1"

// Receipt returns an offline-verifiable C2SP tlog-proof for leaf index:
// the index, its inclusion proof in the newest checkpoint's tree, and that
// checkpoint with every witness cosignature stored for it. extra (optional)
// is carried opaque; Valise puts the leaf itself there so the receipt is
// self-contained.
func Receipt(ctx context.Context, q db.Querier, index uint64, extra []byte) ([]byte, error) {
	cp, err := LatestCheckpoint(ctx, q)
	if err != nil {
		return nil, err
	}
	if index >= cp.Size {
		return nil, fmt.Errorf("receipt: leaf %d is not in the newest checkpoint (size %d) yet", index, cp.Size)
	}
	p, err := InclusionProof(ctx, q, index, cp.Size)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(ReceiptHeader + "\n")
	if len(extra) > 0 {
		fmt.Fprintf(&b, "extra %s\n", base64.StdEncoding.EncodeToString(extra))
	}
	fmt.Fprintf(&b, "index %d\n", index)
	for _, h := range p {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteString("\n")
	b.Write(cp.Note)
	return b.Bytes(), nil
}

// EntryReceipt returns the receipt of an appended entry, with the leaf
// itself as extra data (so the holder needs nothing else), and its leaf
// index; src gives the bytes of an entry appended by hash only. ENOTFOUND
// while the integrator has not indexed it yet (at most about a second after
// commit): retry.
func EntryReceipt(ctx context.Context, q db.Querier, id EntryID, src LeafSource) ([]byte, uint64, error) {
	idx, err := IndexOf(ctx, q, id)
	if err != nil {
		return nil, 0, err
	}
	leaves := [][]byte{nil}
	if err := q.QueryRow(ctx, `SELECT leaf FROM tlog_entries WHERE id = $1`, int64(id)).Scan(&leaves[0]); err != nil {
		return nil, 0, fmt.Errorf("read leaf: %w", err)
	}
	if err := fillLeaves(ctx, q, src, []EntryID{id}, leaves); err != nil {
		return nil, 0, err
	}
	leaf := leaves[0]
	if leaf == nil {
		return nil, 0, fmt.Errorf("read leaf: entry %d stores no bytes and its source gives none", id)
	}
	rec, err := Receipt(ctx, q, idx, leaf)
	return rec, idx, err
}

// VerifiedReceipt is what a valid receipt proves.
type VerifiedReceipt struct {
	Index      uint64
	Extra      []byte
	Checkpoint Checkpoint
	// Witnesses names the witnesses whose cosignatures verified.
	Witnesses []string
}

// VerifyReceipt checks a C2SP tlog-proof offline: the checkpoint must carry
// a valid signature of the log's verifier (and of each witness given; a
// receipt lacking one fails), and the inclusion proof must lead from the
// leaf to the checkpoint's root. leaf is the entry's bytes; when nil the
// receipt's extra data is taken as the leaf.
func VerifyReceipt(receipt, leaf []byte, log note.Verifier, witnesses ...note.Verifier) (*VerifiedReceipt, error) {
	text := string(receipt)
	head, cpText, ok := strings.Cut(text, "\n\n")
	if !ok {
		return nil, errors.New("receipt: no blank line before the checkpoint")
	}
	lines := strings.Split(head, "\n")
	if lines[0] != ReceiptHeader {
		return nil, fmt.Errorf("receipt: first line is %q, want %q", lines[0], ReceiptHeader)
	}
	lines = lines[1:]
	v := &VerifiedReceipt{}
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		x, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[0], "extra "))
		if err != nil {
			return nil, fmt.Errorf("receipt: bad extra line: %w", err)
		}
		v.Extra, lines = x, lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return nil, errors.New("receipt: missing index line")
	}
	idx, err := strconv.ParseUint(strings.TrimPrefix(lines[0], "index "), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("receipt: bad index line %q", lines[0])
	}
	v.Index = idx
	var hashes [][]byte
	for _, l := range lines[1:] {
		h, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("receipt: bad proof hash %q", l)
		}
		hashes = append(hashes, h)
	}
	cp, n, err := OpenCheckpoint([]byte(cpText), log, witnesses...)
	if err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	v.Checkpoint = cp
	for _, w := range witnesses {
		found := false
		for _, s := range n.Sigs {
			if s.Name == w.Name() && s.Hash == w.KeyHash() {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("receipt: no valid cosignature of witness %q", w.Name())
		}
		v.Witnesses = append(v.Witnesses, w.Name())
	}
	if leaf == nil {
		leaf = v.Extra
	}
	if len(leaf) == 0 {
		return nil, errors.New("receipt: no leaf to verify (none given and no extra data)")
	}
	if err := VerifyInclusion(cp, idx, leaf, hashes); err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	return v, nil
}

// VerifyInclusion checks that the RFC 6962 inclusion proof leads from leaf,
// at index, to the root of checkpoint cp (already opened with the log's key).
func VerifyInclusion(cp Checkpoint, index uint64, leaf []byte, hashes [][]byte) error {
	if err := proof.VerifyInclusion(hasher, index, cp.Size, LeafHash(leaf), hashes, cp.Root); err != nil {
		return fmt.Errorf("inclusion proof: %w", err)
	}
	return nil
}
