-- The bag's state and custodian are projected from its history once per
-- INSERT statement instead of once per event row (migration 00403). A run
-- of events of one bag written by one multi-row INSERT (a phone's batch of
-- checkpoint scans, pouch.QueueEvents) then updates the bag's row once:
-- a row trigger updated the same bags row once per event, and each update
-- had to walk the chain of versions the earlier ones left in the page.
-- The projection is the same: the state and custodian after the bag's
-- last event of the statement (its highest id: ids are taken in chain
-- order under the bag's lock), the version counting every event, the
-- custodian's since_event the event of the statement that made it so.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION bag_history_project_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad bigint;
BEGIN
    SELECT id INTO bad FROM new_events WHERE custodian_after IS NULL OR to_state IS NULL LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'bag event % carries no state or custodian after it', bad;
    END IF;
    PERFORM set_config('valise.projecting', 'on', true);
    WITH last AS (
        SELECT DISTINCT ON (bag_id) bag_id, id, to_state, recorded_at, custodian_after AS p,
               count(*) OVER (PARTITION BY bag_id) AS n
          FROM new_events ORDER BY bag_id, id DESC
    ), bag_rows AS (
        UPDATE bags b SET state = last.to_state, version = b.version + last.n, updated_at = last.recorded_at
          FROM last WHERE b.id = last.bag_id
    )
    UPDATE bag_custody c SET custodian_kind = p->>'kind', custodian_unit = coalesce(p->>'unit', ''),
           custodian_user = (p->>'user')::uuid, custodian_username = p->>'username',
           bearer_name = p->>'name', bearer_document = p->>'document', sheet_id = (p->>'sheet_id')::uuid,
           since_event = (SELECT min(e.id) FROM new_events e WHERE e.bag_id = last.bag_id AND e.id > coalesce(
                              (SELECT max(f.id) FROM new_events f WHERE f.bag_id = last.bag_id AND f.custodian_after <> last.p), 0)),
           updated_at = last.recorded_at
      FROM last
     WHERE c.bag_id = last.bag_id
       AND (c.custodian_kind, c.custodian_unit, c.custodian_user, c.custodian_username, c.bearer_name,
            c.bearer_document, c.sheet_id)
           IS DISTINCT FROM (p->>'kind', coalesce(p->>'unit', ''), (p->>'user')::uuid, p->>'username', p->>'name',
                             p->>'document', (p->>'sheet_id')::uuid);
    PERFORM set_config('valise.projecting', 'off', true);
    RETURN NULL;
END $$;
-- +goose StatementEnd
DROP TRIGGER bag_events_project ON bag_events;
CREATE TRIGGER bag_events_project AFTER INSERT ON bag_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION bag_history_project_rows();

-- +goose Down
DROP TRIGGER bag_events_project ON bag_events;
CREATE TRIGGER bag_events_project AFTER INSERT ON bag_events
    FOR EACH ROW EXECUTE FUNCTION bag_history_project();
DROP FUNCTION bag_history_project_rows();
