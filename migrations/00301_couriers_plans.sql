-- Couriers (career, ad hoc; Art. 1(1), 1(3); DM-04, DM-05) and dispatch
-- plans with their legs (planning stage; routes per DM-14; conveyance per
-- VCDR 27 and DM-15).

-- +goose Up
CREATE TABLE couriers (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind            text NOT NULL CHECK (kind IN ('career', 'ad_hoc')),
    -- career couriers stand for a user holding the courier role until the
    -- personnel issue links them to a staff record (DM-04); an ad hoc
    -- courier may have a user account too, to sign in on a phone.
    user_id         text,
    username        text,
    full_name       text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    -- ad hoc couriers are natural persons identified by a document (DM-05).
    doc_kind        text CHECK (doc_kind IN ('diplomatic_passport', 'service_passport', 'passport', 'id_card')),
    doc_number      text CHECK (length(doc_number) BETWEEN 1 AND 40),
    doc_country     text CHECK (doc_country ~ '^[A-Z]{2}$'),
    doc_expires     date,
    nationality     text CHECK (nationality ~ '^[A-Z]{2}$'),
    unit_id         uuid REFERENCES units (id),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'career' OR (user_id IS NOT NULL AND username IS NOT NULL)),
    CHECK (kind <> 'ad_hoc' OR (doc_kind IS NOT NULL AND doc_number IS NOT NULL AND doc_country IS NOT NULL AND doc_expires IS NOT NULL))
);
CREATE UNIQUE INDEX couriers_user_idx ON couriers (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX couriers_username_idx ON couriers (username);

CREATE TABLE dispatch_plans (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    origin_id           uuid NOT NULL REFERENCES units (id),
    destination_id      uuid NOT NULL REFERENCES units (id),
    -- unit codes in order: origin, relays, destination.
    route_codes         text[] NOT NULL,
    route_kind          text NOT NULL CHECK (route_kind IN ('mfa_to_institution', 'institution_to_mfa', 'relay', 'other')),
    needs_review        boolean NOT NULL,
    review_note         text NOT NULL DEFAULT '',
    conveyance          text NOT NULL CHECK (conveyance IN ('career_courier', 'ad_hoc_courier', 'aircraft_captain', 'freight')),
    planned_departure   timestamptz NOT NULL,
    planned_arrival     timestamptz NOT NULL CHECK (planned_arrival > planned_departure),
    created_by          text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (origin_id <> destination_id)
);

CREATE TABLE plan_legs (
    plan_id           uuid NOT NULL REFERENCES dispatch_plans (id),
    seq               integer NOT NULL CHECK (seq >= 1),
    from_city         text NOT NULL CHECK (length(from_city) BETWEEN 1 AND 100),
    to_city           text NOT NULL CHECK (length(to_city) BETWEEN 1 AND 100),
    conveyance        text NOT NULL CHECK (conveyance IN ('career_courier', 'ad_hoc_courier', 'aircraft_captain', 'freight')),
    flight            text NOT NULL DEFAULT '',
    -- an engaged legal entity (unit of kind carrier) for freight (DM-15).
    carrier_id        uuid REFERENCES units (id),
    captain_name      text NOT NULL DEFAULT '',
    planned_departure timestamptz,
    planned_arrival   timestamptz,
    PRIMARY KEY (plan_id, seq),
    CHECK (conveyance <> 'freight' OR carrier_id IS NOT NULL)
);

-- +goose Down
DROP TABLE plan_legs;
DROP TABLE dispatch_plans;
DROP TABLE couriers;
