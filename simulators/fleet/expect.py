"""Which alerts the hub's default rules must raise for what the fleet did (and which they may).

A model of hub/rules/defaults.yaml (docs/alerting.md, "The default rules"), applied to
the fleet's own record of every event it generated (`Record`: site, device, type, `at`)
and of every outage of its links (`Outage`). Alerts are compared as keys
(rule, site, device): the hub de-duplicates per key while an alert is unresolved, so a
key says "at least one alert of this rule for this device".

- immediate rules: one key per (rule, site, device) with a matching event;
- `alarm-storm`: three matching events at one site within 300 s of `at`;
- `confirmed-intrusion`: `door.forced`, then `motion.started` on its linked camera
  within 60 s (only when the hub has the fleet's links: `write_rules`);
- `ac-lost-10min`: mains not restored within 600 s, once the rule clock has seen it;
- `site-blind`: an outage of 30 s (`offline_grace_s`) or more; `canary`: 300 s or more.

Where timing makes the hub's answer uncertain (an outage of 25-33 s, a pair of events
within a second of a window's edge, a duration at its deadline) the key is *allowed*,
not required: the oracle fails on neither its presence nor its absence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from wire import EventType, Kind

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from simulators.fleet.agent import Outage, Record

__all__ = ["IMMEDIATE_RULES", "AlertKey", "Expectations", "expected_alerts"]

E = EventType
IMMEDIATE_RULES: Final[Mapping[EventType, str]] = MappingProxyType(
    {
        E.ALARM_PANIC: "panic",
        E.ALARM_DURESS: "duress",
        E.ALARM_FIRE: "fire",
        E.ALARM_INTRUSION: "intrusion",
        E.DOOR_FORCED: "door-forced",
        E.ALARM_TAMPER: "tamper",
        E.DOOR_HELD_OPEN: "door-held-open",
        E.DEVICE_OFFLINE: "device-offline",
        E.POWER_AC_LOST: "ac-lost",
        E.BATTERY_LOW: "battery-low",
        E.UNKNOWN: "unknown-input",
    }
)
"""Event type -> the default immediate rule it opens (or repeats) for its device."""

STORM_TYPES: Final = frozenset(
    {E.ALARM_PANIC, E.ALARM_DURESS, E.ALARM_INTRUSION, E.ALARM_FIRE, E.ALARM_TAMPER, E.DOOR_FORCED}
)
STORM_COUNT: Final = 3
STORM_WITHIN: Final = timedelta(seconds=300)
CORRELATION_WITHIN: Final = timedelta(seconds=60)
AC_LOST_FOR: Final = timedelta(seconds=600)
SITE_BLIND_S: Final = 30.0
CANARY_S: Final = 300.0
CANARY_DEVICE: Final = "canary"
# `at` reaches the hub exactly as the fleet made it, so only a window's own edge (inclusive
# or not) is uncertain between two events; against the hub's clock, SLACK_S is.
EDGE: Final = timedelta(milliseconds=1)
SLACK_S: Final = 5.0  # rule clock tick, status round trips, scheduling


@dataclass(frozen=True, slots=True, order=True)
class AlertKey:
    """One (rule, site, device) the hub keeps at most one unresolved alert for."""

    rule: str
    site: str
    device: str | None

    def __str__(self) -> str:
        return f"{self.rule}@{self.site}/{self.device or '-'}"


@dataclass(frozen=True, slots=True)
class Expectations:
    """Alerts the hub must raise (`required`) and may raise (`allowed`) for one run."""

    required: frozenset[AlertKey]
    allowed: frozenset[AlertKey]


class _Builder:
    def __init__(self) -> None:
        self.required: set[AlertKey] = set()
        self.allowed: set[AlertKey] = set()

    def add(self, key: AlertKey, *, certain: bool) -> None:
        (self.required if certain else self.allowed).add(key)

    def done(self) -> Expectations:
        return Expectations(frozenset(self.required), frozenset(self.allowed - self.required))


def _storms(records: Iterable[Record], out: _Builder) -> None:
    by_site: dict[str, list[datetime]] = defaultdict(list)
    for record in records:
        if record.type in STORM_TYPES:
            by_site[record.site].append(record.at)
    for site, ats in by_site.items():
        ats.sort()
        spans = [ats[i + STORM_COUNT - 1] - ats[i] for i in range(len(ats) - STORM_COUNT + 1)]
        if not spans:
            continue
        shortest = min(spans)
        if shortest <= STORM_WITHIN + EDGE:
            out.add(AlertKey("alarm-storm", site, None), certain=shortest < STORM_WITHIN - EDGE)


def _intrusions(
    records: Iterable[Record], links: Mapping[str, Mapping[str, str]], out: _Builder
) -> None:
    forced: list[Record] = []
    motion: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for record in records:
        if record.type is E.DOOR_FORCED:
            forced.append(record)
        elif record.type is E.MOTION_STARTED and record.kind is Kind.CAMERA:
            motion[record.site, record.device].append(record.at)
    for first in forced:
        camera = links.get(first.site, {}).get(first.device)
        if camera is None:
            continue
        for at in motion.get((first.site, camera), ()):
            gap = at - first.at
            if -EDGE <= gap <= CORRELATION_WITHIN + EDGE:
                inside = timedelta(0) + EDGE <= gap <= CORRELATION_WITHIN - EDGE
                out.add(AlertKey("confirmed-intrusion", first.site, first.device), certain=inside)


def _ac_lost(records: Iterable[Record], now: datetime, out: _Builder) -> None:
    history: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for record in records:
        if record.type in (E.POWER_AC_LOST, E.POWER_AC_RESTORED):
            history[record.site, record.device].append(record)
    for (site, device), events in history.items():
        events.sort(key=lambda r: r.at)
        for index, event in enumerate(events):
            if event.type is not E.POWER_AC_LOST:
                continue
            later = [r.at for r in events[index + 1 :] if r.type is E.POWER_AC_RESTORED]
            end = later[0] if later else now
            held = end - event.at
            edge = EDGE if later else timedelta(seconds=SLACK_S)
            if held >= AC_LOST_FOR - edge:
                out.add(AlertKey("ac-lost-10min", site, device), certain=held > AC_LOST_FOR + edge)


def _outages(outages: Iterable[Outage], now: datetime, out: _Builder) -> None:
    for outage in outages:
        seconds = outage.seconds(now)
        blind = AlertKey("site-blind", outage.site, None)
        if seconds >= SITE_BLIND_S - SLACK_S:
            out.add(blind, certain=seconds >= SITE_BLIND_S + SLACK_S - 2)
        canary = AlertKey("canary", outage.site, CANARY_DEVICE)
        if seconds >= CANARY_S - 60 - SLACK_S:  # the last canary may be a minute old
            out.add(canary, certain=seconds >= CANARY_S + SLACK_S)


def expected_alerts(
    records: Iterable[Record],
    outages: Iterable[Outage],
    *,
    now: datetime,
    links: Mapping[str, Mapping[str, str]] | None = None,
    declared: Iterable[AlertKey] = (),
) -> Expectations:
    """The alerts the default rules raise for `records` and `outages`, judged at `now`.

    `links` (site -> door -> camera) are the links the hub's rules file has; without
    them `confirmed-intrusion` cannot fire and is not expected. `declared` are the keys a
    scenario's story requires; they are required whatever the model says.
    """
    records = list(records)
    out = _Builder()
    for key in declared:
        out.add(key, certain=True)
    for record in records:
        rule = IMMEDIATE_RULES.get(record.type)
        if rule is not None:
            out.add(AlertKey(rule, record.site, record.device), certain=True)
    _storms(records, out)
    if links:
        _intrusions(records, links, out)
    _ac_lost(records, now, out)
    _outages(outages, now, out)
    return out.done()
