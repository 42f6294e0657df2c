-- Organization units: the ministry and its departments, foreign institutions,
-- state bodies and other organizations (senders), and carriers. They form a tree.

-- +goose Up
CREATE TABLE units (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code       text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{1,15}$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind       text NOT NULL CHECK (kind IN ('ministry', 'department', 'embassy', 'consulate',
                                             'permanent_mission', 'state_body', 'organization', 'carrier')),
    country    text CHECK (country ~ '^[A-Z]{2}$'),
    parent_id  uuid REFERENCES units (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version    integer NOT NULL DEFAULT 1
);
CREATE INDEX units_parent_idx ON units (parent_id);

-- +goose Down
DROP TABLE units;
