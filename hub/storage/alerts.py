"""Alerts, their lifecycle and their outbox, in the caller's transaction.

An alert is open, then acknowledged, then resolved; each step (and each repeat, each
escalation) is a transition: `revision` + 1, one `alert_audit` row saying who, when and
why, and, unless the alert is muted (silenced or inhibited), one `alert_outbox` row for
the relay. All of it happens in the transaction that made the step, so a transition is
either wholly recorded and queued for delivery, or not at all.

Raising, muting and recording transitions live here; the operators' and the clock's
steps (acknowledge, resolve, escalate) in `hub.storage.lifecycle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from wire import (
    MAX_ALERT_EVENTS,
    AlertTransition,
    Incident,
    Severity,
    Transition,
    encode,
    format_time,
    new_event_id,
)

if TYPE_CHECKING:
    import uuid
    from datetime import datetime, timedelta

    from psycopg import AsyncCursor

__all__ = [
    "AlertRow",
    "Raise",
    "alert_payload",
    "mute",
    "new_alert_id",
    "raise_alert",
    "record_transition",
]

MAX_BY: Final = 128
"""The contract's bound on `by` (who acted): longer actor names are cut."""

_COLUMNS: Final = (
    "alert_id, rule, severity, site, device, state, revision, count, first_at, last_at, "
    "event_ids, title, silence_id, inhibited_by, incident_id, escalations"
)


def _with_columns(query: str) -> str:
    """`query` with `{columns}` replaced by the columns an `AlertRow` is read from."""
    return query.replace("{columns}", _COLUMNS)


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
    title: str | None = None
    silence_id: uuid.UUID | None = None
    inhibited_by: uuid.UUID | None = None
    incident_id: uuid.UUID | None = None
    escalations: int = 0

    @property
    def muted(self) -> bool:
        """Whether its transitions are stored but not notified (silenced or inhibited)."""
        return self.silence_id is not None or self.inhibited_by is not None


def _row(values: tuple[Any, ...]) -> AlertRow:
    (alert_id, rule, severity, site, device, state, revision, count, first_at, last_at) = values[
        :10
    ]
    ids, title, silence, inhibited, incident, escalations = values[10:]
    return AlertRow(
        alert_id=alert_id,
        rule=rule,
        severity=severity,
        site=site,
        device=device,
        state=state,
        revision=revision,
        count=count,
        first_at=first_at,
        last_at=last_at,
        event_ids=tuple(ids),
        title=title,
        silence_id=silence,
        inhibited_by=inhibited,
        incident_id=incident,
        escalations=escalations,
    )


async def _one(cur: AsyncCursor[Any], what: str) -> AlertRow:
    row = await cur.fetchone()
    if row is None:
        message = f"{what} returned no row"
        raise RuntimeError(message)
    return _row(row)


# One statement, so two hubs raising the same alert at once cannot both open one: the
# partial unique index (rule, site, device) WHERE state <> 'resolved' sends the second
# into DO UPDATE. `event_ids` keeps the first MAX_ALERT_EVENTS ids; `count` goes on.
# Repeats may be older than what the alert has seen (late events): first_at and last_at
# only widen. The escalation deadline is set when the alert opens, never moved by repeats.
_RAISE: Final = _with_columns("""
INSERT INTO alerts AS a (
    alert_id, rule, severity, site, device, state, revision, count, first_at, last_at,
    event_ids, title, escalate_at
)
VALUES (%(alert_id)s, %(rule)s, %(severity)s, %(site)s, %(device)s, 'open', 1, %(count)s,
        %(first_at)s, %(last_at)s, (%(event_ids)s::uuid[])[1:%(max_events)s], %(title)s,
        %(now)s::timestamptz + %(escalate_after)s::interval)
ON CONFLICT (rule, site, device) WHERE state <> 'resolved' DO UPDATE SET
    revision = a.revision + 1,
    count = a.count + EXCLUDED.count,
    first_at = LEAST(a.first_at, EXCLUDED.first_at),
    last_at = GREATEST(a.last_at, EXCLUDED.last_at),
    event_ids = (a.event_ids || EXCLUDED.event_ids)[1:%(max_events)s],
    updated_at = now()
RETURNING {columns}
""")


