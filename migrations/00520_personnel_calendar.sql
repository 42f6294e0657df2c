-- Working-day calendar and personnel alert lead times (issue 14, shared by
-- rotation, postings, secondment and passports).
--
-- The law counts many deadlines in working days without defining them
-- (rotation-digest §2: "use the RK production calendar"); the calendar is
-- Monday to Friday minus the public holidays and non-working days kept here,
-- plus the weekend days a transfer declares working. Personnel officers of
-- every unit maintain it through the API; every change is a row of
-- public_holiday_changes (who, when, why, the act it rests on).

-- +goose Up
CREATE TABLE public_holidays (
    day        date PRIMARY KEY,
    -- holiday: a weekday that is not worked; working_day: a weekend day
    -- worked by a transfer (a government decree moving a day off).
    kind       text NOT NULL CHECK (kind IN ('holiday', 'working_day')),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE public_holiday_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    day         date NOT NULL,
    -- regular: the override was removed (the day is what its weekday makes it).
    kind        text NOT NULL CHECK (kind IN ('holiday', 'working_day', 'regular')),
    name        text NOT NULL DEFAULT '',
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    act_number  text NOT NULL,
    act_date    date NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX public_holiday_changes_day_idx ON public_holiday_changes (day, id);
CREATE TRIGGER public_holiday_changes_append_only BEFORE UPDATE OR DELETE ON public_holiday_changes
    FOR EACH ROW EXECUTE FUNCTION personnel_append_only();

-- Lead times of personnel alerts: the law sets the deadlines, not how long
-- before one an officer is warned; these are settings (settings.Defs).
INSERT INTO pouch_settings (key, value, basis) VALUES
    ('personnel.alert_lead', '30 days', 'default; not in the law: how long before a personnel deadline its alert starts')
ON CONFLICT (key) DO NOTHING;

-- +goose Down
DELETE FROM setting_changes WHERE key = 'personnel.alert_lead';
DELETE FROM pouch_settings WHERE key = 'personnel.alert_lead';
DROP TABLE public_holiday_changes;
DROP TABLE public_holidays;
