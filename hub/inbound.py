"""What one received message is to the hub: something to store, a dead letter, or nothing.

`classify` decodes a message with `wire` and never raises: whatever the contract refuses
becomes a `DeadLetter` carrying the reason, the error path, the payload (cut to the
topic's size limit) and, when it can be read, the `(epoch, seq)` to ack it with.

An ack tells an agent to delete events, so the hub only sends one to the site named by
the topic the message came on (the broker authenticates agents per site); a site read
from a payload is stored with the dead letter for information only.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Final

from wire import (
    SIZE_LIMITS,
    AgentStatus,
    DeviceState,
    Event,
    EventTopic,
    HubStatus,
    Inventory,
    PayloadInvalid,
    SnapshotTopic,
    TopicMismatch,
    TopicSpace,
    WireError,
    decode,
    is_valid_id,
    salvage_ack_key,
)

__all__ = [
    "MAX_SALVAGE_BYTES",
    "AckKey",
    "DeadLetter",
    "Ignored",
    "Inbound",
    "Snapshot",
    "ack_key",
    "classify",
    "refused_by_storage",
]

MAX_SALVAGE_BYTES: Final = 1024 * 1024
"""Largest refused payload the hub still reads for an ack key or a site (oversize ones
included: a 70 KiB event is still worth acking, a 200 MiB blob is not worth parsing)."""

_DEFAULT_LIMIT: Final = SIZE_LIMITS[EventTopic]
_SITE_SEGMENT: Final = 2  # shouwang / v1 / {site} / ...


@dataclass(frozen=True, slots=True)
class AckKey:
    """What the hub acks a stored input with: the site's ack topic, the epoch and seq."""

    site: str
    epoch: uuid.UUID
    seq: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input the hub keeps with the reason it could not take it."""

    topic: str
    site: str | None
    error: str
    reason: str
    error_path: str | None
    payload: bytes
    size: int
    ack: AckKey | None


@dataclass(frozen=True, slots=True)
class Ignored:
    """A valid contract message that is not ingest's business (another hub's status)."""

    topic: str
    what: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A camera's JPEG for one event, as the snapshot topic names it (bytes checked by
    `wire.decode_snapshot`: at most 256 KiB, starting like a JPEG)."""

    site: str
    kind: str
    device: str
    event_id: uuid.UUID
    jpeg: bytes


Inbound = Event | DeviceState | Inventory | AgentStatus | Snapshot | DeadLetter | Ignored


def _topic_site(space: TopicSpace, topic: str) -> str | None:
    """The site level of a topic that failed to parse, if it is a valid site id.

    This is the one place that splits a topic name by hand: the topic was refused, so
    there is no parsed value to read, and the site level is still what the broker
    authenticated the publisher for.
    """
    if not topic.startswith(space.prefix):
        return None
    levels = topic[len(space.prefix) :].split("/")
    if levels[:_SITE_SEGMENT] != ["shouwang", "v1"] or len(levels) <= _SITE_SEGMENT:
        return None
    site = levels[_SITE_SEGMENT]
    return site if is_valid_id(site) else None


def _payload_site(payload: bytes) -> str | None:
    """The `site` field of a refused payload, if it is JSON with a valid site id."""
    if len(payload) > MAX_SALVAGE_BYTES:
        return None
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    site = document.get("site") if isinstance(document, dict) else None
    return site if isinstance(site, str) and is_valid_id(site) else None


def _limit_for(space: TopicSpace, topic: str) -> int:
    """The size limit of the topic's kind, or the event limit if the topic is refused."""
    try:
        return SIZE_LIMITS[type(space.parse(topic))]
    except WireError:
        return _DEFAULT_LIMIT


def _printable(text: str) -> str:
    """`text` without NUL characters, which PostgreSQL text columns refuse."""
    return text.replace("\x00", "\\x00")


def dead_letter(
    space: TopicSpace,
    topic: str,
    payload: bytes,
    *,
    error: str,
    reason: str,
    error_path: str | None,
) -> DeadLetter:
    """The dead letter for `payload` on `topic`, with its ack key if one can be read."""
    topic_site = _topic_site(space, topic)
    key = salvage_ack_key(payload) if len(payload) <= MAX_SALVAGE_BYTES else None
    ack = None
    if key is not None and topic_site is not None:
        ack = AckKey(site=topic_site, epoch=key[0], seq=key[1])
    return DeadLetter(
        topic=_printable(topic),
        site=topic_site or _payload_site(payload),
        error=error,
        reason=_printable(reason),
        error_path=error_path,
        payload=payload[: _limit_for(space, topic)],
        size=len(payload),
        ack=ack,
    )


def _error_path(exc: WireError) -> str | None:
    """Where in the payload the error is, in msgspec's `$.field` notation."""
    match exc:
        case PayloadInvalid():
            return exc.path
        case TopicMismatch():
            return f"$.{exc.field}"
        case _:
            return None


def classify(space: TopicSpace, topic: str, payload: bytes) -> Inbound:
    """What the message `payload` on `topic` is to the hub; never raises."""
    try:
        parsed, message = decode(topic, payload, space)
    except WireError as exc:
        return dead_letter(
            space,
            topic,
            payload,
            error=type(exc).__name__,
            reason=str(exc),
            error_path=_error_path(exc),
        )
    match message:
        case Event() | DeviceState() | Inventory() | AgentStatus():
            return message
        case bytes() if isinstance(parsed, SnapshotTopic):
            # The topic parser has checked the event id is a lowercase hyphenated UUID.
            event_id = uuid.UUID(parsed.event_id)
            return Snapshot(parsed.site, str(parsed.kind), parsed.device, event_id, message)
        case HubStatus():
            return Ignored(topic=topic, what="hub status")
        case _:
            # The hub subscribes to nothing else; a broker that delivers it anyway is
            # told about it through the dead letters rather than silently.
            return dead_letter(
                space,
                topic,
                payload,
                error="Unexpected",
                reason=f"the hub does not ingest {type(message).__name__} messages",
                error_path=None,
            )


def refused_by_storage(space: TopicSpace, topic: str, payload: bytes, reason: str) -> DeadLetter:
    """The dead letter for a message the contract accepts but the database refuses
    (a `\\u0000` inside `data`, which PostgreSQL's jsonb cannot hold)."""
    return dead_letter(
        space,
        topic,
        payload,
        error="StorageRefused",
        reason=f"the database refused it: {reason}",
        error_path=None,
    )


def ack_key(item: Inbound) -> AckKey | None:
    """The ack key of a stored input: every event, and dead letters whose key was read."""
    match item:
        case Event():
            return AckKey(site=item.site, epoch=item.epoch, seq=item.seq)
        case DeadLetter():
            return item.ack
        case _:
            return None
