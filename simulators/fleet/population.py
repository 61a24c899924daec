"""Device populations per monitoring room, shaped like the district (../shared/district.yaml).

A district is 55 rooms and ~28,000 devices: 6,000 anti-theft doors, 260 "110" panic
alarms, 900 shop guards, 20,000 door/window contacts, 1,200 cameras. Each room gets its
share of every kind, varied per room by a seeded weight (rooms are not all alike),
times `scale`; every room keeps at least one device of each kind, so every scenario
has a door, a camera and a shop guard to play with. Shop alarms hang off alarm panels
(kind `panel`, one per ten shop devices): those are what lose mains in a power cut.
Each door is linked to one camera of its room (the `links` of the hub's rules file).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

import yaml

from simulators.fleet.preload import room_id
from wire import Kind

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "CHECKIN_S",
    "DISTRICT_FILE",
    "Device",
    "District",
    "Room",
    "build_population",
    "load_district",
    "summarise",
]

DISTRICT_FILE: Final = Path(__file__).with_name("district.yaml")
"""The district reference: a copy of `../shared/district.yaml` shipped with the package."""

_YAML_KINDS: Final = {
    "door_lock": Kind.DOOR_LOCK,
    "panic_alarm": Kind.PANIC_ALARM,
    "shop_guard": Kind.SHOP_GUARD,
    "contact": Kind.CONTACT,
    "camera": Kind.CAMERA,
}
# Device id prefix and expected check-in interval (s) of each kind.
_PREFIX: Final = {
    Kind.DOOR_LOCK: "door",
    Kind.PANIC_ALARM: "panic",
    Kind.SHOP_GUARD: "guard",
    Kind.CONTACT: "contact",
    Kind.CAMERA: "cam",
    Kind.PANEL: "panel",
}
CHECKIN_S: Final[Mapping[Kind, int]] = MappingProxyType(
    {
        Kind.DOOR_LOCK: 3600,
        Kind.PANIC_ALARM: 3600,
        Kind.SHOP_GUARD: 3600,
        Kind.CONTACT: 86_400,
        Kind.CAMERA: 600,
        Kind.PANEL: 600,
    }
)
SHOP_DEVICES_PER_PANEL: Final = 10
_ROOM_SPREAD: Final = 0.35  # rooms differ by up to about ±35 % from the average


@dataclass(frozen=True, slots=True)
class District:
    """How many rooms a district has and how many devices of each kind."""

    rooms: int
    devices: Mapping[Kind, int]

    @property
    def total(self) -> int:
        """All devices of the district."""
        return sum(self.devices.values())


@dataclass(frozen=True, slots=True)
class Device:
    """One device of a room, as its agent's inventory lists it."""

    id: str
    kind: Kind
    checkin_s: int


@dataclass(frozen=True, slots=True)
class Room:
    """One monitoring room: its site id, its devices, and which camera watches each door."""

    site: str
    devices: tuple[Device, ...]
    links: Mapping[str, str]
    """door id -> the camera linked to it."""

    def of_kind(self, kind: Kind) -> tuple[Device, ...]:
        """The room's devices of `kind`, in id order."""
        return tuple(device for device in self.devices if device.kind is kind)

    def count(self, kind: Kind) -> int:
        """How many devices of `kind` the room has."""
        return sum(1 for device in self.devices if device.kind is kind)


def load_district(path: Path = DISTRICT_FILE) -> District:
    """The district in `path` (`ValueError` naming the key if it is not one)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the district: {exc}") from exc
    try:
        district = document["district"]
        rooms = int(district["monitoring_rooms"])
        devices = {_YAML_KINDS[name]: int(n) for name, n in district["devices"].items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a district ({type(exc).__name__}: {exc})") from exc
    if rooms < 1 or any(n < 0 for n in devices.values()):
        raise ValueError(f"{path}: rooms must be ≥ 1 and device counts ≥ 0")
    return District(rooms=rooms, devices=MappingProxyType(devices))


def _ids(kind: Kind, count: int) -> list[str]:
    width = max(2, len(str(count)))
    return [f"{_PREFIX[kind]}-{n:0{width}d}" for n in range(1, count + 1)]


def _room(site: str, counts: Mapping[Kind, int]) -> Room:
    devices: list[Device] = []
    for kind, count in counts.items():
        devices += [Device(id, kind, CHECKIN_S[kind]) for id in _ids(kind, count)]  # noqa: A001
    cameras = [device.id for device in devices if device.kind is Kind.CAMERA]
    doors = [device.id for device in devices if device.kind is Kind.DOOR_LOCK]
    links = {door: cameras[index % len(cameras)] for index, door in enumerate(doors)}
    return Room(site=site, devices=tuple(devices), links=MappingProxyType(links))


def build_population(
    rooms: int, scale: float, seed: int, district: District | None = None
) -> tuple[Room, ...]:
    """`rooms` rooms (`room-01`...), each with its share of the district's devices times `scale`.

    The same arguments always give the same rooms. `ValueError` for rooms outside 1-99
    or a scale outside (0, 10].
    """
    if not 1 <= rooms <= 99:
        raise ValueError(f"rooms must be 1 to 99, not {rooms}")
    if not 0 < scale <= 10:
        raise ValueError(f"scale must be above 0 and at most 10, not {scale}")
    district = district or load_district()
    rng = random.Random(seed)  # noqa: S311 - reproducible populations, not secrets
    result: list[Room] = []
    for number in range(1, rooms + 1):
        weight = 1 + rng.uniform(-_ROOM_SPREAD, _ROOM_SPREAD)
        counts: dict[Kind, int] = {}
        for kind, total in sorted(district.devices.items()):
            share = total / district.rooms * scale * weight
            counts[kind] = max(1, round(share))
        shop = counts.get(Kind.PANIC_ALARM, 0) + counts.get(Kind.SHOP_GUARD, 0)
        counts[Kind.PANEL] = max(1, -(-shop // SHOP_DEVICES_PER_PANEL))
        result.append(_room(room_id(number), counts))
    return tuple(result)


def summarise(rooms: Sequence[Room]) -> dict[str, int]:
    """Devices per kind over `rooms` (and `total`), for reports."""
    counts: dict[str, int] = {}
    for room in rooms:
        for device in room.devices:
            counts[device.kind.value] = counts.get(device.kind.value, 0) + 1
    counts["total"] = sum(counts.values())
    return counts
