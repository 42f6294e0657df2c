-- What a border officer reads on a courier sheet (issue 11): the position of
-- the issuing officer and of the bearer, and the local time of the issuing
-- unit beside UTC.

-- +goose Up
-- A user's official position ("Third Secretary, Consular Department").
ALTER TABLE users ADD COLUMN position text NOT NULL DEFAULT '' CHECK (length(position) <= 200);
-- An ad hoc courier's position, as the sheet names it (a career courier's is
-- their account's).
ALTER TABLE couriers ADD COLUMN position text NOT NULL DEFAULT '' CHECK (length(position) <= 200);
-- The IANA time zone of a unit (its local time on printed documents); empty
-- means UTC only. Countries with one zone get it by default.
ALTER TABLE units ADD COLUMN time_zone text NOT NULL DEFAULT '' CHECK (time_zone ~ '^([A-Za-z_]+(/[A-Za-z0-9_+-]+)*)?$');
-- +goose StatementBegin
CREATE FUNCTION unit_default_time_zone(country text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE $1
    WHEN 'KZ' THEN 'Asia/Almaty' WHEN 'DE' THEN 'Europe/Berlin' WHEN 'JP' THEN 'Asia/Tokyo'
    WHEN 'FR' THEN 'Europe/Paris' WHEN 'GB' THEN 'Europe/London' WHEN 'IT' THEN 'Europe/Rome'
    WHEN 'ES' THEN 'Europe/Madrid' WHEN 'AT' THEN 'Europe/Vienna' WHEN 'CH' THEN 'Europe/Zurich'
    WHEN 'BE' THEN 'Europe/Brussels' WHEN 'NL' THEN 'Europe/Amsterdam' WHEN 'PL' THEN 'Europe/Warsaw'
    WHEN 'TR' THEN 'Europe/Istanbul' WHEN 'BY' THEN 'Europe/Minsk' WHEN 'UA' THEN 'Europe/Kyiv'
    WHEN 'GE' THEN 'Asia/Tbilisi' WHEN 'AM' THEN 'Asia/Yerevan' WHEN 'AZ' THEN 'Asia/Baku'
    WHEN 'UZ' THEN 'Asia/Tashkent' WHEN 'KG' THEN 'Asia/Bishkek' WHEN 'TJ' THEN 'Asia/Dushanbe'
    WHEN 'TM' THEN 'Asia/Ashgabat' WHEN 'CN' THEN 'Asia/Shanghai' WHEN 'KR' THEN 'Asia/Seoul'
    WHEN 'IN' THEN 'Asia/Kolkata' WHEN 'AE' THEN 'Asia/Dubai' WHEN 'SA' THEN 'Asia/Riyadh'
    WHEN 'IR' THEN 'Asia/Tehran' WHEN 'EG' THEN 'Africa/Cairo' WHEN 'SG' THEN 'Asia/Singapore'
    ELSE '' END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION units_default_time_zone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.time_zone = '' THEN
        NEW.time_zone := unit_default_time_zone(NEW.country);
    END IF;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER units_default_time_zone BEFORE INSERT ON units FOR EACH ROW EXECUTE FUNCTION units_default_time_zone();
UPDATE units SET time_zone = unit_default_time_zone(country) WHERE time_zone = '';

-- +goose Down
DROP TRIGGER units_default_time_zone ON units;
DROP FUNCTION units_default_time_zone();
DROP FUNCTION unit_default_time_zone(text);
ALTER TABLE units DROP COLUMN time_zone;
ALTER TABLE couriers DROP COLUMN position;
ALTER TABLE users DROP COLUMN position;
