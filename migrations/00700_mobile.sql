-- The courier's phone (issue 12, mobile-api/): enrolled devices bound to a
-- courier, one-time enrolment codes (stored hashed), each device's record
-- chain (last counter and the hash of its last record's payload), and every
-- synced record's result keyed by (device, idempotency key) so a re-sent
-- batch changes nothing and gets the same answers.

-- +goose Up
CREATE TABLE mobile_settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO mobile_settings (key, value) VALUES
    ('bundle.offline_for', '72 hours'),   -- how long a downloaded bundle may be used offline
    ('clock.tolerance', '5 minutes');     -- a device time further ahead of the server is flagged

CREATE TABLE devices (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           uuid NOT NULL REFERENCES users (id),
    public_key        bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
    label             text NOT NULL DEFAULT '',
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked')),
    status_reason     text NOT NULL DEFAULT '',
    status_changed_by text NOT NULL DEFAULT '',
    status_changed_at timestamptz,
    enrolled_at       timestamptz NOT NULL DEFAULT now(),
    enrolled_by       text NOT NULL,           -- the officer who created the enrolment code
    last_counter      bigint NOT NULL DEFAULT 0,
    last_hash         bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000',
    last_device_time  timestamptz,
    last_seen_at      timestamptz
);
CREATE INDEX devices_user_idx ON devices (user_id);

CREATE TABLE device_enrolments (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code_hash  bytea NOT NULL UNIQUE,           -- sha256 of the code; the code itself is never stored
    user_id    uuid NOT NULL REFERENCES users (id),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    device_id  uuid REFERENCES devices (id)
);

CREATE TABLE device_records (
    device_id       uuid NOT NULL REFERENCES devices (id),
    idempotency_key text NOT NULL,
    counter         bigint NOT NULL,
    payload_sha256  bytea NOT NULL,
    result          jsonb,                     -- NULL while being applied
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, idempotency_key)
);

-- +goose Down
DROP TABLE device_records;
DROP TABLE device_enrolments;
DROP TABLE devices;
DROP TABLE mobile_settings;
