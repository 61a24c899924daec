"""Running the rules: on new events in the ingest transaction, and on the rule clock.

`run_rules` applies every event-driven rule (immediate, duration) to the events a batch
stored for the first time, in the transaction that stored them: an alert exists exactly
when the events that caused it do. `tick` is one round of the rule clock: conditions
that have held long enough, absences, escalations; each round is one transaction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from hub.rules.context import Context, actor_of
from hub.storage.incidents import notify_incidents
from hub.storage.lifecycle import due_for_escalation, escalate

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from psycopg import AsyncCursor

    from hub.rules.loader import RuleSet
    from wire import Event

__all__ = ["Rules", "run_rules", "tick"]

ESCALATION_BATCH: Final = 200


class Rules:
    """The rule set in force; `replace` swaps it (a reload) between two batches."""

    def __init__(self, current: RuleSet) -> None:
        self.current = current

    def replace(self, rules: RuleSet) -> None:
        """Run `rules` from the next batch on."""
        self.current = rules


async def run_rules(
    cur: AsyncCursor[Any], events: Sequence[Event], rules: RuleSet, *, now: datetime
) -> int:
    """Apply the event-driven rules to `events` (new to the database, in order).

    Returns the number of transitions written.
    """
    if not events:
        return 0
    context = Context(cur, now, rules.inhibitors)
    for immediate in rules.immediate:
        await immediate.on_events(context, events)
    for duration in rules.duration:
        await duration.on_events(context, events)
    for correlation in rules.correlation:
        await correlation.on_events(context, events)
    for count in rules.count:
        await count.on_events(context, events)
    return context.transitions


async def tick(cur: AsyncCursor[Any], rules: RuleSet, *, now: datetime) -> int:
    """One round of the clock at `now`: due durations, absences, escalations; changes."""
    context = Context(cur, now, rules.inhibitors)
    for duration in rules.duration:
        await duration.tick(context)
    for absence in rules.absence:
        await absence.tick(context)
    changed = context.transitions + await notify_incidents(cur, now, "hub")
    for alert in await due_for_escalation(cur, now, ESCALATION_BATCH):
        rule = rules.get(alert.rule)
        after = None if rule is None else rule.escalate_after_s
        note = f"not acknowledged in time (escalation {alert.escalations + 1})"
        await escalate(
            cur,
            alert,
            now=now,
            again_after=None if after is None else timedelta(seconds=after),
            actor=actor_of(alert.rule),
            note=note,
        )
        changed += 1
    return changed
