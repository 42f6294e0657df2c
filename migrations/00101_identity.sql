-- Identity: users, their password credentials, sessions (refresh-token
-- families), token signing keys (private halves sealed under the master key)
-- and login throttling.

-- +goose Up
CREATE TABLE users (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username     text NOT NULL UNIQUE CHECK (username ~ '^[a-z][a-z0-9._-]{2,63}$'),
    full_name    text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    unit_id      uuid NOT NULL REFERENCES units (id),
    roles        text[] NOT NULL DEFAULT '{}' CHECK (roles <@ ARRAY['admin', 'registry_clerk', 'dispatcher',
                     'courier', 'security_officer', 'personnel_officer', 'auditor']::text[]),
    clearance    smallint NOT NULL DEFAULT 0 CHECK (clearance BETWEEN 0 AND 4),
    -- career or ad_hoc: set exactly when the user is a courier.
    courier_kind text CHECK (courier_kind IN ('career', 'ad_hoc')),
    -- unit codes a security officer or auditor oversees; '*' = every unit.
    scope        text[] NOT NULL DEFAULT '{}',
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    version      integer NOT NULL DEFAULT 1,
    CHECK ((courier_kind IS NOT NULL) = ('courier' = ANY (roles)))
);
CREATE INDEX users_unit_idx ON users (unit_id);

-- One argon2id PHC string per user; the parameters live in the string.
CREATE TABLE credentials (
    user_id       uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    changed_at    timestamptz NOT NULL DEFAULT now()
);

-- A session is one login: a family of refresh tokens. Revoking it ends every
-- access token that names it (checked on each request).
CREATE TABLE sessions (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    remote         text NOT NULL DEFAULT '',
    revoked_at     timestamptz,
    revoked_reason text
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;

-- Refresh tokens are stored as SHA-256 hashes; used_at marks a rotated one,
-- whose reuse revokes the family.
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- Ed25519 keys that sign access tokens. The newest unretired key signs; a
-- retired key still verifies until retired_at + the access-token lifetime.
CREATE TABLE signing_keys (
    kid                text PRIMARY KEY,
    public_key         bytea NOT NULL CHECK (length(public_key) = 32),
    private_key_sealed bytea NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    retired_at         timestamptz
);

-- Consecutive login failures per username (known or not, so throttling does
-- not reveal which accounts exist) and the lock they lead to.
CREATE TABLE login_throttle (
    username        text PRIMARY KEY,
    failures        integer NOT NULL DEFAULT 0,
    last_failure_at timestamptz,
    last_remote     text NOT NULL DEFAULT '',
    locked_until    timestamptz,
    lock_count      integer NOT NULL DEFAULT 0
);
CREATE INDEX login_throttle_locked_idx ON login_throttle (locked_until) WHERE locked_until IS NOT NULL;

-- +goose Down
DROP TABLE login_throttle;
DROP TABLE signing_keys;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE credentials;
DROP TABLE users;
