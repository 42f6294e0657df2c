package pouch_test

import (
	"context"

	"valise/crypto/keyring"
	"valise/policy"
	"valise/pouch"
)

// dispatchAs runs the dispatch stage: actor releases the bag to the courier
// on its sheet, and the world's courier confirms it with a scan of every seal
// (the two signatures of the one transfer).
func (w *world) dispatchAs(ctx context.Context, actor policy.Subject, m pouch.Mutation) (*pouch.Bag, error) {
	b, h, err := w.svc.Dispatch(ctx, actor, m, pouch.DispatchInput{}, w.check(actor))
	if err != nil || h == nil {
		return b, err
	}
	if _, err := w.svc.Confirm(ctx, w.carrier, h.ID, pouch.ConfirmInput{SealScan: w.scan(ctx, b.ID)}, w.check(w.carrier)); err != nil {
		return nil, err
	}
	return w.svc.Get(ctx, b.ID, w.check(w.sec))
}

// deliverAs is the bearer releasing the bag to its destination registry.
func (w *world) deliverAs(ctx context.Context, actor policy.Subject, m pouch.Mutation) (*pouch.Bag, error) {
	b, _, err := w.svc.Deliver(ctx, actor, m, pouch.DeliverInput{}, w.check(actor))
	return b, err
}

// scan is a full scan of the bag's seals: every seal text, all packages, intact.
func (w *world) scan(ctx context.Context, bagID string) pouch.SealScan {
	w.t.Helper()
	seals, err := keyring.BagSeals(ctx, w.svc.Pool(), bagID)
	if err != nil {
		w.t.Fatal(err)
	}
	sc := pouch.SealScan{PackagesCounted: ptr(len(seals)), SealsIntact: ptr(true)}
	for _, s := range seals {
		sc.Seals = append(sc.Seals, s.Text)
	}
	return sc
}
