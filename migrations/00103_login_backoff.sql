-- Logins an attacker cannot turn against their owners (issue 10): failed
-- logins slow down the pair (username, remote address) that makes them, by
-- an exponential back-off; login_throttle keeps the per-account ceiling
-- (failures from every address within a window), whose lock a security
-- officer can lift. Keyed by username whether or not the account exists.

-- +goose Up
CREATE TABLE login_backoff (
    username        text NOT NULL,
    remote          text NOT NULL,
    failures        integer NOT NULL DEFAULT 0,
    last_failure_at timestamptz NOT NULL,
    blocked_until   timestamptz,
    PRIMARY KEY (username, remote)
);
CREATE INDEX login_backoff_blocked_idx ON login_backoff (blocked_until) WHERE blocked_until IS NOT NULL;
ALTER TABLE login_throttle ADD COLUMN lifted_at timestamptz, ADD COLUMN lifted_by text;

-- +goose Down
ALTER TABLE login_throttle DROP COLUMN lifted_at, DROP COLUMN lifted_by;
DROP TABLE login_backoff;
