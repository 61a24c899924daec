"""The outbox's lanes: their bounds, their tallies, and who gives way when one is full.

Pure bookkeeping, no I/O: the outbox keeps a `Tally` in memory (so the status never
counts rows) and asks `givers` before each append which lanes must shed to make room.

The rule (`docs/delivery.md`): P1 and P2 each have their own row and byte bound, and
together may use at most `max_bytes - p0_reserve_bytes`, and never more than what is
left of `max_bytes`. P0 is never shed and never refused for space: it may use all of
`max_bytes` (evicting P2, then P1) and, once only P0 is left, go beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import wire
from wire import Lane

__all__ = ["DEFAULT_BOUNDS", "Bounds", "Tally", "givers"]

MIB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Bounds:
    """How much each lane may hold: rows and bytes for P1 and P2, bytes for all."""

    max_bytes: int = 512 * MIB
    p0_reserve_bytes: int = 64 * MIB
    p1_max_rows: int = 1_000_000
    p1_max_bytes: int = 256 * MIB
    p2_max_rows: int = 1_000_000
    p2_max_bytes: int = 128 * MIB

    def __post_init__(self) -> None:
        if not 0 <= self.p0_reserve_bytes < self.max_bytes:
            raise ValueError(
                f"p0_reserve_bytes ({self.p0_reserve_bytes}) must be below max_bytes "
                f"({self.max_bytes})"
            )

    @property
    def shared_bytes(self) -> int:
        """What P1 and P2 may use together: everything but P0's reserve."""
        return self.max_bytes - self.p0_reserve_bytes

    def lane_rows(self, lane: Lane) -> int | None:
        """The row bound of `lane` (None for P0: unbounded)."""
        match lane:
            case Lane.P1:
                return self.p1_max_rows
            case Lane.P2:
                return self.p2_max_rows
            case _:
                return None

    def lane_bytes(self, lane: Lane) -> int | None:
        """The byte bound of `lane` (None for P0: unbounded)."""
        match lane:
            case Lane.P1:
                return self.p1_max_bytes
            case Lane.P2:
                return self.p2_max_bytes
            case _:
                return None


DEFAULT_BOUNDS: Final = Bounds()


@dataclass(slots=True)
class Tally:
    """Per lane: events held, their bytes, events shed so far (indexed by `Lane`)."""

    depth: list[int] = field(default_factory=lambda: [0, 0, 0])
    size: list[int] = field(default_factory=lambda: [0, 0, 0])
    shed: list[int] = field(default_factory=lambda: [0, 0, 0])

    def copy(self) -> Tally:
        """An independent copy (changed inside a transaction, kept if it commits)."""
        return Tally(list(self.depth), list(self.size), list(self.shed))

    def add(self, lane: Lane, size: int) -> None:
        """One event of `size` bytes stored in `lane`."""
        self.depth[lane] += 1
        self.size[lane] += size

    def remove(self, lane: Lane, size: int) -> None:
        """One event of `size` bytes gone from `lane` (acked or shed)."""
        self.depth[lane] -= 1
        self.size[lane] -= size

    @property
    def total_bytes(self) -> int:
        """Bytes held in all lanes."""
        return sum(self.size)

    def lanes(self) -> wire.LaneSet:
        """The status's `lanes`."""
        stats = {
            lane.label: wire.LaneStats(
                depth=self.depth[lane], bytes=self.size[lane], shed=self.shed[lane]
            )
            for lane in Lane
        }
        return wire.LaneSet(**stats)


def givers(bounds: Bounds, tally: Tally, lane: Lane, size: int) -> tuple[Lane, ...] | None:
    """None when an event of `lane` and `size` bytes fits; else the lanes that may shed
    their oldest event to make room, in the order they give way.

    An empty tuple never comes back: a lane that cannot fit lists at least itself or P2.
    """
    if lane is Lane.P0:
        return (Lane.P2, Lane.P1) if tally.total_bytes + size > bounds.max_bytes else None
    rows, limit = bounds.lane_rows(lane), bounds.lane_bytes(lane)
    if (rows is not None and tally.depth[lane] + 1 > rows) or (
        limit is not None and tally.size[lane] + size > limit
    ):
        return (lane,)  # its own bound: only its own older events help
    shared = tally.size[Lane.P1] + tally.size[Lane.P2] + size
    if shared > bounds.shared_bytes or tally.total_bytes + size > bounds.max_bytes:
        # A P2 event never evicts a P1 one: P2 is shed first, whatever arrives.
        return (Lane.P2, Lane.P1) if lane is Lane.P1 else (Lane.P2,)
    return None
