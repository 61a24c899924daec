"""What one room's devices send, in simulated time, reproducibly from a seed.

`RoomTraffic.due(sim_s)` returns every draft (an event without id, `at`, epoch or seq:
the agent adds those when it emits it) whose simulated time has come, in time order.
Streams of occurrences (door passages, contact openings, motion, rare alarms and
faults) are Poisson processes thinned by the day curve where people cause them;
heartbeats are periodic. Each occurrence expands into its events at small offsets
(a passage is five events). Scenario events are `inject`ed into the same timeline.

The drafts depend only on the room, the rates, the seed and the start hour, never on
how often `due` is called: a run replayed with the same seed generates the same traffic.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from simulators.fleet.rates import Rates, activity
from wire import EventType, Kind

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from simulators.fleet.population import Device, Room

__all__ = ["Draft", "RoomTraffic"]

_HOUR: Final = 3600.0
_DAY: Final = 86_400.0
_NEVER: Final = float("inf")
_CURVED: Final = True  # people cause it: follows the day curve
_FLAT: Final = False
E = EventType


@dataclass(frozen=True, slots=True)
class Draft:
    """One event to emit at simulated second `sim_s` (from the run's start)."""

    sim_s: float
    device: str
    kind: Kind
    type: EventType
    data: dict[str, Any] = field(default_factory=dict)
    tag: str | None = None
    """Why a scenario put it there (`burglary`, `power-cut`...); None for background."""


@dataclass(slots=True)
class _Stream:
    """Occurrences at a mean `per_s` rate over `devices` (curved by the day, or not)."""

    devices: Sequence[Device]
    per_s: float
    curved: bool
    expand: Callable[[float, Device, random.Random], list[Draft]]
    next_s: float = 0.0


def _passage(rates: Rates) -> Callable[[float, Device, random.Random], list[Draft]]:
    def expand(t: float, d: Device, rng: random.Random) -> list[Draft]:
        card = f"card-{rng.randrange(1, 100_000):05d}"
        drafts = [
            Draft(t, d.id, d.kind, E.ACCESS_GRANTED, {"card": card}),
            Draft(t + 0.4, d.id, d.kind, E.DOOR_UNLOCKED),
            Draft(t + 1.0, d.id, d.kind, E.DOOR_OPENED),
        ]
        if rng.random() < rates.held_open_share:
            drafts.append(Draft(t + 61.0, d.id, d.kind, E.DOOR_HELD_OPEN, {"open_s": 60}))
            closed = t + rng.uniform(70.0, 180.0)
        else:
            closed = t + rng.uniform(4.0, 15.0)
        drafts.append(Draft(closed, d.id, d.kind, E.DOOR_CLOSED))
        drafts.append(Draft(closed + 1.0, d.id, d.kind, E.DOOR_LOCKED))
        return drafts

    return expand


def _pair(
    first: EventType, second: EventType, low_s: float, high_s: float
) -> Callable[[float, Device, random.Random], list[Draft]]:
    def expand(t: float, d: Device, rng: random.Random) -> list[Draft]:
        later = t + rng.uniform(low_s, high_s)
        return [Draft(t, d.id, d.kind, first), Draft(later, d.id, d.kind, second)]

    return expand


def _one(kind_type: EventType) -> Callable[[float, Device, random.Random], list[Draft]]:
    def expand(t: float, d: Device, rng: random.Random) -> list[Draft]:  # noqa: ARG001
        return [Draft(t, d.id, d.kind, kind_type)]

    return expand


def _next_s(stream: _Stream) -> float:
    return stream.next_s


def _heartbeat(t: float, d: Device, rng: random.Random) -> list[Draft]:  # noqa: ARG001
    return [Draft(t, d.id, d.kind, E.TEST_PERIODIC, {"interval_s": d.checkin_s})]


class RoomTraffic:
    """The background traffic of one room, plus whatever a scenario injects."""

    def __init__(self, room: Room, rates: Rates, seed: int, start_hour: float = 12.0) -> None:
        self.room = room
        self._rng = random.Random(f"{seed}:{room.site}")  # noqa: S311 - reproducible
        self._start_hour = start_hour
        self._heap: list[tuple[float, int, Draft]] = []
        self._counter = 0
        doors, contacts = room.of_kind(Kind.DOOR_LOCK), room.of_kind(Kind.CONTACT)
        cameras, guards = room.of_kind(Kind.CAMERA), room.of_kind(Kind.SHOP_GUARD)
        panics = room.of_kind(Kind.PANIC_ALARM)
        r = rates
        self._streams = [
            _Stream(doors, r.door_passages_per_hour / _HOUR, _CURVED, _passage(r)),
            _Stream(contacts, r.contact_openings_per_hour / _HOUR, _CURVED,
                    _pair(E.DOOR_OPENED, E.DOOR_CLOSED, 30.0, 600.0)),
            _Stream(cameras, r.camera_motion_per_hour / _HOUR, _CURVED,
                    _pair(E.MOTION_STARTED, E.MOTION_STOPPED, 5.0, 60.0)),
            _Stream(guards, r.intrusion_per_day / _DAY, _FLAT,
                    _pair(E.ALARM_INTRUSION, E.ALARM_RESTORE, 60.0, 300.0)),
            _Stream(panics, r.panic_per_day / _DAY, _FLAT, _one(E.ALARM_PANIC)),
            _Stream(contacts, r.tamper_per_day / _DAY, _FLAT,
                    _pair(E.ALARM_TAMPER, E.ALARM_RESTORE, 30.0, 300.0)),
            _Stream(contacts, r.battery_low_per_day / _DAY, _FLAT,
                    _pair(E.BATTERY_LOW, E.BATTERY_OK, 3600.0, 3600.0)),
            _Stream(cameras, r.camera_offline_per_day / _DAY, _FLAT,
                    _pair(E.DEVICE_OFFLINE, E.DEVICE_ONLINE, 60.0, 600.0)),
        ]  # fmt: skip
        for stream in self._streams:
            stream.next_s = self._next(stream, 0.0)
        self._beats = self._heartbeats() if rates.heartbeats else []

    def _heartbeats(self) -> list[tuple[float, int]]:
        """A heap of each device's next heartbeat (first at a random phase), by index."""
        beats = [(self._rng.uniform(0, d.checkin_s), i) for i, d in enumerate(self.room.devices)]
        heapq.heapify(beats)
        return beats

    def hour_at(self, sim_s: float) -> float:
        """The simulated hour of the day at `sim_s`."""
        return (self._start_hour + sim_s / _HOUR) % 24.0

    def _next(self, stream: _Stream, after: float) -> float:
        """The next accepted occurrence of `stream` after `after` (thinning by the curve)."""
        rate = stream.per_s * len(stream.devices)
        if rate <= 0:
            return _NEVER
        t = after
        while True:
            t += self._rng.expovariate(rate)
            if not stream.curved or self._rng.random() < activity(self.hour_at(t)):
                return t

    def inject(self, drafts: Iterable[Draft]) -> None:
        """Add scenario drafts to the timeline."""
        for draft in drafts:
            self._push(draft)

    def _push(self, draft: Draft) -> None:
        self._counter += 1
        heapq.heappush(self._heap, (draft.sim_s, self._counter, draft))

    def _advance(self, sim_s: float) -> None:
        """Expand every occurrence due by `sim_s`, in time order (deterministic)."""
        while True:
            stream = min(self._streams, key=_next_s)
            if stream.next_s > sim_s:
                break
            t = stream.next_s
            device = stream.devices[self._rng.randrange(len(stream.devices))]
            for draft in stream.expand(t, device, self._rng):
                self._push(draft)
            stream.next_s = self._next(stream, t)
        beats, devices = self._beats, self.room.devices
        while beats and beats[0][0] <= sim_s:
            t, index = beats[0]
            device = devices[index]
            for draft in _heartbeat(t, device, self._rng):
                self._push(draft)
            heapq.heapreplace(beats, (t + device.checkin_s, index))

    def due(self, sim_s: float) -> list[Draft]:
        """Every draft with a simulated time at or before `sim_s`, oldest first (removed)."""
        self._advance(sim_s)
        out: list[Draft] = []
        heap = self._heap
        while heap and heap[0][0] <= sim_s:
            out.append(heapq.heappop(heap)[2])
        return out

    @property
    def pending(self) -> int:
        """Drafts expanded but not yet due (e.g. a door that will close later)."""
        return len(self._heap)
