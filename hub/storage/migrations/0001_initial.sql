-- 0001: the hub's first schema. docs/schema.md describes every table and column.
--
-- Forward-only: once applied, this file never changes (its checksum is recorded);
-- changes come as new numbered files.

-- Every event the hub has committed, exactly once per (id, at). `at` is fixed at the
-- edge and never changes on retry, so (id, at) identifies an event as `id` alone does;
-- `at` is in the key because TimescaleDB partitions on it (0002) and a hypertable's
-- unique keys must include the partitioning column.
CREATE TABLE events (
    id          uuid        NOT NULL,
    at          timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    site        text        NOT NULL,
    device      text        NOT NULL,
    kind        text        NOT NULL,
    type        text        NOT NULL,
    lane        smallint    NOT NULL CHECK (lane BETWEEN 0 AND 2),
    epoch       uuid        NOT NULL,
    seq         bigint      NOT NULL CHECK (seq >= 1),
    source      jsonb       NOT NULL,
    data        jsonb       NOT NULL,
    PRIMARY KEY (id, at)
);
CREATE INDEX events_site_at ON events (site, at DESC);
CREATE INDEX events_site_device_at ON events (site, device, at DESC);
CREATE INDEX events_type_at ON events (type, at DESC);
CREATE INDEX events_at ON events (at DESC);

-- Inputs the contract refuses (and rows the database refused), kept with the reason.
CREATE TABLE dead_letters (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text        NOT NULL,
    site        text,
    error       text        NOT NULL,
    reason      text        NOT NULL,
    error_path  text,
    epoch       uuid,
    seq         bigint,
    payload     bytea       NOT NULL,
    size        integer     NOT NULL CHECK (size >= 0),
    CHECK (octet_length(payload) <= size)
);
CREATE INDEX dead_letters_received_at ON dead_letters (received_at);
CREATE INDEX dead_letters_site_received_at ON dead_letters (site, received_at);

-- One row per device a site's inventory lists or its events or state mention.
CREATE TABLE devices (
    site          text        NOT NULL,
    device        text        NOT NULL,
    kind          text        NOT NULL,
    label         text,
    checkin_s     integer     CHECK (checkin_s > 0),
    inventoried   boolean     NOT NULL DEFAULT false,
    first_seen    timestamptz,
    last_seen     timestamptz,
    last_event_id uuid,
    last_type     text,
    last_state    jsonb,
    state_at      timestamptz,
    online        boolean,
    online_at     timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, device)
);

-- One row per site (monitoring room) the hub has heard of.
CREATE TABLE sites (
    site            text        PRIMARY KEY,
    state           text        CHECK (state IN ('online', 'offline')),
    status          jsonb,
    last_status_at  timestamptz,
    epoch           uuid,
    inventory_at    timestamptz,
    inventory_count integer,
    first_seen      timestamptz NOT NULL DEFAULT now()
);

-- Alerts raised by the rules. At most one alert per (rule, site, device) is not resolved:
-- a repeat updates it (dedup); NULLS NOT DISTINCT makes that hold for site-wide alerts too.
CREATE TABLE alerts (
    alert_id   uuid        PRIMARY KEY,
    rule       text        NOT NULL,
    severity   text        NOT NULL
        CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
    site       text        NOT NULL,
    device     text,
    state      text        NOT NULL DEFAULT 'open'
        CHECK (state IN ('open', 'acknowledged', 'resolved')),
    revision   bigint      NOT NULL CHECK (revision >= 1),
    count      bigint      NOT NULL CHECK (count >= 1),
    first_at   timestamptz NOT NULL,
    last_at    timestamptz NOT NULL,
    event_ids  uuid[]      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (first_at <= last_at)
);
CREATE UNIQUE INDEX alerts_active_key ON alerts (rule, site, device) NULLS NOT DISTINCT
    WHERE state <> 'resolved';
CREATE INDEX alerts_created ON alerts (created_at DESC, alert_id DESC);
CREATE INDEX alerts_site_created ON alerts (site, created_at DESC, alert_id DESC);

-- Every alert transition, written in the transaction that made it; the relay publishes
-- the rows in id order and stamps delivered_at (at-least-once).
CREATE TABLE alert_outbox (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id     uuid        NOT NULL REFERENCES alerts (alert_id),
    revision     bigint      NOT NULL,
    transition   text        NOT NULL,
    site         text        NOT NULL,
    payload      bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    UNIQUE (alert_id, revision)
);
CREATE INDEX alert_outbox_pending ON alert_outbox (id) WHERE delivered_at IS NULL;
