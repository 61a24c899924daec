"""Correlation rules: `first` then `then` at one site within `within_s`.

The events themselves are the state: they are in `events` (this transaction's included)
when the rules run, so on a `first` event the rule looks for a `then` in the following
`within_s`, and on a `then` event for a `first` in the preceding `within_s`, judged by
`at` whatever the arrival order. A transaction-scoped advisory lock per (rule, site),
taken in key order, makes two hubs writing one site's events take turns, so the second
sees the first's events and the pair is never missed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from psycopg import sql

from hub.rules.context import raise_of
from hub.rules.matching import data_matches, in_schedule, match_sql, matches
from wire import parse_time

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from psycopg import AsyncCursor

    from hub.rules.context import Context
    from hub.rules.model import CorrelationRule, Match
    from hub.storage.alerts import Raise
    from wire import Event

__all__ = ["Correlation", "lock_keys", "lock_sites"]

_PARTNERS: Final = """
SELECT id, at, device, data FROM events
WHERE site = %s AND at >= %s AND at <= %s AND {match}
ORDER BY at, id LIMIT 50
"""


# One round trip for a batch's keys; unnest keeps the array's (sorted) order.
_LOCK_KEYS: Final = """
SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM unnest(%s::text[]) AS k
"""


async def lock_keys(cur: AsyncCursor[Any], rule: str, keys: Iterable[str]) -> None:
    """Take the (rule, key) advisory locks of a batch, in key order (no deadlocks).

    Held until the transaction ends: hubs writing events of the same keys take turns, and
    each sees, once it has the lock, what the previous holder committed (READ COMMITTED
    takes a new snapshot per statement).
    """
    wanted = [f"{rule}|{key}" for key in sorted(set(keys))]
    if wanted:
        await cur.execute(_LOCK_KEYS, [wanted])


async def lock_sites(cur: AsyncCursor[Any], rule: str, sites: Iterable[str]) -> None:
    """Take the (rule, site) advisory locks of a batch, in key order (no deadlocks)."""
    await lock_keys(cur, rule, sites)


class Correlation:
    """One correlation rule, compiled with the links of its file."""

    def __init__(self, rule: CorrelationRule, links: frozenset[tuple[str, str, str]]) -> None:
        self.rule = rule
        self.name = rule.name
        self._within = timedelta(seconds=rule.within_s)
        self._links = links

    def _linked(self, site: str, first: str, then: str) -> bool:
        return not self.rule.linked or (site, first, then) in self._links

    async def _partners(
        self, cur: AsyncCursor[Any], match: Match, site: str, low: datetime, high: datetime
    ) -> list[tuple[Any, ...]]:
        condition, params = match_sql(match)
        query = sql.SQL(_PARTNERS).format(match=condition)
        await cur.execute(query, [site, low, high, *params])
        rows = await cur.fetchall()
        return [(i, at, device) for i, at, device, data in rows if data_matches(match, data)]

    def _raise(self, site: str, first: tuple[Any, ...], then: tuple[Any, ...]) -> Raise:
        return raise_of(
            self.rule,
            site=site,
            device=first[2],
            first_at=first[1],
            last_at=then[1],
            events=(first[0], then[0]),
        )

    async def on_events(self, context: Context, events: Sequence[Event]) -> None:
        """Pair each new `first` or `then` event with its partners already stored."""
        rule, cur = self.rule, context.cur
        relevant = [e for e in events if matches(rule.first, e) or matches(rule.then, e)]
        if not relevant:
            return
        await lock_sites(cur, self.name, (e.site for e in relevant))
        opened: dict[tuple[Any, Any], tuple[str, tuple[Any, ...], tuple[Any, ...]]] = {}
        for event in relevant:
            at = parse_time(event.at)
            me = (event.id, at, event.device)
            if matches(rule.first, event) and in_schedule(rule.schedule, event):
                for then in await self._partners(cur, rule.then, event.site, at, at + self._within):
                    if then[0] != event.id and self._linked(event.site, event.device, then[2]):
                        opened[event.id, then[0]] = (event.site, me, then)
            if matches(rule.then, event):
                low = at - self._within
                for first in await self._partners(cur, rule.first, event.site, low, at):
                    if first[0] != event.id and self._linked(event.site, first[2], event.device):
                        opened[first[0], event.id] = (event.site, first, me)
        for site, first, then in sorted(opened.values(), key=lambda p: (p[0], p[1][2], p[1][1])):
            await context.open(self._raise(site, first, then))
