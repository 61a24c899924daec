"""Duration rules: a condition that holds for `for_s`, from a start event to a stop event.

A start event arms a row of `rule_state` (subject `site/device`, `since` = its `at`,
`due_at` = `since + for_s`); a later start keeps the earliest. A stop event from the same
device with `at` at or after `since` disarms it. The hub's rule clock (`tick`) opens the
alert of every armed row whose `due_at` has passed. Judged by the events' `at`, not by
arrival: a stop that arrives late but happened after `due_at` means the condition did
hold, so the alert is opened then (and resolved by that stop, if the rule says so). A
start that arrives after its stop (stored earlier, by this hub or another) looks for that
stop before arming: one in time means nothing held; one after `due_at` opens the alert.

Several hubs may store one device's start and stop in concurrent transactions; a
(rule, site/device) advisory lock held to COMMIT makes them take turns, so the second
sees the first's row or event.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from psycopg import sql
from psycopg.types.json import Jsonb

from hub.rules.context import raise_of
from hub.rules.correlation import lock_keys
from hub.rules.matching import data_matches, in_schedule, match_sql, matches
from wire import parse_time

if TYPE_CHECKING:
    from collections.abc import Sequence

    from psycopg import AsyncCursor

    from hub.rules.context import Context
    from hub.rules.model import DurationRule
    from hub.storage.alerts import Raise
    from wire import Event

__all__ = ["Duration"]

_ARM: Final = """
INSERT INTO rule_state AS r (rule, subject, since, due_at, data)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (rule, subject) DO UPDATE SET
    since = LEAST(r.since, EXCLUDED.since), due_at = LEAST(r.due_at, EXCLUDED.due_at),
    data = CASE WHEN EXCLUDED.since < r.since THEN EXCLUDED.data ELSE r.data END,
    updated_at = now()
"""

_DISARM: Final = """
DELETE FROM rule_state WHERE rule = %s AND subject = %s AND since <= %s
RETURNING since, due_at, data
"""

_DUE: Final = """
DELETE FROM rule_state WHERE (rule, subject) IN (
    SELECT rule, subject FROM rule_state
    WHERE rule = %s AND due_at <= %s
    ORDER BY due_at LIMIT %s
    FOR UPDATE SKIP LOCKED
)
RETURNING since, due_at, data
"""

# The device's earliest stop at or after a start: it may have been stored first.
_STOPS: Final = """
SELECT id, at, data FROM events
WHERE site = %s AND device = %s AND at >= %s AND {match}
ORDER BY at, id LIMIT 50
"""

BATCH: Final = 500


class Duration:
    """One duration rule, compiled."""

    def __init__(self, rule: DurationRule) -> None:
        self.rule = rule
        self.name = rule.name
        self._for = timedelta(seconds=rule.for_s)

    def _raise(self, since: datetime, due: datetime, data: dict[str, Any]) -> Raise:
        event: uuid.UUID | None = data.get("event")
        return raise_of(
            self.rule,
            site=data["site"],
            device=data["device"],
            first_at=since,
            last_at=due,
            events=() if event is None else (event,),
        )

    async def _stored_stop(
        self, cur: AsyncCursor[Any], event: Event, since: datetime
    ) -> tuple[uuid.UUID, datetime] | None:
        """The earliest stored stop of `event`'s device at or after `since`, if any."""
        condition, params = match_sql(self.rule.stop)
        query = sql.SQL(_STOPS).format(match=condition)
        await cur.execute(query, [event.site, event.device, since, *params])
        for event_id, at, data in await cur.fetchall():
            if data_matches(self.rule.stop, data):
                return event_id, at
        return None

    async def _start(self, context: Context, event: Event, subject: str) -> None:
        """Arm on `event`, unless its stop is already stored (it arrived first)."""
        at = parse_time(event.at)
        due = at + self._for
        data = {"site": event.site, "device": event.device, "event": str(event.id)}
        stop = await self._stored_stop(context.cur, event, at)
        if stop is None:
            await context.cur.execute(_ARM, [self.name, subject, at, due, Jsonb(data)])
            return
        if stop[1] < due:
            return  # it ended in time: nothing held
        await context.open(self._raise(at, due, _data(data)))
        if self.rule.resolve_on_stop:
            note = f"ended by event {stop[0]}"
            await context.resolve(
                self.name, site=event.site, device=event.device, at=stop[1], note=note
            )

    async def on_events(self, context: Context, events: Sequence[Event]) -> None:
        """Arm on start events, disarm on stop events, in batch order."""
        cur = context.cur
        rule = self.rule
        subjects = [
            f"{e.site}/{e.device}"
            for e in events
            if matches(rule.stop, e) or matches(rule.start, e)
        ]
        await lock_keys(cur, self.name, subjects)
        for event in events:
            subject = f"{event.site}/{event.device}"
            at = parse_time(event.at)
            if matches(self.rule.stop, event):
                await cur.execute(_DISARM, [self.name, subject, at])
                row = await cur.fetchone()
                if row is not None and at >= row[1]:  # it held: the clock had not seen it yet
                    await context.open(self._raise(row[0], row[1], _data(row[2])))
                if self.rule.resolve_on_stop:
                    note = f"ended by {event.type} (event {event.id})"
                    await context.resolve(
                        self.name, site=event.site, device=event.device, at=at, note=note
                    )
            elif matches(self.rule.start, event) and in_schedule(self.rule.schedule, event):
                await self._start(context, event, subject)

    async def tick(self, context: Context) -> int:
        """Open the alerts of conditions that have held long enough; how many."""
        await context.cur.execute(_DUE, [self.name, context.now, BATCH])
        due = await context.cur.fetchall()
        for since, due_at, data in sorted(due, key=lambda row: (row[2]["site"], row[2]["device"])):
            await context.open(self._raise(since, due_at, _data(data)))
        return len(due)


def _data(stored: dict[str, Any]) -> dict[str, Any]:
    """The armed row's data with its event id as a UUID again."""
    event = stored.get("event")
    return {**stored, "event": None if event is None else uuid.UUID(event)}
