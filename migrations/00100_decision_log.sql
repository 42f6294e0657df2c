-- The decision log: every deny of the authorizer, with its full reason, for
-- security officers to read. Append-only by convention (no updates).

-- +goose Up
CREATE TABLE decision_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    user_id        text NOT NULL DEFAULT '',
    username       text NOT NULL DEFAULT '',
    unit_code      text NOT NULL DEFAULT '',
    action         text NOT NULL,
    resource_kind  text NOT NULL DEFAULT '',
    resource_id    text NOT NULL DEFAULT '',
    resource_level smallint NOT NULL DEFAULT 0,
    allowed        boolean NOT NULL DEFAULT false,
    hidden         boolean NOT NULL DEFAULT false,
    reason         text NOT NULL,
    detail         text NOT NULL DEFAULT ''
);
CREATE INDEX decision_log_at_idx ON decision_log (at DESC);
CREATE INDEX decision_log_user_idx ON decision_log (user_id, at DESC);

-- +goose Down
DROP TABLE decision_log;
