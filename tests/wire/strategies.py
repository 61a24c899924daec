"""Hypothesis strategies for valid wire values."""

import uuid
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

import wire

ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,63}", fullmatch=True)
"""Valid site and device ids."""

times = st.datetimes(
    min_value=datetime(1970, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive by design
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
"""Aware UTC datetimes."""

wire_times = times.map(wire.format_time)
"""Canonical wire time strings."""


def _uuid7(millis: int, rand: int) -> uuid.UUID:
    """The UUIDv7 with this 48-bit timestamp and these 74 random bits."""
    value = millis << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0b10 << 62 | rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


uuid7s = st.builds(_uuid7, st.integers(min_value=0, max_value=2**48 - 1), st.integers(0, 2**74 - 1))
"""UUIDv7 values (drawn, not made from the clock, so that failures replay)."""

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
"""JSON scalars as `source` values."""

json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
"""Any JSON value, kept small."""

sources = st.dictionaries(st.text(min_size=1, max_size=64), scalars, max_size=8).map(
    lambda found: {**found, "driver": "sia"}
)
"""Valid `source` objects."""


@st.composite
def events(draw: st.DrawFn) -> wire.Event:
    """Valid events of any kind and type."""
    data: dict[str, Any] = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
    return wire.Event(
        v=1,
        id=draw(uuid7s),
        site=draw(ids),
        device=draw(ids),
        kind=draw(st.sampled_from(wire.Kind)),
        type=draw(st.sampled_from(wire.EventType)),
        at=draw(wire_times),
        epoch=draw(st.uuids()),
        seq=draw(st.integers(min_value=1, max_value=wire.MAX_SEQ)),
        source=draw(sources),
        data=data,
    )
