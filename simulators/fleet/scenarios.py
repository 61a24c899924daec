"""Scenarios: seeded stories played over the background traffic, with the alerts they expect.

A scenario is data: a start hour (for the day curve), drafts injected into some rooms'
timelines, link faults, and the alerts it declares (`Declared`) from the hub's default
rules (hub/rules/defaults.yaml). Times are simulated seconds from the run's start;
`span_s` is the run's simulated length (duration times speed), and stories that need more
than that (an hour-long outage in a one-minute run) are shortened to fit and say so in
their description.

- `quiet-night`: 01:00, background traffic only; declares nothing.
- `burglary`: a shop guard's intrusion, a door of its room forced 20 s later, motion on
  the door's camera 15 s after; declares `intrusion`, `door-forced` and, when the hub
  has the fleet's links, `confirmed-intrusion`.
- `power-cut`: 19:00, mains lost at the panels of ~80 % of the rooms within 5 s,
  restored 20 min later (or half the run); declares `ac-lost` per panel.
- `link-down`: one room's link down for an hour (or half the run), then its backlog;
  declares `site-blind` if down ≥ 33 s real, `canary` if ≥ 305 s real.
- `reconnect-storm`: every agent's link drops at once and reconnects; declares nothing.
- `flapping-agent`: one agent's link drops every 4 s real; declares nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from simulators.fleet.traffic import Draft
from wire import EventType, Kind

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from simulators.fleet.population import Room

__all__ = ["SCENARIOS", "Declared", "Fault", "Scenario", "build_scenario"]

SITE_BLIND_AFTER_S: Final = 33.0  # offline_grace_s 30 + a tick and a margin
CANARY_AFTER_S: Final = 305.0  # grace_s 300 + a margin
FLAP_EVERY_S: Final = 4.0
_HOUR: Final = 3600.0


@dataclass(frozen=True, slots=True)
class Fault:
    """Cut the links of `sites` at simulated `sim_s` and keep them down `down_s` (simulated)."""

    sim_s: float
    sites: tuple[str, ...]
    down_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Declared:
    """An alert the scenario's story must raise: (rule, site, device), and why."""

    rule: str
    site: str
    device: str | None
    why: str
    needs_links: bool = False


@dataclass(frozen=True, slots=True)
class _Context:
    rooms: Sequence[Room]
    span_s: float
    speed: float
    rng: random.Random


@dataclass(frozen=True, slots=True)
class Scenario:
    """A story to play over the background traffic."""

    name: str
    description: str
    start_hour: float
    injections: Mapping[str, tuple[Draft, ...]] = field(default_factory=dict)
    faults: tuple[Fault, ...] = ()
    declared: tuple[Declared, ...] = ()


def _quiet_night(c: _Context) -> Scenario:  # noqa: ARG001 - every builder takes one
    return Scenario("quiet-night", "01:00 onwards: background traffic only", 1.0)


def _burglary(c: _Context) -> Scenario:
    room = c.rng.choice(c.rooms)
    guard = c.rng.choice(room.of_kind(Kind.SHOP_GUARD)).id
    door = c.rng.choice(room.of_kind(Kind.DOOR_LOCK)).id
    camera = room.links[door]
    t = c.span_s * 0.3
    tag = "burglary"
    drafts = (
        Draft(t, guard, Kind.SHOP_GUARD, EventType.ALARM_INTRUSION, {"zone": 1}, tag),
        Draft(t + 20, door, Kind.DOOR_LOCK, EventType.DOOR_FORCED, {}, tag),
        Draft(t + 35, camera, Kind.CAMERA, EventType.MOTION_STARTED, {"score": 0.9}, tag),
        Draft(t + 80, camera, Kind.CAMERA, EventType.MOTION_STOPPED, {}, tag),
    )
    declared = (
        Declared("intrusion", room.site, guard, "the shop guard's intrusion"),
        Declared("door-forced", room.site, door, "the block's door forced"),
        Declared(
            "confirmed-intrusion",
            room.site,
            door,
            f"door forced, then motion on its camera {camera} 15 s later",
            needs_links=True,
        ),
    )
    description = f"02:00, {room.site}: {guard} intrusion, {door} forced, motion on {camera}"
    return Scenario("burglary", description, 2.0, {room.site: drafts}, (), declared)


