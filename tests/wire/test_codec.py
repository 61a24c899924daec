"""Size limits, decoding entry points, topic/payload agreement, and encoding."""

import contextlib
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wire
from tests.wire import samples
from tests.wire.samples import dump
from tests.wire.strategies import json_values
from wire import Kind

KIB = 1024
Decoder = Callable[[bytes], object]

DECODERS: list[tuple[str, Decoder, type[wire.Topic]]] = [
    ("event", wire.decode_event, wire.EventTopic),
    ("state", wire.decode_state, wire.StateTopic),
    ("inventory", wire.decode_inventory, wire.InventoryTopic),
    ("status", wire.decode_status, wire.StatusTopic),
    ("ack", wire.decode_ack, wire.AckTopic),
    ("alert", wire.decode_alert, wire.AlertsTopic),
    ("hub status", wire.decode_hub_status, wire.HubStatusTopic),
    ("snapshot", wire.decode_snapshot, wire.SnapshotTopic),
]
JSON_DECODERS = [row for row in DECODERS if row[0] != "snapshot"]
VALID: list[tuple[str, Callable[[], bytes]]] = [
    (samples.EVENT_TOPIC, lambda: dump(samples.event())),
    (samples.STATE_TOPIC, lambda: dump(samples.state())),
    (samples.SNAPSHOT_TOPIC, samples.jpeg),
    (samples.INVENTORY_TOPIC, lambda: dump(samples.inventory())),
    (samples.STATUS_TOPIC, lambda: dump(samples.status())),
    (samples.ACK_TOPIC, lambda: dump(samples.ack())),
    (samples.ALERTS_TOPIC, lambda: dump(samples.alert())),
    (samples.HUB_STATUS_TOPIC, lambda: dump(samples.hub_status())),
]


def test_size_limits_table() -> None:
    """Every topic has a limit: the contract's for events and snapshots, ours for the rest."""
    assert dict(wire.SIZE_LIMITS) == {
        wire.EventTopic: 64 * KIB,
        wire.StateTopic: 16 * KIB,
        wire.SnapshotTopic: 256 * KIB,
        wire.InventoryTopic: 4 * KIB * KIB,
        wire.StatusTopic: 64 * KIB,
        wire.AckTopic: 512 * KIB,
        wire.AlertsTopic: 64 * KIB,
        wire.HubStatusTopic: 16 * KIB,
    }


@pytest.mark.parametrize(("what", "decode", "topic"), DECODERS)
def test_oversize_payloads_are_refused_before_decoding(
    what: str, decode: Decoder, topic: type[wire.Topic]
) -> None:
    """One byte over the limit is PayloadTooLarge, even if the bytes are not JSON at all."""
    limit = wire.SIZE_LIMITS[topic]
    expected = f"{what} payload is {limit + 1} bytes"
    with pytest.raises(wire.PayloadTooLarge, match=expected) as caught:
        decode(b"\xff\xd8\xff" + b"{" * (limit - 2))
    assert (caught.value.size, caught.value.limit) == (limit + 1, limit)


def test_an_event_at_the_limit_is_taken() -> None:
    """A 64 KiB event is still an event."""
    payload = samples.event()
    payload["data"] = {"blob": ""}
    padding = 64 * KIB - len(dump(payload))
    payload["data"] = {"blob": "x" * padding}
    raw = dump(payload)
    assert len(raw) == 64 * KIB
    assert wire.decode_event(raw).data["blob"] == "x" * padding


@pytest.mark.parametrize(("what", "decode", "topic"), JSON_DECODERS)
@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "truncated"),
        (b"{", "truncated"),
        (b'{"v":1,}', "malformed"),
        (b"\xff\xfe{}", "malformed"),
        (b"[]", "Expected `object`, got `array`"),
        (b'"event"', "Expected `object`, got `str`"),
        (b"17", "Expected `object`, got `int`"),
        (b"null", "Expected `object`, got `null`"),
        (b"{}", "missing required field"),
        (b"NaN", "malformed"),
    ],
)
def test_malformed_and_non_object_json_is_payload_invalid(
    what: str, decode: Decoder, topic: type[wire.Topic], raw: bytes, reason: str
) -> None:
    """Not JSON, or JSON that is not an object, is PayloadInvalid at `$`."""
    with pytest.raises(wire.PayloadInvalid, match=reason) as caught:
        decode(raw)
    assert caught.value.path == "$"


def test_deeply_nested_data_is_payload_invalid() -> None:
    """JSON nested past the recursion limit is refused, not a crash."""
    payload = samples.event()
    payload["data"] = {}
    nested = b'"data":{"a":' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    raw = dump(payload).replace(b'"data":{}', nested)
    with pytest.raises(wire.PayloadInvalid, match="nested too deeply"):
        wire.decode_event(raw)


