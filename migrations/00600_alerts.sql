-- Alerts: conditions worth telling someone about (an overdue bag, a new
-- incident, a deadline about to pass, a failed seal check, a seal key or the
-- trust list about to expire), recorded once each; who wants which by
-- e-mail; webhook endpoints; and every delivery with each of its attempts.

-- +goose Up
ALTER TABLE users ADD COLUMN email text
    CHECK (email IS NULL OR (length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'));

-- One row per condition: key names the condition (e.g. bag_overdue:<bag>:<last event>),
-- so a condition is recorded once however often the scan sees it. The id is
-- random and is all an e-mail or webhook carries.
CREATE TABLE alerts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    key         text NOT NULL UNIQUE,
    kind        text NOT NULL CHECK (kind IN ('bag_overdue', 'bag_past_due', 'incident_opened', 'breach_opened',
                    'incident_deadline', 'seal_check_failed', 'seal_key_expiring', 'trust_list_stale')),
    -- what the policy decides visibility by: the bag (bag.read), the
    -- incident (incident.read, on its bag) or the seal keys (keys.manage).
    resource    text NOT NULL CHECK (resource IN ('bag', 'incident', 'keys')),
    bag_id      uuid REFERENCES bags (id),
    incident_id uuid REFERENCES incidents (id),
    subject     text NOT NULL DEFAULT '',  -- keys: the kid, or the trust list's sequence
    due_at      timestamptz,               -- the deadline or expiry the alert is about
    raised_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((resource = 'keys') = (bag_id IS NULL)),
    CHECK ((resource = 'incident') = (incident_id IS NOT NULL))
);
CREATE INDEX alerts_bag_idx ON alerts (bag_id);

-- +goose StatementBegin
CREATE FUNCTION alerts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
-- +goose StatementEnd
CREATE TRIGGER alerts_append_only BEFORE UPDATE OR DELETE ON alerts
    FOR EACH ROW EXECUTE FUNCTION alerts_append_only();

-- What each user receives, per kind and channel (only e-mail for now).
CREATE TABLE alert_subscriptions (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    channel    text NOT NULL CHECK (channel IN ('email')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, kind, channel)
);

-- Webhook endpoints, registered by security officers. The HMAC secret must
-- be recoverable to sign, so it is sealed: secret.Seal(master, secret,
-- "alert_webhook:"+id). A webhook sees what its creator may see.
CREATE TABLE alert_webhooks (
    id          uuid PRIMARY KEY,
    url         text NOT NULL CHECK (length(url) <= 2000),
    kinds       text[] NOT NULL CHECK (cardinality(kinds) > 0),
    secret      bytea NOT NULL,
    created_by  uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    deleted_by  text
);

-- One delivery per alert and recipient (a user's e-mail or a webhook).
CREATE TABLE alert_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    alert_id        uuid NOT NULL REFERENCES alerts (id),
    channel         text NOT NULL CHECK (channel IN ('email', 'webhook')),
    user_id         uuid REFERENCES users (id) ON DELETE CASCADE,
    webhook_id      uuid REFERENCES alert_webhooks (id),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    CHECK ((channel = 'email') = (user_id IS NOT NULL)),
    CHECK ((channel = 'webhook') = (webhook_id IS NOT NULL)),
    UNIQUE (alert_id, user_id),
    UNIQUE (alert_id, webhook_id)
);
CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (next_attempt_at) WHERE status = 'pending';

-- Every attempt of a delivery, as it happened.
CREATE TABLE alert_delivery_attempts (
    delivery_id uuid NOT NULL REFERENCES alert_deliveries (id) ON DELETE CASCADE,
    attempt     integer NOT NULL CHECK (attempt >= 1),
    at          timestamptz NOT NULL,
    ok          boolean NOT NULL,
    error       text,
    PRIMARY KEY (delivery_id, attempt)
);

-- +goose Down
DROP TABLE alert_delivery_attempts;
DROP TABLE alert_deliveries;
DROP TABLE alert_webhooks;
DROP TABLE alert_subscriptions;
DROP TABLE alerts;
DROP FUNCTION alerts_append_only();
ALTER TABLE users DROP COLUMN email;
