-- Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): a phone that
-- retries a POST with the same key gets the stored response instead of a
-- second action. One row per user and key; status is NULL while the first
-- request is running.

-- +goose Up
CREATE TABLE idempotency_keys (
    user_id      text NOT NULL,
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- SHA-256 of method, path, If-Match and body: the same key with another request is refused.
    request_hash bytea NOT NULL CHECK (length(request_hash) = 32),
    status       integer,
    headers      jsonb NOT NULL DEFAULT '{}',
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
