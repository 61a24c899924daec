"""Alerts and their outbox: raising or updating an alert, recording each transition.

Both run in the caller's transaction, the one that stored the event that caused them,
so an alert transition exists exactly when its outbox row does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from wire import MAX_ALERT_EVENTS, Transition

if TYPE_CHECKING:
    import uuid
    from datetime import datetime

    from psycopg import AsyncCursor

__all__ = ["AlertRow", "raise_alert", "record_transition"]

# One statement, so two hubs raising the same alert at once cannot both open one: the
# partial unique index (rule, site, device) WHERE state <> 'resolved' sends the second
# into DO UPDATE. `event_ids` keeps the first MAX_ALERT_EVENTS ids; `count` goes on.
_RAISE: Final = """
INSERT INTO alerts AS a (
    alert_id, rule, severity, site, device, state, revision, count, first_at, last_at,
    event_ids
)
VALUES (%(alert_id)s, %(rule)s, %(severity)s, %(site)s, %(device)s, 'open', 1, 1,
        %(at)s, %(at)s, ARRAY[%(event_id)s]::uuid[])
ON CONFLICT (rule, site, device) WHERE state <> 'resolved' DO UPDATE SET
    revision = a.revision + 1,
    count = a.count + 1,
    first_at = LEAST(a.first_at, EXCLUDED.first_at),
    last_at = GREATEST(a.last_at, EXCLUDED.last_at),
    event_ids = CASE WHEN cardinality(a.event_ids) < %(max_events)s
        THEN a.event_ids || EXCLUDED.event_ids ELSE a.event_ids END,
    updated_at = now()
RETURNING alert_id, rule, severity, site, device, state, revision, count, first_at, last_at,
    event_ids
"""

_RECORD: Final = """
INSERT INTO alert_outbox (alert_id, revision, transition, site, payload)
VALUES (%s, %s, %s, %s, %s)
"""


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert as stored after a change."""

    alert_id: uuid.UUID
    rule: str
    severity: str
    site: str
    device: str | None
    state: str
    revision: int
    count: int
    first_at: datetime
    last_at: datetime
    event_ids: tuple[uuid.UUID, ...]


async def raise_alert(
    cur: AsyncCursor[Any],
    *,
    rule: str,
    severity: str,
    site: str,
    device: str | None,
    at: str,
    event_id: uuid.UUID,
    new_id: uuid.UUID,
) -> AlertRow:
    """Open an alert (revision 1, id `new_id`) or update the unresolved one of the key."""
    await cur.execute(
        _RAISE,
        {
            "alert_id": new_id,
            "rule": rule,
            "severity": severity,
            "site": site,
            "device": device,
            "at": at,
            "event_id": event_id,
            "max_events": MAX_ALERT_EVENTS,
        },
    )
    row = await cur.fetchone()
    if row is None:  # INSERT ... ON CONFLICT DO UPDATE always returns the row
        message = f"raising alert {rule!r} for {site}/{device} returned no row"
        raise RuntimeError(message)
    (alert_id, rule_, severity_, site_, device_, state, revision, count, first, last, ids) = row
    return AlertRow(
        alert_id=alert_id,
        rule=rule_,
        severity=severity_,
        site=site_,
        device=device_,
        state=state,
        revision=revision,
        count=count,
        first_at=first,
        last_at=last,
        event_ids=tuple(ids),
    )


async def record_transition(
    cur: AsyncCursor[Any], alert: AlertRow, transition: Transition, payload: bytes
) -> None:
    """Queue the encoded transition of `alert` for the relay."""
    await cur.execute(
        _RECORD, [alert.alert_id, alert.revision, transition.value, alert.site, payload]
    )
