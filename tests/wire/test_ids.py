"""Site and device ids, and UUIDv7 event ids."""

import time
import uuid

import pytest

import wire


@pytest.mark.parametrize("value", ["a", "0", "room-07", "door_0042", "a" * 64, "9-_", "x1-y2_z3"])
def test_valid_ids(value: str) -> None:
    """Lowercase ASCII letters and digits, then up to 63 of those, '-' or '_'."""
    assert wire.is_valid_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Room",  # uppercase
        "a" * 65,  # too long
        "-room",  # leading -
        "_hub",  # leading _ (reserved for the contract's own levels)
        "room 7",
        "room/7",
        "room+",
        "room#",
        "room.7",
        "房间",  # unicode letters
        "é",
        "room\n",  # trailing newline ($ would have let this through)
        "room\x00",
        "１",  # fullwidth digit  # noqa: RUF001
    ],
)
def test_invalid_ids(value: str) -> None:
    """Anything else is refused."""
    assert not wire.is_valid_id(value)


def test_new_event_id_is_a_uuid7() -> None:
    """Event ids carry version 7 and the RFC 9562 variant."""
    event_id = wire.new_event_id()
    assert event_id.version == 7
    assert event_id.variant == uuid.RFC_4122


def test_new_event_id_carries_the_current_time() -> None:
    """The top 48 bits are the Unix time in milliseconds."""
    before = time.time_ns() // 1_000_000
    event_id = wire.new_event_id()
    after = time.time_ns() // 1_000_000
    assert before <= event_id.int >> 80 <= after


def test_new_event_ids_are_unique_and_increasing() -> None:
    """Ids made one after another in a process sort in the order they were made."""
    made = [wire.new_event_id() for _ in range(10_000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(event_id.version == 7 for event_id in made)
