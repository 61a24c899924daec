"""Duration rules: a condition that holds for `for_s`, from a start event to a stop event.

A start event arms a row of `rule_state` (subject `site/device`, `since` = its `at`,
`due_at` = `since + for_s`); a later start keeps the earliest. A stop event from the same
device with `at` at or after `since` disarms it. The hub's rule clock (`tick`) opens the
alert of every armed row whose `due_at` has passed. Judged by the events' `at`, not by
arrival: a stop that arrives late but happened after `due_at` means the condition did
hold, so the alert is opened then (and resolved by that stop, if the rule says so).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from psycopg.types.json import Jsonb

from hub.rules.context import raise_of
from hub.rules.matching import in_schedule, matches
from wire import parse_time

if TYPE_CHECKING:
    from collections.abc import Sequence

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

    async def on_events(self, context: Context, events: Sequence[Event]) -> None:
        """Arm on start events, disarm on stop events, in batch order."""
        cur = context.cur
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
                data = {"site": event.site, "device": event.device, "event": str(event.id)}
                await cur.execute(_ARM, [self.name, subject, at, at + self._for, Jsonb(data)])

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
