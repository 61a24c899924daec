-- 0007: webhooks. docs/alerting.md ("Webhooks") describes them.
--
-- Forward-only: once applied, this file never changes (its checksum is recorded).

-- When the webhook fan-out copied the transition into `webhook_messages` (one per
-- matching endpoint). A timestamp per row rather than a cursor on `id`: ids of
-- concurrent transactions commit out of order, so a cursor would skip rows.
ALTER TABLE alert_outbox ADD COLUMN webhooks_at timestamptz;
-- Transitions older than webhooks are not sent to endpoints registered from now on.
UPDATE alert_outbox SET webhooks_at = created_at;
CREATE INDEX alert_outbox_webhooks_pending ON alert_outbox (id) WHERE webhooks_at IS NULL;

-- Endpoints registered through the API. The secrets are kept in clear because they sign
-- (HMAC); the API shows each once and never lists them.
CREATE TABLE webhook_endpoints (
    id                  uuid        PRIMARY KEY,
    url                 text        NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description         text        CHECK (length(description) <= 500),
    all_sites           boolean     NOT NULL,
    sites               text[]      NOT NULL DEFAULT '{}',
    min_severity        text
        CHECK (min_severity IN ('critical', 'high', 'medium', 'low', 'info')),
    secret              text        NOT NULL,
    previous_secret     text,
    previous_expires_at timestamptz,
    enabled             boolean     NOT NULL DEFAULT true,
    disabled_at         timestamptz,
    disabled_reason     text,
    created_by          text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (all_sites = (cardinality(sites) = 0)),
    CHECK ((previous_secret IS NULL) = (previous_expires_at IS NULL))
);

-- One message per (endpoint, transition): `pending` until a 2xx (`delivered`) or the
-- end of its retry window (`failed`). `next_attempt_at` is also the lease of a message
-- being sent: a claim moves it past the longest attempt, so no other hub takes it.
CREATE TABLE webhook_messages (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id     uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    outbox_id       bigint      NOT NULL REFERENCES alert_outbox (id) ON DELETE CASCADE,
    alert_id        uuid        NOT NULL,
    revision        bigint      NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    settled_at      timestamptz,
    UNIQUE (endpoint_id, outbox_id)
);
CREATE INDEX webhook_messages_due ON webhook_messages (next_attempt_at)
    WHERE state = 'pending';
-- The ordering check: an earlier pending revision of the same alert for the endpoint.
CREATE INDEX webhook_messages_alert ON webhook_messages (endpoint_id, alert_id, revision)
    WHERE state = 'pending';

-- The delivery log: one row per attempt.
CREATE TABLE webhook_attempts (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id       bigint      NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    endpoint_id      uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    attempt          integer     NOT NULL CHECK (attempt >= 1),
    at               timestamptz NOT NULL DEFAULT now(),
    status_code      integer,
    error            text        CHECK (length(error) <= 1024),
    duration_ms      integer     NOT NULL CHECK (duration_ms >= 0),
    response_excerpt text        CHECK (length(response_excerpt) <= 4096),
    CHECK ((status_code IS NULL) <> (error IS NULL))
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id DESC);
CREATE INDEX webhook_attempts_message ON webhook_attempts (message_id);
