"""The inventory: every device a site's agent is configured to watch."""

from typing import Annotated, Final

import msgspec

from wire._base import Version, WireStruct
from wire._errors import quote
from wire._ids import DeviceId, SiteId
from wire._time import Timestamp, check_time
from wire._types import Kind

__all__ = ["MAX_CHECKIN_S", "MAX_INVENTORY", "Inventory", "InventoryDevice"]

MAX_INVENTORY: Final = 20_000
"""Devices per site: a whole district's door/window contacts would still fit one site."""

MAX_CHECKIN_S: Final = 7 * 24 * 3600
"""The longest expected check-in interval: a week (battery contacts check in daily)."""


class InventoryDevice(WireStruct, frozen=True, kw_only=True):
    """One configured device and how often it is expected to be heard from."""

    id: DeviceId
    kind: Kind
    checkin_s: Annotated[int, msgspec.Meta(gt=0, le=MAX_CHECKIN_S)]
    label: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class Inventory(WireStruct, frozen=True, kw_only=True):
    """The full list of a site's configured devices (retained, replaced whole)."""

    v: Version
    site: SiteId
    at: Timestamp
    devices: Annotated[tuple[InventoryDevice, ...], msgspec.Meta(max_length=MAX_INVENTORY)]

    def __post_init__(self) -> None:
        check_time("at", self.at)
        seen: set[str] = set()
        for index, device in enumerate(self.devices):
            if device.id in seen:
                raise ValueError(f"`devices[{index}]` repeats the device id {quote(device.id)}")
            seen.add(device.id)