@dataclass(frozen=True, slots=True)
class Raise:
    """What raises (or repeats) an alert: who, how bad, when, and the events behind it.

    `events` may be empty (an absence has no event); `count` is then 1.
    """

    rule: str
    severity: str
    site: str
    device: str | None
    first_at: datetime
    last_at: datetime
    events: tuple[uuid.UUID, ...] = ()
    title: str | None = None
    escalate_after: timedelta | None = None
    group: tuple[timedelta, int] | None = None
    """(window, min_alerts) when the rule groups its alerts into incidents."""


async def raise_alert(
    cur: AsyncCursor[Any], what: Raise, *, now: datetime, new_id: uuid.UUID | None = None
) -> AlertRow:
    """Open an alert (revision 1) or add `what` to the unresolved one of its key.

    A new alert is escalated `what.escalate_after` after `now` unless acknowledged.
    """
    await cur.execute(
        _RAISE,
        {
            "alert_id": new_id or new_event_id(),
            "rule": what.rule,
            "severity": what.severity,
            "site": what.site,
            "device": what.device,
            "count": max(1, len(what.events)),
            "first_at": what.first_at,
            "last_at": what.last_at,
            "event_ids": list(what.events),
            "title": what.title,
            "now": now,
            "escalate_after": what.escalate_after,
            "max_events": MAX_ALERT_EVENTS,
        },
    )
    return await _one(cur, f"raising alert {what.rule!r} for {what.site}/{what.device}")


_MUTE: Final = _with_columns("""
UPDATE alerts SET silence_id = %s, inhibited_by = %s, updated_at = now()
WHERE alert_id = %s RETURNING {columns}
""")


async def mute(
    cur: AsyncCursor[Any],
    alert: AlertRow,
    *,
    silence_id: uuid.UUID | None,
    inhibited_by: uuid.UUID | None,
) -> AlertRow:
    """Record why `alert` is not notified (both None: it is notified again)."""
    await cur.execute(_MUTE, [silence_id, inhibited_by, alert.alert_id])
    return await _one(cur, f"muting alert {alert.alert_id}")


def alert_payload(
    alert: AlertRow,
    transition: Transition,
    *,
    by: str | None = None,
    note: str | None = None,
    incident: Incident | None = None,
) -> bytes:
    """The wire form of `alert` after `transition`, as the relay publishes it."""
    return encode(
        AlertTransition(
            v=1,
            alert_id=alert.alert_id,
            revision=alert.revision,
            transition=transition,
            rule=alert.rule,
            severity=Severity(alert.severity),
            site=alert.site,
            device=alert.device,
            count=alert.count,
            first_at=format_time(alert.first_at),
            last_at=format_time(alert.last_at),
            event_ids=alert.event_ids,
            by=None if by is None else by[:MAX_BY],
            note=note,
            incident=incident,
        )
    )


_AUDIT: Final = """
INSERT INTO alert_audit (alert_id, revision, transition, severity, actor, note, notified)
VALUES (%s, %s, %s, %s, %s, %s, %s)
"""

_OUTBOX: Final = """
INSERT INTO alert_outbox (alert_id, revision, transition, site, payload)
VALUES (%s, %s, %s, %s, %s)
"""


async def record_transition(
    cur: AsyncCursor[Any],
    alert: AlertRow,
    transition: Transition,
    *,
    actor: str,
    note: str | None = None,
    notify: bool = True,
    incident: Incident | None = None,
) -> bool:
    """Audit `transition` of `alert` by `actor` and queue it for delivery unless `alert`
    is muted or `notify` is False; whether it was queued. `incident` rides along in the
    payload (the leading alert of an incident)."""
    queued = notify and not alert.muted
    await cur.execute(
        _AUDIT,
        [alert.alert_id, alert.revision, transition.value, alert.severity, actor, note, queued],
    )
    if queued:
        payload = alert_payload(alert, transition, by=actor, note=note, incident=incident)
        await cur.execute(
            _OUTBOX, [alert.alert_id, alert.revision, transition.value, alert.site, payload]
        )
    return queued


def new_alert_id() -> uuid.UUID:
    """A time-ordered alert id (UUIDv7, like events': the key index stays append-mostly)."""
    return new_event_id()
