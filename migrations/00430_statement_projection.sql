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
    bad   bigint;
    r     record;
    since bigint;
BEGIN
    SELECT id INTO bad FROM new_events WHERE custodian_after IS NULL OR to_state IS NULL LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'bag event % carries no state or custodian after it', bad;
    END IF;
    PERFORM set_config('valise.projecting', 'on', true);
    -- Each bag of the statement (Valise writes one: one event, or one
    -- bag's run), after its last event.
    FOR r IN SELECT DISTINCT ON (bag_id) bag_id, id, to_state, recorded_at, custodian_after AS p,
                    count(*) OVER (PARTITION BY bag_id) AS n
               FROM new_events ORDER BY bag_id, id DESC LOOP
        since := r.id;
        IF r.n > 1 THEN
            SELECT min(e.id) INTO since FROM new_events e WHERE e.bag_id = r.bag_id AND e.id > coalesce(
                (SELECT max(f.id) FROM new_events f WHERE f.bag_id = r.bag_id AND f.custodian_after <> r.p), 0);
        END IF;
        UPDATE bags SET state = r.to_state, version = version + r.n, updated_at = r.recorded_at WHERE id = r.bag_id;
        UPDATE bag_custody c SET custodian_kind = r.p->>'kind', custodian_unit = coalesce(r.p->>'unit', ''),
               custodian_user = (r.p->>'user')::uuid, custodian_username = r.p->>'username',
               bearer_name = r.p->>'name', bearer_document = r.p->>'document', sheet_id = (r.p->>'sheet_id')::uuid,
               since_event = since, updated_at = r.recorded_at
         WHERE c.bag_id = r.bag_id
           AND (c.custodian_kind, c.custodian_unit, c.custodian_user, c.custodian_username, c.bearer_name,
                c.bearer_document, c.sheet_id)
               IS DISTINCT FROM (r.p->>'kind', coalesce(r.p->>'unit', ''), (r.p->>'user')::uuid, r.p->>'username',
                                 r.p->>'name', r.p->>'document', (r.p->>'sheet_id')::uuid);
    END LOOP;
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
