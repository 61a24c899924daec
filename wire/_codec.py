"""Bytes in, payload values out (and back): size limits, decoding, validation, encoding.

Every `decode_*` function checks the size limit first, then decodes and validates in one
pass (msgspec), then, given the topic the payload came on, checks that the topic and
the payload name the same site, kind and device. Whatever is wrong with a payload comes
out as a `PayloadError`; nothing else escapes.
"""

from __future__ import annotations

import json
import re
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, TypeVar, assert_never

import msgspec

from wire._ack import Ack, AckKey
from wire._alert import AlertTransition
from wire._errors import PayloadInvalid, PayloadTooLarge, TopicMismatch, quote
from wire._event import DeviceState, Event
from wire._inventory import Inventory
from wire._status import AgentStatus, HubStatus
from wire._topics import (
    DEFAULT_TOPICS,
    AckTopic,
    AlertsTopic,
    EventTopic,
    HubStatusTopic,
    InventoryTopic,
    SnapshotTopic,
    StateTopic,
    StatusTopic,
    Topic,
    TopicSpace,
)

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable, Mapping

__all__ = [
    "JPEG_SOI",
    "SIZE_LIMITS",
    "Message",
    "Payload",
    "decode",
    "decode_ack",
    "decode_alert",
    "decode_event",
    "decode_hub_status",
    "decode_inventory",
    "decode_snapshot",
    "decode_state",
    "decode_status",
    "encode",
    "salvage_ack_key",
]

KIB: Final = 1024

SIZE_LIMITS: Final[Mapping[type[Topic], int]] = MappingProxyType(
    {
        EventTopic: 64 * KIB,  # contract
        StateTopic: 16 * KIB,  # a handful of current values
        SnapshotTopic: 256 * KIB,  # contract: one JPEG frame
        InventoryTopic: 4 * KIB * KIB,  # 20,000 devices at ~200 bytes each
        StatusTopic: 64 * KIB,  # up to 32 drivers, each with a 1 KiB detail
        AckTopic: 512 * KIB,  # 10,000 ranges even of 19-digit seqs (~420 KiB)
        AlertsTopic: 64 * KIB,  # 1,000 event ids (~39 KiB) and a 4 KiB note
        HubStatusTopic: 16 * KIB,  # three components
    }
)
"""The largest payload, in bytes, each topic takes; checked before any decoding."""

JPEG_SOI: Final = b"\xff\xd8\xff"
"""A JPEG starts with the SOI marker (FF D8) followed by another marker's FF."""

Payload = Event | DeviceState | Inventory | AgentStatus | Ack | AlertTransition | HubStatus
"""Every JSON payload of the contract."""

Message = Payload | bytes
"""What `decode` returns for a topic: a payload, or a snapshot's JPEG bytes."""

_T = TypeVar("_T", bound=Payload)

_ENCODER: Final = msgspec.json.Encoder()
_EVENT: Final = msgspec.json.Decoder(Event)
_STATE: Final = msgspec.json.Decoder(DeviceState)
_INVENTORY: Final = msgspec.json.Decoder(Inventory)
_STATUS: Final = msgspec.json.Decoder(AgentStatus)
_ACK: Final = msgspec.json.Decoder(Ack)
_ALERT: Final = msgspec.json.Decoder(AlertTransition)
_HUB_STATUS: Final = msgspec.json.Decoder(HubStatus)

# msgspec ends a validation message with " - at `$.path`" (or "`key` in `$.path`").
_WHERE: Final = re.compile(r"(?s)(?P<reason>.*) - at `(?P<key>key` in `)?(?P<path>[^`]*)`")
_STEP: Final = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]")
_MAX_REASON: Final = 300


_MISSING: Final = object()


def _value_at(payload: bytes, path: str) -> object:
    """The JSON value at msgspec `path` in `payload`, or `_MISSING` if it cannot be found."""
    try:
        value: object = json.loads(payload)
    except (ValueError, RecursionError):
        return _MISSING
    for match in _STEP.finditer(path, 1):
        name, index = match.groups()
        if name is not None and isinstance(value, dict) and name in value:
            value = value[name]
        elif index is not None and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return _MISSING
    return value


def _cut(text: str) -> str:
    """`text`, cut to `_MAX_REASON` characters: msgspec quotes bad enum values in full."""
    return text if len(text) <= _MAX_REASON else f"{text[:_MAX_REASON]}…"


def _invalid(what: str, payload: bytes, message: str) -> PayloadInvalid:
    """The `PayloadInvalid` for a msgspec error message about `payload`."""
    found = _WHERE.fullmatch(message)
    if found is None:
        return PayloadInvalid(what=what, path="$", reason=_cut(message))
    path, reason = found["path"], found["reason"]
    if found["key"]:
        reason += " (in a key)"
    elif not reason.startswith("Invalid enum value"):
        # msgspec names the rule but (enums aside) not the value that broke it.
        value = _value_at(payload, path)
        if value is None or isinstance(value, str | int | float):
            reason += f" (found {quote(value)})"
    return PayloadInvalid(what=what, path=path, reason=_cut(reason))


def _decode(decoder: msgspec.json.Decoder[_T], payload: bytes, what: str, limit: int) -> _T:
    """Size check, then decode and validate `payload`; any failure is a `PayloadError`."""
    if len(payload) > limit:
        raise PayloadTooLarge(what=what, size=len(payload), limit=limit)
    try:
        return decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise _invalid(what, payload, str(exc)) from exc
    except RecursionError as exc:
        raise PayloadInvalid(what=what, path="$", reason="JSON nested too deeply") from exc


