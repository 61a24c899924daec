"""Count rules: `count` matching events at one site within `within_s` → a site alert.

Like correlations, the events are the state: on each new match the rule counts the
site's matches in the `within_s` before it (by `at`), under the (rule, site) advisory
lock, and opens (or repeats) the site's alert when there are `count` or more.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Final

from psycopg import sql

from hub.rules.context import raise_of
from hub.rules.correlation import lock_sites
from hub.rules.matching import data_matches, in_schedule, match_sql, matches
from wire import parse_time

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hub.rules.context import Context
    from hub.rules.model import CountRule
    from wire import Event

__all__ = ["Count"]

_OPEN: Final = """
SELECT 1 FROM alerts WHERE rule = %s AND site = %s AND device IS NULL AND state <> 'resolved'
"""

_WINDOW: Final = """
SELECT id, at, data FROM events
WHERE site = %s AND at > %s AND at <= %s AND {match}
ORDER BY at, id LIMIT 1000
"""


class Count:
    """One count rule, compiled."""

    def __init__(self, rule: CountRule) -> None:
        self.rule = rule
        self.name = rule.name
        self._within = timedelta(seconds=rule.within_s)

    async def on_events(self, context: Context, events: Sequence[Event]) -> None:
        """For each site with new matches, count its window ending at its newest one."""
        rule, cur = self.rule, context.cur
        newest: dict[str, Event] = {}
        batch: dict[str, list[Event]] = {}
        for event in events:
            if matches(rule.match, event) and in_schedule(rule.schedule, event):
                batch.setdefault(event.site, []).append(event)
                if event.site not in newest or event.at >= newest[event.site].at:
                    newest[event.site] = event
        if not newest:
            return
        await lock_sites(cur, self.name, newest)
        condition, params = match_sql(rule.match)
        query = sql.SQL(_WINDOW).format(match=condition)
        for site in sorted(newest):
            await cur.execute(_OPEN, [rule.name, site])
            if await cur.fetchone() is not None:  # already open: add this batch's matches
                found = [(e.id, parse_time(e.at)) for e in batch[site]]
            else:
                at = parse_time(newest[site].at)
                await cur.execute(query, [site, at - self._within, at, *params])
                rows = await cur.fetchall()
                found = [(i, when) for i, when, data in rows if data_matches(rule.match, data)]
                if len(found) < rule.count:
                    continue
            found.sort(key=lambda row: row[1])
            await context.open(
                raise_of(
                    rule,
                    site=site,
                    device=None,
                    first_at=found[0][1],
                    last_at=found[-1][1],
                    events=tuple(row[0] for row in found),
                )
            )
