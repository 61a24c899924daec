"""The event envelope and the retained device state."""

import uuid
from typing import Annotated, Final

import msgspec

from wire._base import JsonObject, JsonScalar, Version, WireStruct
from wire._ids import DeviceId, SiteId
from wire._time import Timestamp, check_time
from wire._types import LANES, EventType, Kind, Lane

__all__ = ["MAX_SEQ", "DeviceState", "Event", "Seq", "Source"]

MAX_SEQ: Final = 2**63 - 1
"""The largest `seq`: it must fit a signed 64-bit column (SQLite INTEGER, PostgreSQL bigint)."""

Seq = Annotated[int, msgspec.Meta(ge=1, le=MAX_SEQ)]

Source = Annotated[
    dict[Annotated[str, msgspec.Meta(min_length=1, max_length=64)], JsonScalar],
    msgspec.Meta(max_length=32, description="driver and raw identifiers"),
]


class Event(WireStruct, frozen=True, kw_only=True):
    """The event envelope: one thing that happened at one device.

    `id` is a UUIDv7 fixed at the edge and kept across retries; the hub deduplicates by
    it. `seq` counts events per `epoch` (one epoch per agent outbox) from 1, across
    lanes; shed events leave gaps, which mean nothing. `source` says which driver made
    the event and carries its raw identifiers (SIA account/zone/code, Modbus
    unit/address...); `data` holds the type's own fields and is the only open part.
    """

    v: Version
    id: uuid.UUID
    site: SiteId
    device: DeviceId
    kind: Kind
    type: EventType
    at: Timestamp
    epoch: uuid.UUID
    seq: Seq
    source: Source
    data: JsonObject

    def __post_init__(self) -> None:
        if self.id.version != 7:
            raise ValueError(f"`id` {self.id} is not a UUIDv7 (version {self.id.version})")
        check_time("at", self.at)
        driver = self.source.get("driver")
        if not isinstance(driver, str) or not driver:
            message = "`source` must name its `driver` as a non-empty string"
            raise ValueError(message)

    @property
    def lane(self) -> Lane:
        """The delivery lane of this event's type."""
        return LANES[self.type]


class DeviceState(WireStruct, frozen=True, kw_only=True):
    """The retained current state of one device, replaced whole on every change.

    `state` is open, e.g. `{"door": "open", "armed": true, "battery": 0.81}`.
    """

    v: Version
    site: SiteId
    device: DeviceId
    kind: Kind
    at: Timestamp
    online: bool
    state: JsonObject

    def __post_init__(self) -> None:
        check_time("at", self.at)