def _same(what: str, topic: Topic, payload: Payload, fields: tuple[str, ...]) -> None:
    """Raise `TopicMismatch` for the first of `fields` where `topic` and `payload` differ."""
    for field in fields:
        topic_value, payload_value = getattr(topic, field), getattr(payload, field)
        if topic_value != payload_value:
            raise TopicMismatch(
                what=what,
                field=field,
                topic_value=str(topic_value),
                payload_value=str(payload_value),
            )


_DEVICE_FIELDS: Final = ("site", "kind", "device")
_SITE_FIELDS: Final = ("site",)


def decode_event(payload: bytes, topic: EventTopic | None = None) -> Event:
    """The event in `payload`, checked against the topic it came on if given."""
    event = _decode(_EVENT, payload, "event", SIZE_LIMITS[EventTopic])
    if topic is not None:
        _same("event", topic, event, _DEVICE_FIELDS)
    return event


def decode_state(payload: bytes, topic: StateTopic | None = None) -> DeviceState:
    """The device state in `payload`, checked against the topic it came on if given."""
    state = _decode(_STATE, payload, "state", SIZE_LIMITS[StateTopic])
    if topic is not None:
        _same("state", topic, state, _DEVICE_FIELDS)
    return state


def decode_inventory(payload: bytes, topic: InventoryTopic | None = None) -> Inventory:
    """The inventory in `payload`, checked against the topic it came on if given."""
    inventory = _decode(_INVENTORY, payload, "inventory", SIZE_LIMITS[InventoryTopic])
    if topic is not None:
        _same("inventory", topic, inventory, _SITE_FIELDS)
    return inventory


def decode_status(payload: bytes, topic: StatusTopic | None = None) -> AgentStatus:
    """The agent status (or LWT) in `payload`, checked against its topic if given."""
    status = _decode(_STATUS, payload, "status", SIZE_LIMITS[StatusTopic])
    if topic is not None:
        _same("status", topic, status, _SITE_FIELDS)
    return status


def decode_ack(payload: bytes) -> Ack:
    """The ack in `payload` (its topic names the site; the ack itself does not)."""
    return _decode(_ACK, payload, "ack", SIZE_LIMITS[AckTopic])


def decode_alert(payload: bytes, topic: AlertsTopic | None = None) -> AlertTransition:
    """The alert transition in `payload`, checked against its topic if given."""
    alert = _decode(_ALERT, payload, "alert", SIZE_LIMITS[AlertsTopic])
    if topic is not None:
        _same("alert", topic, alert, _SITE_FIELDS)
    return alert


def decode_hub_status(payload: bytes) -> HubStatus:
    """The hub status (or its LWT) in `payload`."""
    return _decode(_HUB_STATUS, payload, "hub status", SIZE_LIMITS[HubStatusTopic])


def decode_snapshot(payload: bytes) -> bytes:
    """`payload` itself, once it is known to be within the limit and to start like a JPEG."""
    limit = SIZE_LIMITS[SnapshotTopic]
    if len(payload) > limit:
        raise PayloadTooLarge(what="snapshot", size=len(payload), limit=limit)
    if not payload.startswith(JPEG_SOI):
        head = payload[:8].hex(" ") or "nothing"
        raise PayloadInvalid(what="snapshot", path="$", reason=f"not a JPEG: starts with {head}")
    return payload


def decode(name: str, payload: bytes, space: TopicSpace = DEFAULT_TOPICS) -> tuple[Topic, Message]:
    """Parse the topic `name`, then decode `payload` as what that topic carries.

    `TopicError` if the name is not a contract topic, `PayloadError` if the payload is
    not what the topic carries.
    """
    topic = space.parse(name)
    message: Message
    match topic:
        case EventTopic():
            message = decode_event(payload, topic)
        case StateTopic():
            message = decode_state(payload, topic)
        case SnapshotTopic():
            message = decode_snapshot(payload)
        case InventoryTopic():
            message = decode_inventory(payload, topic)
        case StatusTopic():
            message = decode_status(payload, topic)
        case AckTopic():
            message = decode_ack(payload)
        case AlertsTopic():
            message = decode_alert(payload, topic)
        case HubStatusTopic():
            message = decode_hub_status(payload)
        case _:
            assert_never(topic)
    return topic, message


_RECEIVER: Final[Mapping[type[Payload], tuple[str, Callable[[bytes], Payload]]]] = {
    Event: ("event", decode_event),
    DeviceState: ("state", decode_state),
    Inventory: ("inventory", decode_inventory),
    AgentStatus: ("status", decode_status),
    Ack: ("ack", decode_ack),
    AlertTransition: ("alert", decode_alert),
    HubStatus: ("hub status", decode_hub_status),
}


def encode(payload: Payload) -> bytes:
    """The JSON bytes of `payload`, checked exactly as the receiving side will check them.

    Building a payload in Python does not check its field constraints; this does, by
    decoding its own output, so that nothing invalid or oversized is ever published.
    """
    what, receive = _RECEIVER[type(payload)]
    try:
        data = _ENCODER.encode(payload)
    except (msgspec.EncodeError, TypeError, ValueError, OverflowError, RecursionError) as exc:
        reason = f"cannot be encoded: {_cut(str(exc))}"
        raise PayloadInvalid(what=what, path="$", reason=reason) from exc
    receive(data)
    return data


_ACK_KEY: Final = msgspec.json.Decoder(AckKey)


def salvage_ack_key(payload: bytes) -> tuple[uuid.UUID, int] | None:
    """The `(epoch, seq)` of an event payload that failed to decode, if those two are sound.

    Dead-lettered events are acked (they are stored); without this, an event broken in
    any other field could not be acked, and its agent would resend it forever.
    """
    try:
        key = _ACK_KEY.decode(payload)
    except (msgspec.DecodeError, RecursionError):
        return None
    return key.epoch, key.seq
