"""The steps of an alert's lifecycle after it opens: acknowledge, resolve, escalate.

Each runs in the caller's transaction and records its transition (audit, and outbox
unless muted) through `hub.storage.alerts.record_transition`, so a step is recorded and
queued whole, or not at all.

Errors: `AlertStateError` (the step does not apply to the alert's state: acknowledging a
resolved alert, resolving one twice).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from hub.errors import HubError
from hub.storage.alerts import AlertRow, _one, _row, _with_columns, record_transition
from wire import Severity, Transition

if TYPE_CHECKING:
    import uuid
    from datetime import datetime, timedelta

    from psycopg import AsyncCursor

__all__ = [
    "SEVERITY_UP",
    "AlertStateError",
    "acknowledge",
    "due_for_escalation",
    "escalate",
    "get_alert",
    "resolve",
    "resolve_key",
]

SEVERITY_UP: Final = {
    Severity.INFO: Severity.LOW,
    Severity.LOW: Severity.MEDIUM,
    Severity.MEDIUM: Severity.HIGH,
    Severity.HIGH: Severity.CRITICAL,
    Severity.CRITICAL: Severity.CRITICAL,
}
"""One step up, for escalation (critical stays critical, and is notified again)."""


class AlertStateError(HubError):
    """A lifecycle step that does not apply to the alert's current state."""

    def __init__(self, alert_id: uuid.UUID, state: str, step: str) -> None:
        super().__init__(f"alert {alert_id} is {state}: it cannot be {step}")
        self.alert_id = alert_id
        self.state = state


_GET: Final = _with_columns("""
SELECT {columns} FROM alerts
WHERE alert_id = %s AND (%s::text[] IS NULL OR site = ANY(%s::text[]))
""")


async def get_alert(
    cur: AsyncCursor[Any], alert_id: uuid.UUID, sites: list[str] | None, *, lock: bool = False
) -> AlertRow | None:
    """The alert `alert_id` if it is in `sites` (None: any site); `lock` takes its row lock."""
    query = _GET_LOCKED if lock else _GET
    await cur.execute(query, [alert_id, sites, sites])
    row = await cur.fetchone()
    return None if row is None else _row(row)


_GET_LOCKED: Final = _GET + " FOR UPDATE"

_ACK: Final = _with_columns("""
UPDATE alerts SET state = 'acknowledged', revision = revision + 1, acked_by = %s,
    acked_at = now(), escalate_at = NULL, updated_at = now()
WHERE alert_id = %s RETURNING {columns}
""")

_RESOLVE: Final = _with_columns("""
UPDATE alerts SET state = 'resolved', revision = revision + 1, resolved_by = %s,
    resolved_at = now(), escalate_at = NULL, updated_at = now()
WHERE alert_id = %s RETURNING {columns}
""")


async def acknowledge(
    cur: AsyncCursor[Any],
    alert_id: uuid.UUID,
    *,
    actor: str,
    note: str | None,
    sites: list[str] | None,
) -> AlertRow | None:
    """Acknowledge an open alert in `sites`; None if there is none such.

    `AlertStateError` if it is already acknowledged or resolved. Stops its escalation.
    """
    alert = await get_alert(cur, alert_id, sites, lock=True)
    if alert is None:
        return None
    if alert.state != "open":
        raise AlertStateError(alert_id, alert.state, "acknowledged")
    await cur.execute(_ACK, [actor, alert_id])
    acked = await _one(cur, f"acknowledging alert {alert_id}")
    await record_transition(cur, acked, Transition.ACKNOWLEDGED, actor=actor, note=note)
    return acked


async def resolve(
    cur: AsyncCursor[Any],
    alert_id: uuid.UUID,
    *,
    actor: str,
    note: str,
    sites: list[str] | None,
) -> AlertRow | None:
    """Resolve an open or acknowledged alert in `sites`; None if there is none such.

    `AlertStateError` if it is already resolved.
    """
    alert = await get_alert(cur, alert_id, sites, lock=True)
    if alert is None:
        return None
    if alert.state == "resolved":
        raise AlertStateError(alert_id, alert.state, "resolved")
    await cur.execute(_RESOLVE, [actor, alert_id])
    resolved = await _one(cur, f"resolving alert {alert_id}")
    await record_transition(cur, resolved, Transition.RESOLVED, actor=actor, note=note)
    return resolved


_SETTLE: Final = _with_columns("""
UPDATE alerts SET state = 'resolved', revision = revision + 1, resolved_by = %(actor)s,
    resolved_at = now(), escalate_at = NULL, updated_at = now()
WHERE rule = %(rule)s AND site = %(site)s AND device IS NOT DISTINCT FROM %(device)s
    AND state <> 'resolved' AND first_at <= %(at)s
RETURNING {columns}
""")


async def resolve_key(
    cur: AsyncCursor[Any],
    *,
    rule: str,
    site: str,
    device: str | None,
    at: datetime,
    actor: str,
    note: str,
) -> AlertRow | None:
    """Resolve the unresolved alert of (rule, site, device) that began at or before `at`
    (a restore older than the alarm does not end it); None if there is none."""
    params = {"rule": rule, "site": site, "device": device, "at": at, "actor": actor}
    await cur.execute(_SETTLE, params)
    row = await cur.fetchone()
    if row is None:
        return None
    resolved = _row(row)
    await record_transition(cur, resolved, Transition.RESOLVED, actor=actor, note=note)
    return resolved


_ESCALATE: Final = _with_columns("""
UPDATE alerts SET severity = %s, revision = revision + 1, escalations = escalations + 1,
    escalate_at = %s::timestamptz + %s::interval, updated_at = now()
WHERE alert_id = %s AND state = 'open' RETURNING {columns}
""")


async def escalate(
    cur: AsyncCursor[Any],
    alert: AlertRow,
    *,
    now: datetime,
    again_after: timedelta | None,
    actor: str,
    note: str,
) -> AlertRow:
    """Raise `alert` one severity step, re-notify it, and set its next deadline (None:
    no further escalation)."""
    severity = SEVERITY_UP[Severity(alert.severity)]
    await cur.execute(_ESCALATE, [severity.value, now, again_after, alert.alert_id])
    escalated = await _one(cur, f"escalating alert {alert.alert_id}")
    await record_transition(cur, escalated, Transition.ESCALATED, actor=actor, note=note)
    return escalated


_DUE: Final = _with_columns("""
SELECT {columns} FROM alerts
WHERE escalate_at <= %s AND state = 'open'
ORDER BY escalate_at LIMIT %s
FOR UPDATE SKIP LOCKED
""")


async def due_for_escalation(cur: AsyncCursor[Any], now: datetime, limit: int) -> list[AlertRow]:
    """Open alerts past their deadline at `now`, row-locked (other hubs skip them)."""
    await cur.execute(_DUE, [now, limit])
    return [_row(row) for row in await cur.fetchall()]
