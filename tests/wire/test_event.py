"""The event envelope and the retained device state."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given

import wire
from tests.wire import samples
from tests.wire.samples import dump
from tests.wire.strategies import events
from wire import EventType, Kind, Lane

Change = Callable[[dict[str, Any]], object]


def test_a_valid_event_decodes_with_typed_fields() -> None:
    """Every envelope field comes out with its contract type."""
    event = wire.decode_event(dump(samples.event()))
    assert event.id == uuid.UUID(samples.EVENT_ID)
    assert event.site == samples.SITE
    assert event.kind is Kind.DOOR_LOCK
    assert event.type is EventType.DOOR_FORCED
    assert event.at == samples.AT
    assert event.epoch == uuid.UUID(samples.EPOCH)
    assert event.seq == 17
    assert event.source == {"driver": "modbus", "unit": 3, "address": 40012}
    assert event.data == {"door": "open", "reader": None}


def test_an_event_knows_its_lane() -> None:
    """`lane` comes from the lane table: a forced door is P0."""
    assert wire.decode_event(dump(samples.event())).lane is Lane.P0


def test_data_is_open() -> None:
    """`data` takes any JSON object: it is the type's own fields."""
    payload = samples.event()
    payload["data"] = {"nested": {"list": [1, 2.5, "x", None, True]}, "zones": [3, 4]}
    assert wire.decode_event(dump(payload)).data == payload["data"]


def test_encoding_a_decoded_event_gives_the_same_bytes() -> None:
    """Field order and number formatting are stable: decode → encode is byte-identical."""
    raw = dump(samples.event())
    assert wire.encode(wire.decode_event(raw)) == raw


@given(events())
def test_events_round_trip(event: wire.Event) -> None:
    """Any valid event survives encode → decode unchanged."""
    assert wire.decode_event(wire.encode(event)) == event


def _set(field: str, value: object) -> Change:
    return lambda payload: payload.__setitem__(field, value)


def _drop(field: str) -> Change:
    return lambda payload: payload.pop(field)


def _source(**changes: object) -> Change:
    return lambda payload: payload["source"].update(changes)


BAD_EVENTS: list[tuple[str, Change, str]] = [
    ("unknown envelope field", _set("extra", 1), r"\$: .*unknown field `extra`"),
    ("missing id", _drop("id"), "missing required field `id`"),
    ("missing data", _drop("data"), "missing required field `data`"),
    ("v is 2", _set("v", 2), r"\$\.v"),
    ("v is a string", _set("v", "1"), r"\$\.v"),
    ("id is a v4 UUID", _set("id", str(uuid.uuid4())), "not a UUIDv7"),
    ("id is not a UUID", _set("id", "event-1"), r"\$\.id: Invalid UUID \(found 'event-1'\)"),
    ("site uppercase", _set("site", "Room-07"), r"\$\.site: .* \(found 'Room-07'\)"),
    ("site too long", _set("site", "r" * 65), r"\$\.site"),
    ("site leading -", _set("site", "-room"), r"\$\.site"),
    ("site leading _", _set("site", "_hub"), r"\$\.site"),
    ("site empty", _set("site", ""), r"\$\.site"),
    ("site unicode", _set("site", "房间"), r"\$\.site"),
    ("site newline", _set("site", "room\n"), r"\$\.site"),
    ("device uppercase", _set("device", "Door"), r"\$\.device"),
    ("device not a string", _set("device", 42), r"\$\.device"),
    ("unknown kind", _set("kind", "doorbell"), r"\$\.kind.*'doorbell'"),
    ("unknown type", _set("type", "door.exploded"), r"\$\.type.*'door.exploded'"),
    ("type of another version", _set("type", "DOOR.FORCED"), r"\$\.type"),
    ("at with offset", _set("at", "2025-03-01T16:15:02.123456+08:00"), r"\$\.at"),
    ("at without micros", _set("at", "2025-03-01T08:15:02Z"), r"\$\.at"),
    ("at month 13", _set("at", "2025-13-01T08:15:02.123456Z"), r"\$\.at"),
    ("at 30 February", _set("at", "2024-02-30T08:15:02.123456Z"), "`at` .* not a calendar date"),
    ("at a number", _set("at", 1740816902), r"\$\.at"),
    ("epoch not a UUID", _set("epoch", "e1"), r"\$\.epoch"),
    ("seq zero", _set("seq", 0), r"\$\.seq.*>= 1"),
    ("seq negative", _set("seq", -5), r"\$\.seq"),
    ("seq past int64", _set("seq", 2**63), r"\$\.seq"),
    ("seq a string", _set("seq", "17"), r"\$\.seq"),
    ("seq a float", _set("seq", 17.5), r"\$\.seq"),
    ("source without driver", lambda payload: payload["source"].pop("driver"), "driver"),
    ("source driver empty", _source(driver=""), "driver"),
    ("source driver a number", _source(driver=3), "driver"),
    ("source nested value", _source(zone=[1, 2]), r"\$\.source"),
    ("source key too long", _source(**{"k" * 65: 1}), r"\$\.source.*key"),
    ("source too many keys", _source(**{f"k{i}": i for i in range(32)}), r"\$\.source"),
    ("source not an object", _set("source", ["modbus"]), r"\$\.source"),
    ("data a list", _set("data", [1, 2]), r"\$\.data"),
    ("data null", _set("data", None), r"\$\.data"),
]


