"""Time on the wire: one canonical string form, and the rule that fixes an event's `at`.

Every timestamp on the wire is RFC 3339 in UTC with exactly six fractional digits and a
`Z`: `2025-03-01T08:15:02.123456Z`. One form only, because it is

- byte-stable: the same instant always encodes to the same bytes, so payloads can be
  compared and hashed;
- readable in a broker log or `mosquitto_sub` output;
- copied as is by the hub into a `timestamptz` column (PostgreSQL parses it without help);
- ordered: fixed width means comparing the strings compares the instants.

The pattern (checked by msgspec in C) pins the shape and the field ranges; the calendar
(no 31 April, no 29 February 2025) is checked in Python only when the day is past 28.
Leap seconds (`:60`) are refused: neither Python nor the agent's clock produce them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final, NamedTuple

import msgspec

from wire._errors import WireError, quote

__all__ = [
    "CLOCK_TOLERANCE",
    "TIME_PATTERN",
    "ResolvedAt",
    "Timestamp",
    "check_time",
    "format_time",
    "parse_time",
    "resolve_at",
]

TIME_PATTERN: Final = (
    r"^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6}Z\Z"
)
_TIME_RE: Final = re.compile(TIME_PATTERN)

Timestamp = Annotated[
    str,
    msgspec.Meta(pattern=TIME_PATTERN, description="RFC 3339 UTC, 6 fractional digits, Z"),
]

CLOCK_TOLERANCE: Final = timedelta(seconds=60)
"""How far a device's clock may be from the agent's before the agent's time is used."""


def check_time(field: str, value: str) -> None:
    """Raise `ValueError` if `value`, already matching `TIME_PATTERN`, is not a real date.

    Called from payload `__post_init__` hooks (msgspec turns the `ValueError` into a
    validation error); it costs two slices for every day up to the 28th.
    """
    if value[8:10] <= "28" and not value.startswith("0000"):
        return
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"`{field}` {quote(value)} is not a calendar date") from exc


def format_time(moment: datetime) -> str:
    """The canonical wire form of an aware `datetime`, converted to UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise WireError(f"cannot put a naive datetime on the wire: {moment!r}")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError as exc:
        raise WireError(f"{moment!r} is outside the years 1-9999 in UTC") from exc
    # isoformat, not strftime: strftime's %Y does not pad years below 1000.
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime:
    """The aware UTC `datetime` of a canonical wire time; `WireError` for any other string."""
    if _TIME_RE.match(text) is None:
        raise WireError(f"{quote(text)} is not a wire time (YYYY-MM-DDTHH:MM:SS.ffffffZ, in UTC)")
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise WireError(f"{quote(text)} is not a calendar date") from exc


class ResolvedAt(NamedTuple):
    """An event's `at`, and the device's own time when it was not used (for `source`)."""

    at: str
    device_at: str | None


def resolve_at(device_time: datetime | None, agent_now: datetime) -> ResolvedAt:
    """Fix an event's `at` once, at the agent.

    The device's time is used when it is within `CLOCK_TOLERANCE` of the agent's clock:
    it is closer to the moment the thing happened. Otherwise the device clock is wrong
    (never set, drifted, a reset to 2000-01-01) and the agent's time is used; the
    device's time is returned as `device_at`, for the agent to keep in
    `source["device_at"]`.
    """
    now = format_time(agent_now)
    if device_time is None:
        return ResolvedAt(at=now, device_at=None)
    device = format_time(device_time)
    if abs(device_time - agent_now) <= CLOCK_TOLERANCE:
        return ResolvedAt(at=device, device_at=None)
    return ResolvedAt(at=now, device_at=device)
