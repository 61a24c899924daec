-- 0008: the alert lifecycle (acknowledge, resolve, escalate), its audit trail, silences,
-- incidents (alerts of one rule across sites grouped), and the rules' own state.
--
-- Every transition of an alert is one row of `alert_audit` (append-only: a trigger
-- refuses UPDATE and DELETE) and, when it is notified, one row of `alert_outbox`, both
-- written in the transaction that made the transition.

ALTER TABLE alerts
    ADD COLUMN title         text,
    ADD COLUMN acked_by      text,
    ADD COLUMN acked_at      timestamptz,
    ADD COLUMN resolved_by   text,
    ADD COLUMN resolved_at   timestamptz,
    -- When an unacknowledged alert is escalated next (NULL: never, or no longer).
    ADD COLUMN escalate_at   timestamptz,
    ADD COLUMN escalations   integer NOT NULL DEFAULT 0,
    -- Why the alert is stored but not notified: the silence that covers it, or the
    -- alert that inhibits it (a blind site's `site.blind` inhibits its device alerts).
    ADD COLUMN silence_id    uuid,
    ADD COLUMN inhibited_by  uuid,
    ADD COLUMN incident_id   uuid;
CREATE INDEX alerts_escalate_at ON alerts (escalate_at) WHERE escalate_at IS NOT NULL;
CREATE INDEX alerts_site_state ON alerts (site, state);

CREATE TABLE alert_audit (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id   uuid        NOT NULL REFERENCES alerts (alert_id),
    revision   bigint      NOT NULL,
    transition text        NOT NULL
        CHECK (transition IN ('opened', 'updated', 'escalated', 'acknowledged', 'resolved')),
    severity   text        NOT NULL,
    actor      text        NOT NULL,
    note       text,
    notified   boolean     NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (alert_id, revision)
);

CREATE FUNCTION alert_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $append$
BEGIN
    RAISE EXCEPTION 'alert_audit is append-only (% refused)', TG_OP;
END
$append$;
CREATE TRIGGER alert_audit_append_only BEFORE UPDATE OR DELETE ON alert_audit
    FOR EACH STATEMENT EXECUTE FUNCTION alert_audit_append_only();

-- The transaction that wrote each outbox row: the live stream walks the outbox in
-- (xact, id) order and passes only rows whose transaction is older than every running
-- one, so a row committed late (with a smaller id, or a smaller xact) is never skipped.
ALTER TABLE alert_outbox ADD COLUMN xact xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX alert_outbox_xact_id ON alert_outbox (xact, id);

-- Silences: alerts matching every non-NULL of (site, device, rule) during
-- [starts_at, ends_at) are stored but not notified. Ended early by setting ends_at.
CREATE TABLE silences (
    silence_id uuid        PRIMARY KEY,
    site       text,
    device     text,
    rule       text,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    created_by text        NOT NULL,
    reason     text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (starts_at < ends_at),
    CHECK (device IS NULL OR site IS NOT NULL)
);
CREATE INDEX silences_ends_at ON silences (ends_at);

-- An incident: the alerts one rule opened across sites within its grouping window,
-- notified as one.
CREATE TABLE incidents (
    incident_id uuid        PRIMARY KEY,
    rule        text        NOT NULL,
    opened_at   timestamptz NOT NULL,
    last_at     timestamptz NOT NULL,
    count       bigint      NOT NULL CHECK (count >= 1),
    sites       text[]      NOT NULL,
    leader      uuid        NOT NULL REFERENCES alerts (alert_id),
    -- The count the last notification carried, and when it went: the rule clock sends
    -- the leader's `updated` transition when the count has grown, at most every 10 s.
    notified_count bigint   NOT NULL DEFAULT 0,
    notified_at timestamptz
);
CREATE INDEX incidents_rule_last ON incidents (rule, last_at DESC);
ALTER TABLE alerts ADD CONSTRAINT alerts_incident
    FOREIGN KEY (incident_id) REFERENCES incidents (incident_id);

-- What rules remember between events, keyed by rule and subject (site or site/device):
-- a condition waiting out its duration, a correlation window, when something was last
-- seen. In the database, not in a hub's memory: a restarted hub, or another hub on the
-- same shared subscription, carries on from here.
CREATE TABLE rule_state (
    rule       text        NOT NULL,
    subject    text        NOT NULL,
    since      timestamptz NOT NULL,
    due_at     timestamptz,
    data       jsonb       NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule, subject)
);
CREATE INDEX rule_state_due ON rule_state (due_at) WHERE due_at IS NOT NULL;

-- Live readers (the SSE stream) wait on this channel instead of polling: one
-- notification per statement that queued transitions, sent at commit.
CREATE FUNCTION alert_outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $notify$
BEGIN
    PERFORM pg_notify('shouwang_alert_outbox', '');
    RETURN NULL;
END
$notify$;
CREATE TRIGGER alert_outbox_notify AFTER INSERT ON alert_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION alert_outbox_notify();

-- When a device was first listed by its site's inventory (the `never-reported` rule
-- counts from here); devices inventoried before this migration count from now.
ALTER TABLE devices ADD COLUMN inventoried_at timestamptz;
UPDATE devices SET inventoried_at = now() WHERE inventoried;