def test_long_bad_values_are_quoted_briefly() -> None:
    """A 60 KiB bad enum value does not end up whole in the error message."""
    payload = samples.event()
    payload["type"] = "x" * 60_000
    with pytest.raises(wire.PayloadInvalid) as caught:
        wire.decode_event(dump(payload))
    assert len(str(caught.value)) < 500


@pytest.mark.parametrize(
    ("field", "value"), [("site", "room-08"), ("kind", "camera"), ("device", "door-0043")]
)
def test_event_topic_and_payload_must_agree(field: str, value: str) -> None:
    """An event whose site, kind or device differs from its topic's is TopicMismatch."""
    payload = samples.event()
    payload[field] = value
    topic = wire.parse_topic(samples.EVENT_TOPIC)
    assert isinstance(topic, wire.EventTopic)
    with pytest.raises(wire.TopicMismatch, match=f"topic says {field} ") as caught:
        wire.decode_event(dump(payload), topic)
    assert caught.value.field == field
    assert caught.value.payload_value == value
    assert caught.value.topic_value == getattr(topic, field)


@pytest.mark.parametrize(
    ("field", "value"), [("site", "room-08"), ("kind", "contact"), ("device", "d9")]
)
def test_state_topic_and_payload_must_agree(field: str, value: str) -> None:
    """A device state names the same site, kind and device as its topic."""
    payload = samples.state()
    payload[field] = value
    with pytest.raises(wire.TopicMismatch):
        wire.decode(samples.STATE_TOPIC, dump(payload))


@pytest.mark.parametrize(
    ("topic", "sample"),
    [
        (samples.INVENTORY_TOPIC, samples.inventory),
        (samples.STATUS_TOPIC, samples.status),
        (samples.ALERTS_TOPIC, samples.alert),
    ],
)
def test_site_topics_and_payloads_must_agree(topic: str, sample: Callable[[], Any]) -> None:
    """Inventory, status and alerts name the same site as their topic."""
    payload = sample()
    payload["site"] = "room-99"
    with pytest.raises(wire.TopicMismatch, match="site 'room-07' but the payload says 'room-99'"):
        wire.decode(topic, dump(payload))


@pytest.mark.parametrize(("name", "make"), VALID)
def test_decode_dispatches_on_the_topic(name: str, make: Callable[[], bytes]) -> None:
    """`decode` parses the topic and decodes the payload as what that topic carries."""
    topic, message = wire.decode(name, make())
    assert topic == wire.parse_topic(name)
    expected: dict[type[wire.Topic], type[object]] = {
        wire.EventTopic: wire.Event,
        wire.StateTopic: wire.DeviceState,
        wire.SnapshotTopic: bytes,
        wire.InventoryTopic: wire.Inventory,
        wire.StatusTopic: wire.AgentStatus,
        wire.AckTopic: wire.Ack,
        wire.AlertsTopic: wire.AlertTransition,
        wire.HubStatusTopic: wire.HubStatus,
    }
    assert type(message) is expected[type(topic)]


def test_decode_works_in_a_prefixed_space() -> None:
    """A test space decodes its own topics."""
    space = wire.TopicSpace("ci/1/")
    topic, event = wire.decode("ci/1/" + samples.EVENT_TOPIC, dump(samples.event()), space)
    assert topic == wire.EventTopic(samples.SITE, Kind.DOOR_LOCK, samples.DEVICE)
    assert isinstance(event, wire.Event)


def test_decode_refuses_a_payload_on_the_wrong_topic() -> None:
    """An event published on a status topic is not a status."""
    with pytest.raises(wire.PayloadInvalid):
        wire.decode(samples.STATUS_TOPIC, dump(samples.event()))


def test_decode_refuses_a_bad_topic() -> None:
    """A bad topic name is TopicError before the payload is looked at."""
    with pytest.raises(wire.TopicError):
        wire.decode("shouwang/v1/r/telemetry", b"{}")


def test_a_snapshot_is_its_jpeg_bytes() -> None:
    """A snapshot under the limit that starts with the JPEG SOI marker is taken as is."""
    jpeg = samples.jpeg(256 * KIB)
    assert wire.decode_snapshot(jpeg) is jpeg


@pytest.mark.parametrize(
    ("raw", "head"),
    [
        (b"", "nothing"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "89 50 4e 47"),
        (b"\xff\xd8", "ff d8"),
        (b'{"v":1}', "7b 22 76"),
    ],
)
def test_a_snapshot_that_is_not_jpeg_is_refused(raw: bytes, head: str) -> None:
    """A snapshot must start with FF D8 FF; the error shows the first bytes."""
    with pytest.raises(wire.PayloadInvalid, match=f"not a JPEG: starts with {head}"):
        wire.decode_snapshot(raw)


