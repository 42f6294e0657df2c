-- The per-bag chain's fork guard (migration 00401: UNIQUE (bag_id,
-- prev_hash)) was the largest index of the history, about 100 bytes an
-- event. The guard needs only that no two events of a bag claim the same
-- predecessor: the first 8 bytes of the link say as much (a bag would need
-- billions of events for two honest links to share them by chance, and
-- that would refuse an event, never fork the chain), at about 60 bytes an
-- event. See docs/decisions.md, "Each event stored once".

-- +goose Up
SET LOCAL statement_timeout = 0;
CREATE UNIQUE INDEX bag_events_chain_prefix_idx ON bag_events (bag_id, substring(prev_hash FROM 1 FOR 8));
DROP INDEX bag_events_chain_idx;

-- +goose Down
SET LOCAL statement_timeout = 0;
CREATE UNIQUE INDEX bag_events_chain_idx ON bag_events (bag_id, prev_hash);
DROP INDEX bag_events_chain_prefix_idx;
