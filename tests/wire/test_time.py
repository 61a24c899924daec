"""The canonical time format and the rule that fixes an event's `at`."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given

import wire
from tests.wire.strategies import times

AGENT_NOW = datetime(2025, 3, 1, 8, 15, 2, 123456, tzinfo=UTC)


def test_format_time_writes_utc_with_z_and_six_digits() -> None:
    """An aware UTC datetime becomes `YYYY-MM-DDTHH:MM:SS.ffffffZ`."""
    assert wire.format_time(AGENT_NOW) == "2025-03-01T08:15:02.123456Z"


def test_format_time_always_writes_microseconds() -> None:
    """A whole second still gets six fractional digits."""
    moment = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    assert wire.format_time(moment) == "2025-03-01T08:00:00.000000Z"


def test_format_time_converts_offsets_to_utc() -> None:
    """A Beijing-time datetime is written as the same instant in UTC."""
    beijing = timezone(timedelta(hours=8))
    moment = datetime(2025, 3, 1, 16, 15, 2, 123456, tzinfo=beijing)
    assert wire.format_time(moment) == "2025-03-01T08:15:02.123456Z"


def test_format_time_pads_early_years() -> None:
    """Years below 1000 keep four digits (strftime would not pad them)."""
    moment = datetime(999, 1, 2, tzinfo=UTC)
    assert wire.format_time(moment) == "0999-01-02T00:00:00.000000Z"


def test_format_time_refuses_naive_datetimes() -> None:
    """A datetime without a zone has no place on the wire."""
    with pytest.raises(wire.WireError, match="naive"):
        wire.format_time(datetime(2025, 3, 1))  # noqa: DTZ001 - the naive value is the point


def test_parse_time_gives_an_aware_utc_datetime() -> None:
    """Parsing the canonical form gives back the instant, in UTC."""
    parsed = wire.parse_time("2025-03-01T08:15:02.123456Z")
    assert parsed == AGENT_NOW
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    [
        "2025-03-01T08:15:02.123456+00:00",  # offset instead of Z
        "2025-03-01T16:15:02.123456+08:00",
        "2025-03-01T08:15:02Z",  # no fraction
        "2025-03-01T08:15:02.123Z",  # milliseconds only
        "2025-03-01T08:15:02.1234567Z",  # seven digits
        "2025-03-01T08:15:02.123456z",  # lowercase z
        "2025-03-01 08:15:02.123456Z",  # space separator
        "2025-13-01T08:15:02.123456Z",  # month 13
        "2025-00-01T08:15:02.123456Z",  # month 0
        "2025-02-29T08:15:02.123456Z",  # not a leap year
        "2025-04-31T08:15:02.123456Z",  # 31 April
        "2025-03-32T08:15:02.123456Z",
        "2025-03-01T24:00:00.000000Z",
        "2025-03-01T08:60:02.123456Z",
        "2016-12-31T23:59:60.000000Z",  # leap second
        "0000-01-01T00:00:00.000000Z",
        "2025-03-01T08:15:02.123456Z\n",
        "２０２５-03-01T08:15:02.123456Z",  # fullwidth digits  # noqa: RUF001
        "",
    ],
)
def test_parse_time_refuses_every_other_form(text: str) -> None:
    """Only the one canonical form, naming a real instant, parses."""
    with pytest.raises(wire.WireError):
        wire.parse_time(text)


def test_parse_time_accepts_a_leap_day() -> None:
    """29 February of a leap year is a date."""
    assert wire.parse_time("2024-02-29T00:00:00.000000Z").day == 29


@given(times)
def test_format_then_parse_round_trips(moment: datetime) -> None:
    """Every aware datetime survives format_time → parse_time unchanged."""
    assert wire.parse_time(wire.format_time(moment)) == moment


@given(times, times)
def test_string_order_is_time_order(first: datetime, second: datetime) -> None:
    """Fixed width makes comparing canonical strings compare the instants."""
    assert (wire.format_time(first) < wire.format_time(second)) == (first < second)


def test_resolve_at_uses_a_device_time_within_tolerance() -> None:
    """A device clock within 60 s of the agent's gives `at`; nothing goes to source."""
    device = AGENT_NOW - timedelta(seconds=59)
    assert wire.resolve_at(device, AGENT_NOW) == wire.ResolvedAt(
        at=wire.format_time(device), device_at=None
    )


@pytest.mark.parametrize("skew", [wire.CLOCK_TOLERANCE, -wire.CLOCK_TOLERANCE])
def test_resolve_at_tolerance_is_inclusive(skew: timedelta) -> None:
    """Exactly 60 s either way still counts as within tolerance."""
    assert wire.resolve_at(AGENT_NOW + skew, AGENT_NOW).at == wire.format_time(AGENT_NOW + skew)


@pytest.mark.parametrize("skew", [timedelta(seconds=60, microseconds=1), timedelta(days=-9000)])
def test_resolve_at_falls_back_to_the_agent_clock(skew: timedelta) -> None:
    """A device clock further than 60 s off is kept as device_at; `at` is the agent's."""
    device = AGENT_NOW + skew
    resolved = wire.resolve_at(device, AGENT_NOW)
    assert resolved.at == "2025-03-01T08:15:02.123456Z"
    assert resolved.device_at == wire.format_time(device)


def test_resolve_at_without_device_time_uses_the_agent_clock() -> None:
    """A device that sends no time gets the agent's."""
    assert wire.resolve_at(None, AGENT_NOW) == wire.ResolvedAt(
        at="2025-03-01T08:15:02.123456Z", device_at=None
    )


def test_resolve_at_compares_instants_not_wall_clocks() -> None:
    """A device reporting in Beijing time, on time, is within tolerance."""
    device = AGENT_NOW.astimezone(timezone(timedelta(hours=8)))
    assert wire.resolve_at(device, AGENT_NOW).at == "2025-03-01T08:15:02.123456Z"


def test_resolve_at_refuses_naive_device_times() -> None:
    """A driver must attach the device's zone before asking."""
    with pytest.raises(wire.WireError):
        wire.resolve_at(datetime(2025, 3, 1), AGENT_NOW)  # noqa: DTZ001 - naive on purpose
