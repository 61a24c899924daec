"""Absence rules: what no agent can report, found by the hub's rule clock.

- `agent`: a site whose agent said `offline` (its LWT) at least `offline_grace_s` ago,
  or whose last status is older than `grace_s`, gets one alert for the whole site
  (device NULL); it is resolved once a fresh `online` status is in.
- `never_reported`: an inventoried device with no event `grace_s` after it was first
  inventoried; resolved when it reports.
- `canary`: a site whose device `canary_device` has sent nothing for `grace_s` (agents
  emit a `test.periodic` canary: when it stops arriving, the path agent → broker → hub
  is broken somewhere even if every part looks up); resolved when it arrives again.
- `relay`: a site with an alert transition still undelivered to MQTT `grace_s` after
  it was written: the relay is stalled (broker unreachable, relay stuck). The alert
  still reaches webhooks, the live stream and the console; resolved once delivered.

Each tick is one query for what is missing and has no unresolved alert yet, and one for
what has an unresolved alert and is no longer missing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Final

from psycopg import sql

from hub.rules.context import raise_of

if TYPE_CHECKING:
    from hub.rules.context import Context
    from hub.rules.model import AbsenceRule
    from hub.storage.alerts import Raise

__all__ = ["Absence"]

LIMIT: Final = 1000

# (site, device) pairs missing at %(now)s; %(rule)s has no unresolved alert for them.
_MISSING: Final = {
    "agent": """
SELECT s.site, NULL::text FROM sites s
WHERE s.last_status_at IS NOT NULL AND (
    (s.state = 'offline' AND s.last_status_at <= %(now)s - %(offline_grace)s)
    OR s.last_status_at <= %(now)s - %(grace)s)
""",
    "never_reported": """
SELECT d.site, d.device FROM devices d
WHERE d.inventoried AND d.last_seen IS NULL AND d.inventoried_at <= %(now)s - %(grace)s
""",
    "canary": """
SELECT d.site, d.device FROM devices d
WHERE d.device = %(canary)s AND d.last_seen <= %(now)s - %(grace)s
""",
    "relay": """
SELECT DISTINCT o.site, NULL::text FROM alert_outbox o
WHERE o.delivered_at IS NULL AND o.created_at <= %(now)s - %(grace)s
""",
}

_NEWLY_MISSING: Final = """
SELECT m.site, m.device FROM ({missing}) AS m(site, device)
WHERE NOT EXISTS (
    SELECT 1 FROM alerts a WHERE a.rule = %(rule)s AND a.site = m.site
        AND a.device IS NOT DISTINCT FROM m.device AND a.state <> 'resolved')
ORDER BY 1, 2 LIMIT {limit}
"""

_BACK: Final = """
SELECT a.site, a.device FROM alerts a
WHERE a.rule = %(rule)s AND a.state <> 'resolved' AND NOT EXISTS (
    SELECT 1 FROM ({missing}) AS m(site, device)
    WHERE m.site = a.site AND m.device IS NOT DISTINCT FROM a.device)
ORDER BY 1, 2 LIMIT {limit}
"""


class Absence:
    """One absence rule, compiled."""

    def __init__(self, rule: AbsenceRule) -> None:
        self.rule = rule
        self.name = rule.name
        self._missing = _MISSING[rule.of]

    def _params(self, context: Context) -> dict[str, object]:
        rule = self.rule
        return {
            "rule": rule.name,
            "now": context.now,
            "grace": timedelta(seconds=rule.grace_s),
            "offline_grace": timedelta(seconds=rule.offline_grace_s),
            "canary": rule.canary_device,
        }

    def _raise(self, site: str, device: str | None, context: Context) -> Raise:
        now = context.now
        return raise_of(self.rule, site=site, device=device, first_at=now, last_at=now)

    async def tick(self, context: Context) -> int:
        """Open alerts for what went missing, resolve those of what is back; changes made."""
        cur, params = context.cur, self._params(context)
        missing_query = sql.SQL(_NEWLY_MISSING).format(
            missing=sql.SQL(self._missing), limit=sql.Literal(LIMIT)
        )
        await cur.execute(missing_query, params)
        missing = await cur.fetchall()
        for site, device in missing:
            await context.open(self._raise(site, device, context))
        back_query = sql.SQL(_BACK).format(missing=sql.SQL(self._missing), limit=sql.Literal(LIMIT))
        await cur.execute(back_query, params)
        back = await cur.fetchall()
        for site, device in back:
            await context.resolve(
                self.name, site=site, device=device, at=context.now, note="reporting again"
            )
        return len(missing) + len(back)
