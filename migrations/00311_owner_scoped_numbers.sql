-- Uniqueness belongs to the owner of a numbering (issue 10): an item's
-- registry number is unique within its sender's numbering, a physical seal
-- serial within the seal stock of the registry that seals the bag (its
-- origin). A global index told a clerk that another unit had used a number.
-- Each row carries its owner, filled by a trigger so every writer (and the
-- test fixtures that insert packages directly) gets it right; the indexes
-- keep their names, which the domain code recognises in a unique violation.

-- +goose Up
ALTER TABLE submission_items ADD COLUMN sender_id uuid REFERENCES units (id);
UPDATE submission_items i SET sender_id = s.sender_id FROM submissions s WHERE s.id = i.submission_id;
ALTER TABLE submission_items ALTER COLUMN sender_id SET NOT NULL;
DROP INDEX submission_items_registry_idx;
CREATE UNIQUE INDEX submission_items_registry_idx ON submission_items (sender_id, registry_number)
    WHERE registry_number IS NOT NULL;

ALTER TABLE bag_packages ADD COLUMN registry_id uuid REFERENCES units (id);
UPDATE bag_packages p SET registry_id = b.origin_id FROM bags b WHERE b.id = p.bag_id;
ALTER TABLE bag_packages ALTER COLUMN registry_id SET NOT NULL;
DROP INDEX bag_packages_seal_idx;
CREATE UNIQUE INDEX bag_packages_seal_idx ON bag_packages (registry_id, seal_serial) WHERE seal_serial IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION submission_items_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT s.sender_id INTO NEW.sender_id FROM submissions s WHERE s.id = NEW.submission_id;
    RETURN NEW;
END $$;
CREATE FUNCTION bag_packages_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT b.origin_id INTO NEW.registry_id FROM bags b WHERE b.id = NEW.bag_id;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER submission_items_owner BEFORE INSERT OR UPDATE OF submission_id ON submission_items
    FOR EACH ROW EXECUTE FUNCTION submission_items_owner();
CREATE TRIGGER bag_packages_owner BEFORE INSERT OR UPDATE OF bag_id ON bag_packages
    FOR EACH ROW EXECUTE FUNCTION bag_packages_owner();

-- +goose Down
DROP TRIGGER bag_packages_owner ON bag_packages;
DROP TRIGGER submission_items_owner ON submission_items;
DROP FUNCTION bag_packages_owner();
DROP FUNCTION submission_items_owner();
DROP INDEX bag_packages_seal_idx;
CREATE UNIQUE INDEX bag_packages_seal_idx ON bag_packages (seal_serial) WHERE seal_serial IS NOT NULL;
ALTER TABLE bag_packages DROP COLUMN registry_id;
DROP INDEX submission_items_registry_idx;
CREATE UNIQUE INDEX submission_items_registry_idx ON submission_items (registry_number) WHERE registry_number IS NOT NULL;
ALTER TABLE submission_items DROP COLUMN sender_id;
