"""Whether an event matches a rule's `match` and `schedule`: pure functions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wire import parse_time

if TYPE_CHECKING:
    from hub.rules.model import Match, Schedule
    from wire import Event

__all__ = ["in_schedule", "matches"]


def matches(match: Match, event: Event) -> bool:
    """Whether `event` is one `match` looks at (type first: the cheap, selective test)."""
    if event.type not in match.event_types():
        return False
    if match.kinds is not None and event.kind not in match.kinds:
        return False
    if match.sites is not None and event.site not in match.sites:
        return False
    if match.devices is not None and event.device not in match.devices:
        return False
    if match.data is not None:
        data = event.data
        return all(key in data and data[key] == value for key, value in match.data.items())
    return True


def in_schedule(schedule: Schedule | None, event: Event) -> bool:
    """Whether the rule applies at the event's `at` (always, without a schedule)."""
    return schedule is None or schedule.applies(parse_time(event.at))
