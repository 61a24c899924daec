"""A whole fleet run: agents for every room, the scenario played in simulated time, the
backlog drained, then the oracle.

    report = await run_fleet(FleetOptions(broker_url="mqtt://127.0.0.1:1883", rooms=3,
                                          scale=0.05, scenario="burglary",
                                          database_url="postgresql://..."))
    print(report.summary()); assert report.ok

Timeline: all agents connect; for `duration_s` real seconds, simulated time runs at
`speed` times real time and each room's due drafts are emitted (events get `at` = the real
clock, as an agent fixes it) and scenario faults are applied; each agent also emits its
canary (`test.periodic` from device `canary`) every `canary_s` real seconds. Then the
fleet waits up to `drain_s` for the hub to ack everything, `settle_s` for the rule
clock, runs the oracle (if given a database), and only then disconnects. The report
says what was sent, how fast, and the fleet's own CPU, so a benchmark can tell whether
the fleet or the hub saturated.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

import yaml

from simulators.fleet._broker import parse_broker_url
from simulators.fleet.agent import AgentSettings, FleetAgent
from simulators.fleet.expect import CANARY_DEVICE, AlertKey, Expectations, expected_alerts
from simulators.fleet.oracle import check
from simulators.fleet.population import build_population, summarise
from simulators.fleet.rates import Rates
from simulators.fleet.report import FleetReport
from simulators.fleet.scenarios import SCENARIOS, build_scenario
from simulators.fleet.traffic import Draft, RoomTraffic
from wire import EventType, Kind, TopicSpace

if TYPE_CHECKING:
    from collections.abc import Sequence

    from simulators.fleet.agent import Outage, Record
    from simulators.fleet.population import Room
    from simulators.fleet.scenarios import Scenario

__all__ = [
    "DEFAULT_RULES",
    "FleetOptions",
    "FleetReport",
    "expectations_for",
    "plan",
    "run_fleet",
    "write_rules",
]

logger = logging.getLogger(__name__)

DEFAULT_RULES: Final = Path(__file__).resolve().parents[2] / "hub" / "rules" / "defaults.yaml"
"""The hub's shipped rules, read as data (the fleet never imports the hub)."""
_CONNECT_S: Final = 30.0
_EMIT_SLICE: Final = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetOptions:
    """Everything a fleet run needs; see `run_fleet`."""

    broker_url: str
    database_url: str | None = None
    """The hub's database, for the oracle; None: no oracle."""
    rooms: int = 55
    scale: float = 1.0
    scenario: str = "quiet-night"
    duration_s: float = 60.0
    """Real seconds of traffic (simulated: `duration_s` times `speed`)."""
    speed: float = 10.0
    seed: int = 1
    topic_prefix: str = ""
    hub_has_links: bool = False
    """The hub runs the rules `write_rules` wrote (door -> camera links)."""
    agent: AgentSettings = field(default_factory=AgentSettings)
    rates: Rates = field(default_factory=Rates)
    drain_s: float = 120.0
    settle_s: float = 3.0
    canary_s: float = 60.0
    tick_s: float = 0.05
    share: tuple[int, int] = (0, 1)
    """(i, n): this process plays every n-th room from the i-th (`run_processes`)."""

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(
                f"unknown scenario {self.scenario!r}; choose from {', '.join(SCENARIOS)}"
            )
        if not 0 < self.duration_s <= 86_400:
            raise ValueError(f"duration_s must be above 0 and at most a day, not {self.duration_s}")
        if not 0 < self.speed <= 3600:
            raise ValueError(f"speed must be above 0 and at most 3600, not {self.speed}")
        if self.drain_s < 0 or self.settle_s < 0 or self.canary_s <= 0 or self.tick_s <= 0:
            message = "drain_s and settle_s must be ≥ 0, canary_s and tick_s above 0"
            raise ValueError(message)
        if not 0 <= self.share[0] < self.share[1]:
            raise ValueError(f"share {self.share} must be (i, n) with 0 ≤ i < n")
        parse_broker_url(self.broker_url)
        TopicSpace(self.topic_prefix)