@pytest.mark.parametrize(
    ("change", "message"),
    [pytest.param(change, message, id=name) for name, change, message in BAD_EVENTS],
)
def test_bad_events_are_payload_invalid(change: Change, message: str) -> None:
    """Each broken envelope is refused with the path and reason of what broke."""
    payload = samples.event()
    change(payload)
    with pytest.raises(wire.PayloadInvalid, match=message):
        wire.decode_event(dump(payload))


def test_invalid_payload_carries_path_and_reason() -> None:
    """PayloadInvalid says where (msgspec's `$.field` path) and why, separately."""
    payload = samples.event()
    payload["seq"] = "17"
    with pytest.raises(wire.PayloadInvalid) as caught:
        wire.decode_event(dump(payload))
    assert caught.value.path == "$.seq"
    assert "Expected `int`" in caught.value.reason


def test_building_an_event_with_a_v4_id_fails_at_once() -> None:
    """Cross-field checks also run when an event is built in Python."""
    with pytest.raises(ValueError, match="UUIDv7"):
        wire.Event(
            v=1,
            id=uuid.uuid4(),
            site="s",
            device="d",
            kind=Kind.CAMERA,
            type=EventType.MOTION_STARTED,
            at=samples.AT,
            epoch=uuid.uuid4(),
            seq=1,
            source={"driver": "camera"},
            data={},
        )


def test_events_are_frozen() -> None:
    """An event cannot be changed once made (the agent retries the very same one)."""
    event = wire.decode_event(dump(samples.event()))
    with pytest.raises(AttributeError):
        event.seq = 18  # type: ignore[misc]


def test_a_valid_state_decodes() -> None:
    """A device's retained state decodes with its open `state` object."""
    state = wire.decode_state(dump(samples.state()))
    assert state.online is True
    assert state.kind is Kind.DOOR_LOCK
    assert state.state == {"door": "open", "locked": False, "battery": 0.81}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_drop("online"), "missing required field `online`"),
        (_set("online", "yes"), r"\$\.online"),
        (_set("state", [1]), r"\$\.state"),
        (_set("at", "2025-03-01T08:15:02.123456"), r"\$\.at"),
        (_set("kind", "lamp"), r"\$\.kind"),
        (_set("v", 0), r"\$\.v"),
        (_set("seq", 1), "unknown field `seq`"),
    ],
)
def test_bad_states_are_payload_invalid(change: Change, message: str) -> None:
    """A broken device state is refused with its path."""
    payload = samples.state()
    change(payload)
    with pytest.raises(wire.PayloadInvalid, match=message):
        wire.decode_state(dump(payload))
