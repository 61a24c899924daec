"""PostgreSQL storage: the schema (migrations), batch writes, alerts, outbox, reads,
statistics, retention and webhooks.

docs/schema.md describes the tables, docs/storage.md TimescaleDB, statistics and
retention; `migrations/` holds the SQL that makes them.
"""

from hub.storage.alerts import AlertRow, raise_alert, record_transition
from hub.storage.migrate import MIGRATION_LOCK, Migration, known_migrations, migrate
from hub.storage.outbox import (
    RELAY_LOCK,
    Pending,
    claim_relay,
    mark_delivered,
    pending_transitions,
)
from hub.storage.queries import (
    AlertFilter,
    AlertRecord,
    EventFilter,
    EventRecord,
    Position,
    database_answers,
    list_alerts,
    list_events,
)
from hub.storage.retention import (
    RETENTION_LOCK,
    Retention,
    apply_policies,
    delete_expired,
    is_hypertable,
)
from hub.storage.stats import BUCKETS, Bucket, EventCount, event_counts, has_aggregates
from hub.storage.webhook_queue import WEBHOOK_FANOUT_LOCK
from hub.storage.writes import ONLINE_AFTER, write_inbound

__all__ = [
    "BUCKETS",
    "MIGRATION_LOCK",
    "ONLINE_AFTER",
    "RELAY_LOCK",
    "RETENTION_LOCK",
    "WEBHOOK_FANOUT_LOCK",
    "AlertFilter",
    "AlertRecord",
    "AlertRow",
    "Bucket",
    "EventCount",
    "EventFilter",
    "EventRecord",
    "Migration",
    "Pending",
    "Position",
    "Retention",
    "apply_policies",
    "claim_relay",
    "database_answers",
    "delete_expired",
    "event_counts",
    "has_aggregates",
    "is_hypertable",
    "known_migrations",
    "list_alerts",
    "list_events",
    "mark_delivered",
    "migrate",
    "pending_transitions",
    "raise_alert",
    "record_transition",
    "write_inbound",
]
