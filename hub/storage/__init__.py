"""PostgreSQL storage: the schema (migrations), batch writes, alerts, outbox and reads.

docs/schema.md describes the tables; `migrations/` holds the SQL that makes them.
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
from hub.storage.writes import ONLINE_AFTER, write_inbound

__all__ = [
    "MIGRATION_LOCK",
    "ONLINE_AFTER",
    "RELAY_LOCK",
    "AlertFilter",
    "AlertRecord",
    "AlertRow",
    "EventFilter",
    "EventRecord",
    "Migration",
    "Pending",
    "Position",
    "claim_relay",
    "database_answers",
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
