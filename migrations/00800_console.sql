-- The web console (issue 16, web/console/): the registry clerk's desk lists
-- the submissions waiting at their registry (no bag holds them yet), oldest
-- first; this keeps that list an index scan however many have been bagged.

-- +goose Up
CREATE INDEX submissions_waiting_idx ON submissions (registry_id, created_at) WHERE bag_id IS NULL;

-- +goose Down
DROP INDEX submissions_waiting_idx;
