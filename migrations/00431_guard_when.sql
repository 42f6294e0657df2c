-- The guards that keep a bag's state and custodian derived from its history
-- (migration 00403) decide in the trigger's WHEN clause instead of in a
-- PL/pgSQL function called for every row: the projection's own updates
-- (valise.projecting on) no longer start a function call each, which was
-- the larger part of a guarded update's cost on the hand-off path. Any
-- other write still reaches bag_state_guard, which refuses it as before.

-- +goose Up
DROP TRIGGER bags_state_derived ON bags;
CREATE TRIGGER bags_state_derived BEFORE UPDATE OF state, version ON bags
    FOR EACH ROW WHEN ((OLD.state IS DISTINCT FROM NEW.state OR OLD.version IS DISTINCT FROM NEW.version)
                       AND current_setting('valise.projecting', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION bag_state_guard();
DROP TRIGGER bag_custody_derived ON bag_custody;
CREATE TRIGGER bag_custody_derived BEFORE UPDATE ON bag_custody
    FOR EACH ROW WHEN (current_setting('valise.projecting', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION bag_state_guard();

-- +goose Down
DROP TRIGGER bags_state_derived ON bags;
CREATE TRIGGER bags_state_derived BEFORE UPDATE OF state, version ON bags
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.version IS DISTINCT FROM NEW.version)
    EXECUTE FUNCTION bag_state_guard();
DROP TRIGGER bag_custody_derived ON bag_custody;
CREATE TRIGGER bag_custody_derived BEFORE UPDATE ON bag_custody
    FOR EACH ROW EXECUTE FUNCTION bag_state_guard();
