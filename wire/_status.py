"""Health reports: the agent's status (also its LWT) and the hub's."""

import uuid
from typing import Annotated, Final

import msgspec

from wire._base import ShortText, Text, Version, WireStruct
from wire._ids import ID_PATTERN, SiteId
from wire._time import Timestamp, check_time
from wire._types import DriverState, Lane, Presence

__all__ = [
    "HUB_ID_PATTERN",
    "MAX_DRIVERS",
    "AgentStatus",
    "ComponentHealth",
    "DriverHealth",
    "HubComponents",
    "HubStatus",
    "LaneSet",
    "LaneStats",
]

MAX_DRIVERS: Final = 32
HUB_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}\Z"

Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
DriverName = Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]


class LaneStats(WireStruct, frozen=True, kw_only=True):
    """One outbox lane: events waiting, their size, and how many were shed so far."""

    depth: Count
    bytes: Count
    shed: Count


class LaneSet(WireStruct, frozen=True, kw_only=True):
    """The three lanes of an agent's outbox; all three are always reported."""

    p0: LaneStats
    p1: LaneStats
    p2: LaneStats

    def __getitem__(self, lane: Lane) -> LaneStats:
        """The stats of `lane`."""
        stats: LaneStats = getattr(self, lane.label)
        return stats


class DriverHealth(WireStruct, frozen=True, kw_only=True):
    """The health of one driver of the agent, with a human-readable detail."""

    state: DriverState
    detail: Text | None = None


class AgentStatus(WireStruct, frozen=True, kw_only=True):
    """An agent's status: retained, republished every 30 s; the LWT is the same schema.

    `clock` is the agent's clock when it published (the hub compares it with its own);
    `epoch` is the agent outbox's epoch, the one its events carry.
    """

    v: Version
    site: SiteId
    state: Presence
    reason: Text | None = None
    version: ShortText
    started_at: Timestamp
    clock: Timestamp
    epoch: uuid.UUID
    degraded: bool
    lanes: LaneSet
    drivers: Annotated[dict[DriverName, DriverHealth], msgspec.Meta(max_length=MAX_DRIVERS)]

    def __post_init__(self) -> None:
        check_time("started_at", self.started_at)
        check_time("clock", self.clock)


class ComponentHealth(WireStruct, frozen=True, kw_only=True):
    """Whether one part of the hub is running, with a human-readable detail."""

    alive: bool
    detail: Text | None = None


class HubComponents(WireStruct, frozen=True, kw_only=True):
    """The hub's three loops: all three are always reported."""

    ingest: ComponentHealth
    rules: ComponentHealth
    relay: ComponentHealth


class HubStatus(WireStruct, frozen=True, kw_only=True):
    """A hub instance's health: retained on `_hub/status`; its LWT says `offline`."""

    v: Version
    hub: Annotated[str, msgspec.Meta(pattern=HUB_ID_PATTERN, description="hub instance id")]
    state: Presence
    reason: Text | None = None
    version: ShortText
    started_at: Timestamp
    clock: Timestamp
    components: HubComponents

    def __post_init__(self) -> None:
        check_time("started_at", self.started_at)
        check_time("clock", self.clock)