def write_rules(path: Path, rooms: Sequence[Room], defaults: Path = DEFAULT_RULES) -> Path:
    """Write the hub's default rules plus a link from every door to its camera to `path`.

    With these rules (`rules.path` in the hub's configuration) the `confirmed-intrusion`
    rule can fire; run the fleet with `hub_has_links=True` to expect it.
    """
    try:
        document = yaml.safe_load(defaults.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{defaults}: cannot read the hub's default rules: {exc}") from exc
    document["links"] = [
        {"site": room.site, "device": door, "to": [camera]}
        for room in rooms
        for door, camera in room.links.items()
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Run:
    """One run's state: rooms, agents, traffic, the scenario's pending faults."""

    def __init__(self, options: FleetOptions, rooms: Sequence[Room], scenario: Scenario) -> None:
        self.options = options
        self.rooms = rooms
        self.scenario = scenario
        broker = parse_broker_url(options.broker_url)
        space = TopicSpace(options.topic_prefix)
        tag = (
            ""
            if not options.topic_prefix
            else "-" + options.topic_prefix.strip("/").replace("/", "-")[-24:]
        )
        self.agents = {
            room.site: FleetAgent(room, broker, space, options.agent, client_tag=tag)
            for room in rooms
        }
        self.traffic = {
            room.site: RoomTraffic(room, options.rates, options.seed, scenario.start_hour)
            for room in rooms
        }
        for site, drafts in scenario.injections.items():
            if site in self.traffic:
                self.traffic[site].inject(drafts)
        self.faults = sorted(scenario.faults, key=lambda f: f.sim_s)
        self.next_canary = dict.fromkeys(self.agents, 0.0)

    async def tick(self, real_s: float) -> None:
        """Emit what is due at `real_s` of traffic; apply due faults; emit canaries.

        Emitting costs ~100 µs an event (building and checking it): the loop is let go
        every `_EMIT_SLICE` events, so that the agents' connections keep being served
        (PUBACKs, acks, keepalives) when a tick has thousands to emit.
        """
        speed = self.options.speed
        sim_s = real_s * speed
        for site, traffic in self.traffic.items():
            agent = self.agents[site]
            for count, draft in enumerate(traffic.due(sim_s), 1):
                agent.emit(draft)
                if count % _EMIT_SLICE == 0:
                    await asyncio.sleep(0)
            if real_s >= self.next_canary[site]:
                self.next_canary[site] = real_s + self.options.canary_s
                data = {"canary": True, "interval_s": self.options.canary_s}
                agent.emit(Draft(sim_s, CANARY_DEVICE, Kind.PANEL, EventType.TEST_PERIODIC, data))
        while self.faults and self.faults[0].sim_s <= sim_s:
            fault = self.faults.pop(0)
            for site in fault.sites:
                if site in self.agents:
                    self.agents[site].cut(fault.down_s / speed)

    def connected(self) -> bool:
        return all(agent.counters.connections > 0 for agent in self.agents.values())

    def unacked(self) -> int:
        return sum(agent.unacked for agent in self.agents.values())


def expectations_for(
    options: FleetOptions,
    scenario: Scenario,
    rooms: Sequence[Room],
    records: Sequence[Record],
    outages: Sequence[Outage],
) -> Expectations:
    """The alerts a run must (and may) raise: the model of the default rules applied to
    what the fleet did, plus what the scenario declares."""
    links = {room.site: room.links for room in rooms} if options.hub_has_links else None
    declared = [
        AlertKey(d.rule, d.site, d.device)
        for d in scenario.declared
        if links is not None or not d.needs_links
    ]
    now = datetime.now(UTC)
    return expected_alerts(records, outages, now=now, links=links, declared=declared)


def plan(options: FleetOptions) -> tuple[tuple[Room, ...], Scenario]:
    """The run's whole population and its scenario (the same in every fleet process)."""
    rooms = build_population(options.rooms, options.scale, options.seed)
    span_s = options.duration_s * options.speed
    scenario = build_scenario(
        options.scenario, rooms, span_s=span_s, speed=options.speed, seed=options.seed
    )
    return rooms, scenario


async def _drive(run: _Run) -> tuple[float, float]:
    """Connect, play for `duration_s`, wait for the acks; returns (run_s, drain_s)."""
    options = run.options
    async with asyncio.timeout(_CONNECT_S):
        while not run.connected():  # noqa: ASYNC110 - polling counters of many agents
            await asyncio.sleep(0.05)
    start = time.monotonic()
    while (real_s := time.monotonic() - start) < options.duration_s:
        await run.tick(real_s)
        await asyncio.sleep(options.tick_s)
    await run.tick(options.duration_s)  # the simulated span ends exactly where it should
    run_s = time.monotonic() - start
    drained = time.monotonic()
    deadline = drained + options.drain_s
    while run.unacked() and time.monotonic() < deadline:  # noqa: ASYNC110 - as above
        await asyncio.sleep(0.1)
    return run_s, time.monotonic() - drained


async def run_fleet(options: FleetOptions) -> FleetReport:
    """Play `options.scenario` with a fleet of agents, drain, judge; see the module doc.

    Raises `ValueError` for bad options, `TimeoutError` if the agents cannot connect,
    `OracleError` if the database cannot be read. With `share=(i, n)`, n > 1, only every
    n-th room from the i-th is played and nothing is judged (`run_processes` judges).
    """
    all_rooms, scenario = plan(options)
    index, parts = options.share
    rooms = all_rooms[index::parts]
    run = _Run(options, rooms, scenario)
    since = datetime.now(UTC) - timedelta(seconds=1)
    cpu0 = _cpu_s()
    verdict = None
    async with asyncio.TaskGroup() as tasks:
        for site, agent in run.agents.items():
            tasks.create_task(agent.run(), name=f"fleet-agent:{site}")
        try:
            run_s, drain_s = await _drive(run)
            await asyncio.sleep(options.settle_s)
            records = [r for agent in run.agents.values() for r in agent.records]
            outages = [o for agent in run.agents.values() for o in agent.outages]
            expectations = expectations_for(options, scenario, all_rooms, records, outages)
            if options.database_url is not None and parts == 1:
                verdict = await asyncio.to_thread(
                    check,
                    options.database_url,
                    records,
                    expectations,
                    epochs=[agent.epoch for agent in run.agents.values()],
                    sites=list(run.agents),
                    since=since,
                )
        finally:
            for agent in run.agents.values():
                await agent.stop()
    counters = [agent.counters for agent in run.agents.values()]
    return FleetReport(
        scenario=scenario.name,
        description=scenario.description,
        rooms=len(rooms),
        devices=summarise(rooms),
        generated=sum(c.emitted for c in counters),
        published=sum(c.published for c in counters),
        resent=sum(c.resent for c in counters),
        republished=sum(c.republished for c in counters),
        acked=sum(c.acked for c in counters),
        unacked=run.unacked(),
        run_s=run_s,
        drain_s=drain_s,
        cpu_s=_cpu_s() - cpu0,
        max_rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        types=dict(Counter(r.type.value for r in records).most_common()),
        expectations=expectations,
        verdict=verdict,
        records=tuple(records),
        outages=tuple(outages),
        epochs=tuple(agent.epoch for agent in run.agents.values()),
        sites=tuple(run.agents),
        since=since,
    )
