-- 0009: camera snapshots. docs/schema.md ("snapshots") describes the table.
--
-- Forward-only: once applied, this file never changes (its checksum is recorded).

-- One JPEG per event, keyed by the event id the snapshot topic names: the first copy is
-- kept, repeats (the agent resends after a reconnect) are ignored. No foreign key to
-- `events`: a snapshot may arrive before its event (both ride lane P2, on different
-- topics), and `events` may be a hypertable whose retention drops chunks on its own.
CREATE TABLE snapshots (
    event_id    uuid        PRIMARY KEY,
    site        text        NOT NULL,
    kind        text        NOT NULL,
    device      text        NOT NULL,
    jpeg        bytea       NOT NULL CHECK (octet_length(jpeg) BETWEEN 3 AND 262144),
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Retention deletes the oldest first.
CREATE INDEX snapshots_received_at ON snapshots (received_at);
