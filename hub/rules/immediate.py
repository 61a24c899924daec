"""Immediate rules: a matching event opens an alert for its device, or repeats it.

Within one batch, consecutive matches of one (rule, site, device) become one repeat
(`count` + n, one transition): a storm of presses is one notification per batch, not
hundreds. A `resolve_on` event from the same device resolves the alert (never a panic's:
the model refuses it), unless it is older than the alarm.

Judged by `at`, not arrival: an alarm stored after its device's restore (which came
first, to this hub or another) is opened and then resolved by that restore. For rules
with `resolve_on`, a (rule, site/device) advisory lock held to COMMIT makes hubs storing
one device's alarm and restore in concurrent transactions take turns, so the second sees
the first's alert or restore.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from hub.rules.context import raise_of
from hub.rules.correlation import lock_keys
from hub.rules.matching import in_schedule, matches
from hub.rules.model import ImmediateRule, Match
from wire import parse_time

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence
    from datetime import datetime

    from hub.rules.context import Context
    from hub.storage.alerts import AlertRow, Raise
    from wire import Event

__all__ = ["Immediate"]

Key = tuple[str, str]

_UNRESOLVED: Final = """
SELECT a.site, a.device FROM alerts a
JOIN unnest(%s::text[], %s::text[]) AS k(site, device) USING (site, device)
WHERE a.rule = %s AND a.state <> 'resolved'
"""

_STORED_RESTORE: Final = """
SELECT id, at FROM events
WHERE site = %s AND device = %s AND type = ANY(%s::text[]) AND at >= %s
ORDER BY at, id LIMIT 1
"""


@dataclass(slots=True)
class _Pending:
    """Matches of one device not yet written."""

    first_at: datetime
    last_at: datetime
    events: list[uuid.UUID] = field(default_factory=list)


class Immediate:
    """One immediate rule, compiled."""

    def __init__(self, rule: ImmediateRule) -> None:
        self.rule = rule
        self.name = rule.name
        self._restores = Match(types=rule.resolve_on) if rule.resolve_on else None

    def _raise(self, key: Key, pending: _Pending) -> Raise:
        return raise_of(
            self.rule,
            site=key[0],
            device=key[1],
            first_at=pending.first_at,
            last_at=pending.last_at,
            events=tuple(pending.events),
        )

    async def _unresolved(self, context: Context, events: Sequence[Event]) -> set[Key]:
        """The devices among the batch's restore events that have an unresolved alert of
        this rule: one query per batch, instead of one UPDATE per restore (a `door.closed`
        is common, an open `door-held-open` alert is not)."""
        if self._restores is None:
            return set()
        keys = {(e.site, e.device) for e in events if matches(self._restores, e)}
        if not keys:
            return set()
        sites, devices = zip(*sorted(keys), strict=True)
        await context.cur.execute(_UNRESOLVED, [list(sites), list(devices), self.name])
        return {(site, device) for site, device in await context.cur.fetchall()}

    async def _open(self, context: Context, key: Key, pending: _Pending) -> AlertRow:
        """Open (or repeat) the alert; resolve it at once if its restore is already stored."""
        alert = await context.open(self._raise(key, pending))
        if self._restores is None or alert.state == "resolved":
            return alert
        types = sorted(t.value for t in self._restores.event_types())
        await context.cur.execute(_STORED_RESTORE, [*key, types, pending.last_at])
        row = await context.cur.fetchone()
        if row is not None:
            await context.resolve(
                self.name,
                site=key[0],
                device=key[1],
                at=row[1],
                note=f"restored by event {row[0]}, stored before the alarm",
            )
        return alert

    async def on_events(self, context: Context, events: Sequence[Event]) -> None:
        """Apply the rule to a batch of new events, in order."""
        if self._restores is not None:
            restores = self._restores
            await lock_keys(
                context.cur,
                self.name,
                (
                    f"{e.site}/{e.device}"
                    for e in events
                    if matches(restores, e) or matches(self.rule.match, e)
                ),
            )
        pending: dict[Key, _Pending] = {}
        unresolved = await self._unresolved(context, events)
        for event in events:
            key = (event.site, event.device)
            if self._restores is not None and matches(self._restores, event):
                if key in pending:
                    await context.open(self._raise(key, pending.pop(key)))
                    unresolved.add(key)
                if key not in unresolved:
                    continue
                resolved = await context.resolve(
                    self.name,
                    site=event.site,
                    device=event.device,
                    at=parse_time(event.at),
                    note=f"restored by {event.type} (event {event.id})",
                )
                if resolved is not None:
                    unresolved.discard(key)
            elif matches(self.rule.match, event) and in_schedule(self.rule.schedule, event):
                at = parse_time(event.at)
                found = pending.setdefault(key, _Pending(first_at=at, last_at=at))
                found.first_at, found.last_at = min(found.first_at, at), max(found.last_at, at)
                found.events.append(event.id)
        # Key order: two hubs writing the same alerts lock their rows in one order.
        for key in sorted(pending):
            await self._open(context, key, pending[key])