def _event(**changes: Any) -> wire.Event:
    fields: dict[str, Any] = {
        "v": 1,
        "id": wire.new_event_id(),
        "site": "s",
        "device": "d",
        "kind": Kind.CAMERA,
        "type": wire.EventType.MOTION_STARTED,
        "at": samples.AT,
        "epoch": uuid.uuid4(),
        "seq": 1,
        "source": {"driver": "camera"},
        "data": {},
    }
    return wire.Event(**(fields | changes))


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"site": "Room"}, wire.PayloadInvalid),
        ({"seq": 0}, wire.PayloadInvalid),
        ({"source": {"driver": "camera", "zone": [1]}}, wire.PayloadInvalid),
        ({"data": {"frame": object()}}, wire.PayloadInvalid),
        ({"data": {"bad": "\ud800"}}, wire.PayloadInvalid),
        ({"data": {"blob": "x" * 64 * KIB}}, wire.PayloadTooLarge),
    ],
)
def test_encode_refuses_what_the_receiver_would_refuse(
    changes: dict[str, Any], error: type[wire.PayloadError]
) -> None:
    """Field constraints unchecked at construction are checked by encode, before publishing."""
    with pytest.raises(error):
        wire.encode(_event(**changes))


def test_a_dead_letter_can_still_be_acked() -> None:
    """An event broken in another field still yields its (epoch, seq) for the ack."""
    payload = samples.event()
    payload.update(type="door.exploded", extra=[1, {"x": 2}])
    with pytest.raises(wire.PayloadInvalid):
        wire.decode_event(dump(payload))
    assert wire.salvage_ack_key(dump(payload)) == (uuid.UUID(samples.EPOCH), 17)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        dump({"epoch": samples.EPOCH}),
        dump({"epoch": "e", "seq": 3}),
        dump({"epoch": samples.EPOCH, "seq": 0}),
        dump({"epoch": samples.EPOCH, "seq": 3, "d": []}).replace(
            b"[]", b"[" * 20_000 + b"]" * 20_000
        ),
    ],
)
def test_no_ack_key_without_a_sound_epoch_and_seq(raw: bytes) -> None:
    """Without a valid epoch and seq there is nothing to ack."""
    assert wire.salvage_ack_key(raw) is None


def test_every_wire_error_is_a_value_error() -> None:
    """Callers that only know ValueError still catch everything wire raises."""
    for error in (
        wire.TopicError,
        wire.PayloadError,
        wire.PayloadTooLarge,
        wire.PayloadInvalid,
        wire.TopicMismatch,
    ):
        assert issubclass(error, wire.WireError)
        assert issubclass(error, ValueError)
    for error in (wire.PayloadTooLarge, wire.PayloadInvalid, wire.TopicMismatch):
        assert issubclass(error, wire.PayloadError)


@pytest.mark.parametrize(("name", "make"), VALID)
@given(garbage=st.binary(max_size=300))
def test_decode_raises_only_wire_errors_on_arbitrary_bytes(
    name: str, make: Callable[[], bytes], garbage: bytes
) -> None:
    """Any bytes on any topic either decode or raise a WireError, nothing else."""
    assert make()
    with contextlib.suppress(wire.WireError):
        wire.decode(name, garbage)


SAMPLES: list[tuple[str, Callable[[], dict[str, Any]]]] = [
    (samples.EVENT_TOPIC, samples.event),
    (samples.STATE_TOPIC, samples.state),
    (samples.INVENTORY_TOPIC, samples.inventory),
    (samples.STATUS_TOPIC, samples.status),
    (samples.ACK_TOPIC, samples.ack),
    (samples.ALERTS_TOPIC, samples.alert),
    (samples.HUB_STATUS_TOPIC, samples.hub_status),
]


@pytest.mark.parametrize(("name", "sample"), SAMPLES)
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_decode_raises_only_wire_errors_on_mangled_payloads(
    name: str, sample: Callable[[], dict[str, Any]], data: st.DataObject
) -> None:
    """A valid payload with any one field replaced by any JSON value never crashes decode."""
    payload = sample()
    field = data.draw(st.sampled_from(sorted(payload)))
    payload[field] = data.draw(json_values)
    with contextlib.suppress(wire.WireError):
        wire.decode(name, dump(payload))


@pytest.mark.fuzz
@settings(max_examples=10_000, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from([name for name, _ in SAMPLES]),
    garbage=st.one_of(st.binary(max_size=2000), json_values.map(dump)),
)
def test_fuzz_decode_raises_only_wire_errors(name: str, garbage: bytes) -> None:
    """A large budget of arbitrary bytes and JSON values raises nothing but WireError."""
    with contextlib.suppress(wire.WireError):
        wire.decode(name, garbage)
