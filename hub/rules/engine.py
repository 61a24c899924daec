"""Running the rules on newly stored events, in the transaction that stored them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.rules.table import RULES_BY_TYPE, EventRule
from hub.storage import AlertRow, raise_alert, record_transition
from wire import AlertTransition, Event, Severity, Transition, encode, format_time, new_event_id

if TYPE_CHECKING:
    from collections.abc import Sequence

    from psycopg import AsyncCursor

__all__ = ["run_rules", "transition_payload"]


def transition_payload(alert: AlertRow, transition: Transition) -> bytes:
    """The wire form of `alert` after `transition`, as the relay will publish it."""
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
        )
    )


async def _apply(cur: AsyncCursor[Any], rule: EventRule, event: Event) -> None:
    alert = await raise_alert(
        cur,
        rule=rule.name,
        severity=rule.severity.value,
        site=event.site,
        device=event.device,
        at=event.at,
        event_id=event.id,
        # Time-ordered ids keep the alerts' primary key index append-mostly.
        new_id=new_event_id(),
    )
    transition = Transition.OPENED if alert.revision == 1 else Transition.UPDATED
    await record_transition(cur, alert, transition, transition_payload(alert, transition))


async def run_rules(cur: AsyncCursor[Any], events: Sequence[Event]) -> int:
    """Apply every rule to `events` (new to the database, in order); transitions written."""
    written = 0
    for event in events:
        for rule in RULES_BY_TYPE[event.type]:
            await _apply(cur, rule, event)
            written += 1
    return written
