-- Issue 15: an entitlement decision is corrected by a new decision that
-- supersedes it (with its reason and act, by a personnel officer of the
-- record's scope). Both stay: entitlement_decisions is append-only, so the
-- link is on the new row; a decision is superseded at most once.

-- +goose Up
ALTER TABLE entitlement_decisions ADD COLUMN supersedes uuid UNIQUE REFERENCES entitlement_decisions (id);

-- +goose Down
ALTER TABLE entitlement_decisions DROP COLUMN supersedes;