def _power_cut(c: _Context) -> Scenario:
    hit = [room for room in c.rooms if c.rng.random() < 0.8] or [c.rooms[0]]
    t = c.span_s * 0.2
    outage = min(20 * 60.0, c.span_s * 0.5)
    injections: dict[str, tuple[Draft, ...]] = {}
    declared: list[Declared] = []
    for room in hit:
        drafts: list[Draft] = []
        for panel in room.of_kind(Kind.PANEL):
            lost = t + c.rng.uniform(0, 5)
            restored = t + outage + c.rng.uniform(0, 5)
            drafts.append(Draft(lost, panel.id, Kind.PANEL, EventType.POWER_AC_LOST, {}, "power"))
            drafts.append(
                Draft(restored, panel.id, Kind.PANEL, EventType.POWER_AC_RESTORED, {}, "power")
            )
            declared.append(Declared("ac-lost", room.site, panel.id, "mains lost"))
        injections[room.site] = tuple(drafts)
    description = (
        f"19:00, mains lost at {len(declared)} panels in {len(hit)} rooms within 5 s, "
        f"restored {outage:.0f} s later (simulated)"
    )
    return Scenario("power-cut", description, 19.0, injections, (), tuple(declared))


def _link_down(c: _Context) -> Scenario:
    room = c.rng.choice(c.rooms)
    down = min(_HOUR, c.span_s * 0.5)
    real = down / c.speed
    declared: list[Declared] = []
    if real >= SITE_BLIND_AFTER_S:
        declared.append(Declared("site-blind", room.site, None, f"link down {real:.0f} s real"))
    if real >= CANARY_AFTER_S:
        declared.append(Declared("canary", room.site, "canary", f"no canary for {real:.0f} s"))
    description = (
        f"10:00, {room.site}'s link down {down:.0f} s simulated ({real:.0f} s real), "
        "then its backlog"
    )
    fault = Fault(c.span_s * 0.1, (room.site,), down)
    return Scenario("link-down", description, 10.0, {}, (fault,), tuple(declared))


def _reconnect_storm(c: _Context) -> Scenario:
    fault = Fault(c.span_s * 0.5, tuple(room.site for room in c.rooms))
    description = f"08:00, all {len(c.rooms)} agents drop their link at once and reconnect"
    return Scenario("reconnect-storm", description, 8.0, {}, (fault,))


def _flapping(c: _Context) -> Scenario:
    room = c.rng.choice(c.rooms)
    every = FLAP_EVERY_S * c.speed
    faults = tuple(
        Fault(t * every, (room.site,)) for t in range(1, int(c.span_s * 0.9 / every) + 1)
    )
    description = f"14:00, {room.site}'s link drops every {FLAP_EVERY_S:.0f} s real"
    return Scenario("flapping-agent", description, 14.0, {}, faults)


SCENARIOS: Final[Mapping[str, Callable[[_Context], Scenario]]] = {
    "quiet-night": _quiet_night,
    "burglary": _burglary,
    "power-cut": _power_cut,
    "link-down": _link_down,
    "reconnect-storm": _reconnect_storm,
    "flapping-agent": _flapping,
}
"""Every scenario by name."""


def build_scenario(
    name: str, rooms: Sequence[Room], *, span_s: float, speed: float, seed: int
) -> Scenario:
    """The scenario `name` over `rooms` for a run of `span_s` simulated seconds at `speed`.

    The same arguments always give the same scenario. `ValueError` for an unknown name.
    """
    builder = SCENARIOS.get(name)
    if builder is None:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    if not rooms:
        message = "a scenario needs at least one room"
        raise ValueError(message)
    if span_s <= 0 or speed <= 0:
        raise ValueError(f"span_s and speed must be above 0, not {span_s} and {speed}")
    rng = random.Random(f"{seed}:{name}")  # noqa: S311 - reproducible stories, not secrets
    return builder(_Context(rooms, span_s, speed, rng))
