-- Clearance grants (issue 10): every change of a user's clearance, with who
-- granted it and why. Append-only. A security officer who is not the
-- subject grants (the policy decides); the row and the change commit
-- together (identity.GrantClearance).

-- +goose Up
CREATE TABLE clearance_grants (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at                  timestamptz NOT NULL DEFAULT now(),
    user_id             uuid NOT NULL REFERENCES users (id),
    username            text NOT NULL,
    from_level          smallint NOT NULL CHECK (from_level BETWEEN 0 AND 4),
    to_level            smallint NOT NULL CHECK (to_level BETWEEN 0 AND 4),
    granted_by          uuid NOT NULL REFERENCES users (id),
    granted_by_username text NOT NULL,
    reason              text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    CHECK (granted_by <> user_id),
    CHECK (from_level <> to_level)
);
CREATE INDEX clearance_grants_user_idx ON clearance_grants (user_id, id DESC);

-- +goose StatementBegin
CREATE FUNCTION clearance_grants_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'clearance_grants is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
-- +goose StatementEnd
CREATE TRIGGER clearance_grants_append_only BEFORE UPDATE OR DELETE ON clearance_grants
    FOR EACH ROW EXECUTE FUNCTION clearance_grants_refuse_change();

-- +goose Down
DROP TRIGGER clearance_grants_append_only ON clearance_grants;
DROP FUNCTION clearance_grants_refuse_change();
DROP TABLE clearance_grants;
