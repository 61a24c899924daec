"""What a rule may do, in the transaction it runs in: open or repeat an alert, resolve one.

Opening applies silences and inhibition: an alert covered by an active silence, or a
device alert at a site that an inhibiting rule (`site-blind`) has an unresolved alert
for, is stored and audited but not notified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from hub.storage.alerts import (
    AlertRow,
    Raise,
    mute,
    raise_alert,
    record_transition,
)
from hub.storage.incidents import group_alert
from hub.storage.lifecycle import resolve_key
from hub.storage.silences import active_silence
from wire import Transition

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence
    from datetime import datetime

    from psycopg import AsyncCursor

    from hub.rules.model import AnyRule

__all__ = ["Context", "actor_of", "raise_of"]

_INHIBITOR: Final = """
SELECT alert_id FROM alerts
WHERE site = %s AND device IS NULL AND state <> 'resolved' AND rule = ANY(%s::text[])
ORDER BY created_at LIMIT 1
"""


def raise_of(
    rule: AnyRule,
    *,
    site: str,
    device: str | None,
    first_at: datetime,
    last_at: datetime,
    events: tuple[uuid.UUID, ...] = (),
) -> Raise:
    """What `rule` raises for `site`/`device`: its severity, title, escalation, grouping."""
    after, group = rule.escalate_after_s, rule.group
    return Raise(
        rule=rule.name,
        severity=rule.severity.value,
        site=site,
        device=device,
        first_at=first_at,
        last_at=last_at,
        events=events,
        title=rule.title,
        escalate_after=None if after is None else timedelta(seconds=after),
        group=None if group is None else (timedelta(seconds=group.window_s), group.min_alerts),
    )


def actor_of(rule: str) -> str:
    """How the audit names a rule that acted."""
    return f"rule:{rule}"


@dataclass(slots=True)
class Context:
    """A rule's view of one transaction: `cur`, the time `now`, the inhibiting rules;
    `transitions` counts what it wrote."""

    cur: AsyncCursor[Any]
    now: datetime
    inhibitors: Sequence[str] = ()
    transitions: int = 0

    async def _inhibitor(self, site: str) -> uuid.UUID | None:
        if not self.inhibitors:
            return None
        await self.cur.execute(_INHIBITOR, [site, list(self.inhibitors)])
        row = await self.cur.fetchone()
        return None if row is None else row[0]

    async def open(self, what: Raise) -> AlertRow:
        """Open the alert `what` describes, or repeat the open one; its transition queued."""
        alert = await raise_alert(self.cur, what, now=self.now)
        notify = True
        if alert.revision == 1:
            silence = await active_silence(
                self.cur, rule=what.rule, site=what.site, device=what.device, at=self.now
            )
            inhibitor = None if what.device is None else await self._inhibitor(what.site)
            if silence is not None or inhibitor is not None:
                alert = await mute(self.cur, alert, silence_id=silence, inhibited_by=inhibitor)
            transition = Transition.OPENED
            notify = not await group_alert(self.cur, what, alert)
        else:
            transition = Transition.UPDATED
            notify = alert.incident_id is None  # a grouped alert is heard of as its incident
        await record_transition(
            self.cur, alert, transition, actor=actor_of(what.rule), notify=notify
        )
        self.transitions += 1
        return alert

    async def resolve(
        self, rule: str, *, site: str, device: str | None, at: datetime, note: str
    ) -> AlertRow | None:
        """Resolve the unresolved alert of (rule, site, device) that began by `at`."""
        resolved = await resolve_key(
            self.cur, rule=rule, site=site, device=device, at=at, actor=actor_of(rule), note=note
        )
        self.transitions += resolved is not None
        return resolved
