"""Incidents: alerts of one rule across many sites, notified as one.

When a rule with `group` opens its `min_alerts`-th alert within `window` (by the alerts'
`first_at`), those alerts form an incident led by the earliest; later alerts of the rule
within `window` of the incident's last join it. Grouped alerts are stored and audited
but not notified one by one (the ones notified before the incident formed stay so); the
rule clock notifies the leader's `updated` transition, carrying the incident's count and
sites, whenever the count has grown, at most every `NOTIFY_EVERY`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from hub.storage.alerts import AlertRow, Raise, _row, _with_columns, record_transition
from wire import MAX_INCIDENT_SITES, Incident, Transition, new_event_id

if TYPE_CHECKING:
    from datetime import datetime

    from psycopg import AsyncCursor

__all__ = ["NOTIFY_EVERY", "group_alert", "notify_incidents"]

NOTIFY_EVERY: Final = timedelta(seconds=10)

_LOCK: Final = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"

_CURRENT: Final = """
SELECT incident_id FROM incidents
WHERE rule = %s AND last_at >= %s::timestamptz - %s::interval
ORDER BY last_at DESC LIMIT 1
"""

_JOIN: Final = """
UPDATE incidents SET count = count + 1, last_at = GREATEST(last_at, %(at)s),
    sites = CASE WHEN %(site)s = ANY(sites) OR cardinality(sites) >= %(max_sites)s
        THEN sites ELSE sites || %(site)s::text END
WHERE incident_id = %(incident)s
"""

_CANDIDATES: Final = """
SELECT alert_id, site, first_at FROM alerts
WHERE rule = %s AND incident_id IS NULL AND state <> 'resolved'
    AND first_at >= %s::timestamptz - %s::interval
ORDER BY first_at, alert_id
"""

_FORM: Final = """
INSERT INTO incidents (incident_id, rule, opened_at, last_at, count, sites, leader)
VALUES (%s, %s, %s, %s, %s, %s, %s)
"""

_ATTACH: Final = "UPDATE alerts SET incident_id = %s WHERE alert_id = ANY(%s::uuid[])"


async def group_alert(cur: AsyncCursor[Any], what: Raise, alert: AlertRow) -> bool:
    """File the newly opened `alert` under its rule's incident, forming one when this is
    the `min_alerts`-th; whether it is grouped (then it is not notified on its own)."""
    if what.group is None:
        return False
    window, min_alerts = what.group
    await cur.execute(_LOCK, [f"incident|{alert.rule}"])  # one rule's alerts take turns
    await cur.execute(_CURRENT, [alert.rule, alert.first_at, window])
    row = await cur.fetchone()
    if row is not None:
        params = {
            "incident": row[0],
            "at": alert.first_at,
            "site": alert.site,
            "max_sites": MAX_INCIDENT_SITES,
        }
        await cur.execute(_JOIN, params)
        await cur.execute(_ATTACH, [row[0], [alert.alert_id]])
        return True
    await cur.execute(_CANDIDATES, [alert.rule, alert.first_at, window])
    candidates = await cur.fetchall()
    if len(candidates) < min_alerts:
        return False
    sites = list(dict.fromkeys(site for _, site, _ in candidates))[:MAX_INCIDENT_SITES]
    incident = new_event_id()
    first, last = candidates[0][2], max(at for *_, at in candidates)
    leader = candidates[0][0]
    await cur.execute(_FORM, [incident, alert.rule, first, last, len(candidates), sites, leader])
    await cur.execute(_ATTACH, [incident, [alert_id for alert_id, _, _ in candidates]])
    return True


_DUE: Final = """
SELECT incident_id, leader, count, sites FROM incidents
WHERE count > notified_count AND (notified_at IS NULL OR notified_at <= %s)
ORDER BY opened_at LIMIT 100
FOR UPDATE SKIP LOCKED
"""

_BUMP_LEADER: Final = _with_columns("""
UPDATE alerts SET revision = revision + 1, updated_at = now()
WHERE alert_id = %s AND state <> 'resolved' RETURNING {columns}
""")

_NOTIFIED: Final = (
    "UPDATE incidents SET notified_count = %s, notified_at = %s WHERE incident_id = %s"
)


async def notify_incidents(cur: AsyncCursor[Any], now: datetime, actor: str) -> int:
    """Queue the leader's `updated` transition of every incident that grew since its last
    notification (at most one per `NOTIFY_EVERY`); how many were queued."""
    await cur.execute(_DUE, [now - NOTIFY_EVERY])
    queued = 0
    for incident_id, leader, count, sites in await cur.fetchall():
        await cur.execute(_BUMP_LEADER, [leader])
        row = await cur.fetchone()
        if row is not None:  # a resolved leader says nothing more
            alert = _row(row)
            note = f"incident: {count} alerts of {alert.rule} at {len(sites)} sites"
            incident = Incident(incident_id=incident_id, count=count, sites=tuple(sites))
            await record_transition(
                cur, alert, Transition.UPDATED, actor=actor, note=note, incident=incident
            )
            queued += 1
        await cur.execute(_NOTIFIED, [count, now, incident_id])
    return queued
