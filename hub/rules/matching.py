"""Whether an event matches a rule's `match` and `schedule`: pure functions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from wire import parse_time

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hub.rules.model import Match, Schedule
    from wire import Event

__all__ = ["data_matches", "in_schedule", "match_sql", "matches"]


def matches(match: Match, event: Event) -> bool:
    """Whether `event` is one `match` looks at (type first: the cheap, selective test)."""
    if event.type not in match.type_set:
        return False
    if match.kinds is not None and event.kind not in match.kinds:
        return False
    if match.sites is not None and event.site not in match.sites:
        return False
    if match.devices is not None and event.device not in match.devices:
        return False
    return data_matches(match, event.data)


def in_schedule(schedule: Schedule | None, event: Event) -> bool:
    """Whether the rule applies at the event's `at` (always, without a schedule)."""
    return schedule is None or schedule.applies(parse_time(event.at))


def match_sql(match: Match) -> tuple[sql.Composed, list[object]]:
    """The conditions of `match` on `events` columns bar `data` (checked by `data_matches`)."""
    clauses: list[sql.Composable] = [sql.SQL("type = ANY(%s::text[])")]
    params: list[object] = [sorted(t.value for t in match.event_types())]
    for column, values in (
        ("kind", None if match.kinds is None else [k.value for k in match.kinds]),
        ("site", None if match.sites is None else list(match.sites)),
        ("device", None if match.devices is None else list(match.devices)),
    ):
        if values is not None:
            clauses.append(sql.SQL("{} = ANY(%s::text[])").format(sql.Identifier(column)))
            params.append(values)
    return sql.SQL(" AND ").join(clauses), params


def data_matches(match: Match, data: Mapping[str, object]) -> bool:
    """Whether `data` has every field `match.data` asks for, with that value."""
    wanted = match.data or {}
    return all(key in data and data[key] == value for key, value in wanted.items())
