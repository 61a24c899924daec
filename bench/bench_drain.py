"""How fast an agent's outbox backlog drains into PostgreSQL after an outage.

An outage leaves N events (P1 door and P2 motion events) in one agent's outbox. With a
private Mosquitto and a scratch database on the local PostgreSQL, the bench measures:

1. **raw publish**: a bare paho client publishes the same N payloads (QoS 1) to a topic
   nobody subscribes to; time from the first publish to the last PUBACK;
2. **bare publisher through the hub**: the same client publishes them on the site's
   event topics while a real hub (`python -m hub run`) stores them in a fresh database;
   time from the first publish to `count(*) = N`;
3. **drain**: the hub on another fresh database, then a real agent (`python -m agent run`)
   started on the filled outbox; time from its connect (its retained status `online`
   reaching the broker) to `count(*)` covering the backlog. When about a fifth is stored,
   one `alarm.panic` is pushed through the agent's HTTP API and timed from the POST until
   its row is visible (P0 latency).

Broker, hub, agent, PostgreSQL and the bench share this machine's CPUs; the CPU seconds
each used during phases 2 and 3 are reported (from /proc) to show where the time goes.
Every process and both databases are removed on exit, Ctrl-C and SIGTERM included.

Run: `PYTHONPATH=. .venv/bin/python bench/bench_drain.py [--events N] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.*` and the packages

import httpx
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

import wire
from agent import Draft, Outbox
from bench._cpu import CpuMeter
from tests.faults.processes import AgentProcess, HubProcess
from tests.harness import MqttEndpoint, PrivateMosquitto, scratch_database
from tests.harness.services import DEFAULT_DATABASE_URL
from wire import EventType, Kind

if TYPE_CHECKING:
    from collections.abc import Sequence

SEED = 20250301
SITE = "room-07"
DOORS = [f"door-{i:03d}" for i in range(40)]
SENSORS = [f"pir-{i:03d}" for i in range(40)]
PANIC = "panic-001"
DEVICES = {
    **dict.fromkeys(DOORS, Kind.DOOR_LOCK.value),
    **dict.fromkeys(SENSORS, Kind.CONTACT.value),
    PANIC: Kind.PANIC_ALARM.value,
}
DOOR_TYPES = [
    EventType.DOOR_OPENED,
    EventType.DOOR_CLOSED,
    EventType.DOOR_LOCKED,
    EventType.DOOR_UNLOCKED,
]
MOTION_TYPES = [EventType.MOTION_STARTED, EventType.MOTION_STOPPED]
BROKER_CONFIG = [  # docs/hub.md, "Broker settings for the hub"
    "max_queued_messages 200000",
    "max_queued_bytes 0",
    "max_inflight_messages 100",
    "persistent_client_expiration 7d",
    "log_type error",
    "log_type warning",
]
DELIVERY = {"resend_initial_s": 30, "resend_max_s": 300}  # production defaults
# The hub's per-site rate cap (200/s, burst 2,000) would refuse most of one site's backlog
# and leave the bare publisher's excess unstored: the drain is measured without it.
NO_RATE_CAP = {"site_rate_per_s": 1_000_000, "site_burst": 10_000_000}
INFLIGHT = 100  # the agent's `delivery.max_inflight` default, used by the bare publisher
P0_AT = 0.2  # push the panic once this share of the backlog is stored
DRAIN_TIMEOUT_S = 600.0


@dataclass(slots=True)
class Phase:
    """One timed phase: events moved, seconds, events/s and CPU seconds per process."""

    events: int
    seconds: float
    events_per_s: float
    cpu_s: dict[str, float] = field(default_factory=dict)


def draft(rng: random.Random) -> Draft:
    """A realistic backlog event: 60% door state changes (P1), 40% motion (P2)."""
    source = {"driver": "http", "remote": "192.168.1.40"}
    if rng.random() < 0.6:
        door = rng.choice(DOORS)
        type_ = rng.choice(DOOR_TYPES)
        return Draft(door, Kind.DOOR_LOCK, type_, source, {"door": rng.randint(1, 4)})
    sensor = rng.choice(SENSORS)
    zone = {"zone": rng.randint(1, 16), "area": "lobby"}
    return Draft(sensor, Kind.CONTACT, rng.choice(MOTION_TYPES), source, zone)


async def fill_outbox(path: Path, events: int, appenders: int = 50) -> int:
    """Append `events` drafts from `appenders` concurrent tasks; the transactions used."""
    rng = random.Random(SEED)
    drafts = [draft(rng) for _ in range(events)]
    async with Outbox(path, site=SITE) as outbox:

        async def appender(share: Sequence[Draft]) -> None:
            for one in share:
                await outbox.append(one)

        async with asyncio.TaskGroup() as tasks:
            for k in range(appenders):
                tasks.create_task(appender(drafts[k::appenders]))
        return outbox.append_transactions


Backlog = list[tuple[Kind, str, bytes]]


def backlog(path: Path) -> Backlog:
    """The outbox's events as (kind, device, payload), in seq order."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT kind, device, payload FROM events ORDER BY seq").fetchall()
    finally:
        db.close()
    return [(Kind(kind), device, bytes(body)) for kind, device, body in rows]


def publish_all(endpoint: MqttEndpoint, messages: Sequence[tuple[str, bytes]]) -> float:
    """Publish `messages` at QoS 1 with a bare paho client; seconds to the last PUBACK.

    At most `INFLIGHT` publishes await their PUBACK at once, as in the agent: handing paho
    all N at once makes it rescan its whole queue on every PUBACK (quadratic in N).
    """
    done, window = threading.Event(), threading.Semaphore(INFLIGHT)
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1
        window.release()
        if acked == len(messages):
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-bare-{os.getpid()}")
    client.max_inflight_messages_set(INFLIGHT)
    client.on_publish = on_publish
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    try:
        start = time.perf_counter()
        for topic, payload in messages:
            if not window.acquire(timeout=DRAIN_TIMEOUT_S):
                raise TimeoutError(f"no PUBACK for {DRAIN_TIMEOUT_S} s after {acked}")
            client.publish(topic, payload, qos=1)
        if not done.wait(DRAIN_TIMEOUT_S):
            raise TimeoutError(f"only {acked} of {len(messages)} publishes were acknowledged")
        return time.perf_counter() - start
    finally:
        client.disconnect()
        client.loop_stop()


def count_events(conn: psycopg.Connection[tuple[int]]) -> int:
    """Rows in `events` now."""
    row = conn.execute("SELECT count(*) FROM events").fetchone()
    return 0 if row is None else int(row[0])


def wait_count(database_url: str, target: int, *, every_s: float = 0.1) -> float:
    """Poll `count(*)` until it reaches `target`; the `perf_counter` time it did."""
    deadline = time.perf_counter() + DRAIN_TIMEOUT_S
    with psycopg.connect(database_url, autocommit=True) as conn:
        while (seen := count_events(conn)) < target:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{seen} of {target} events stored after {DRAIN_TIMEOUT_S} s")
            time.sleep(every_s)
    return time.perf_counter()


def wait_hub_subscribed(hub: HubProcess, within_s: float = 30.0) -> None:
    """Poll the hub's /health until its broker link is up (connected and subscribed)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{hub.api}/health", timeout=2).json().get("mqtt_connected"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"the hub did not subscribe within {within_s} s: {hub.log_path}")


def bare_through_hub(
    work: Path, broker: PrivateMosquitto, server_url: str, events: Backlog
) -> Phase:
    """Phase 2: the bare publisher's events stored by a hub in a fresh database."""
    prefix = "bench-bare/"
    topics = wire.TopicSpace(prefix)
    messages = [(topics.events(SITE, kind, device), body) for kind, device, body in events]
    with (
        scratch_database(server_url) as database_url,
        HubProcess(
            work / "hub-bare",
            database_url=database_url,
            endpoint=broker.endpoint,
            prefix=prefix,
            hub_id="bench-hub-bare",
            ingest=NO_RATE_CAP,
        ) as hub,
    ):
        wait_hub_subscribed(hub)
        meter = CpuMeter({"hub": hub.pid, "mosquitto": broker.pid or 0})
        start = time.perf_counter()
        publish_all(broker.endpoint, messages)
        seconds = wait_count(database_url, len(messages)) - start
        return Phase(len(messages), seconds, len(messages) / seconds, meter.used())


@dataclass(slots=True)
class DrainResult:
    """Phase 3: the drain and the P0 event pushed during it."""

    drain: Phase
    agent_start_to_connect_s: float
    p0_pushed_at_stored: int
    p0_http_201_s: float
    p0_latency_s: float


class StatusWatch:
    """Notes when the first message on a topic arrives (the agent's status on connect)."""

    def __init__(self, endpoint: MqttEndpoint, topic: str) -> None:
        self.seen = threading.Event()
        self.at = 0.0
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bench-watch-{os.getpid()}"
        )
        self._client.on_message = self._on_message
        self._client.connect(endpoint.host, endpoint.port)
        self._client.subscribe(topic, qos=1)
        self._client.loop_start()

    def _on_message(self, *_: object) -> None:
        if not self.seen.is_set():
            self.at = time.perf_counter()
            self.seen.set()

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()


def drain(work: Path, broker: PrivateMosquitto, server_url: str, events: int) -> DrainResult:
    """Phase 3: start the hub, then the agent on the filled outbox; time the drain."""
    prefix = "bench-drain/"
    agent = AgentProcess(
        work / "agent",
        site=SITE,
        devices=DEVICES,
        endpoint=broker.endpoint,
        prefix=prefix,
        delivery=DELIVERY,
    )
    with ExitStack() as stack:
        database_url = stack.enter_context(scratch_database(server_url))
        hub = HubProcess(
            work / "hub-drain",
            database_url=database_url,
            endpoint=broker.endpoint,
            prefix=prefix,
            hub_id="bench-hub-drain",
            ingest=NO_RATE_CAP,
        )
        stack.enter_context(hub)
        wait_hub_subscribed(hub)
        watch = StatusWatch(broker.endpoint, wire.TopicSpace(prefix).status(SITE))
        stack.callback(watch.close)
        launched = time.perf_counter()
        stack.enter_context(agent)
        if not watch.seen.wait(30):
            raise TimeoutError(f"the agent did not connect within 30 s: {agent.log_path}")
        meter = CpuMeter({"hub": hub.pid, "agent": agent.pid, "mosquitto": broker.pid or 0})
        p0 = push_p0_during(agent, database_url, events)
        done = wait_count(database_url, events + 1)
        seconds = done - watch.at
        return DrainResult(
            Phase(events, seconds, events / seconds, meter.used()),
            watch.at - launched,
            *p0,
        )


def push_p0_during(agent: AgentProcess, database_url: str, events: int) -> tuple[int, float, float]:
    """Once `P0_AT` of the backlog is stored, push a panic and time it until stored.

    Returns (rows stored when pushed, seconds to the agent's 201, seconds to the row).
    """
    with psycopg.connect(database_url, autocommit=True) as conn, agent.pusher() as pusher:
        wait_s = time.perf_counter() + DRAIN_TIMEOUT_S
        while (stored := count_events(conn)) < events * P0_AT:
            if time.perf_counter() > wait_s:
                raise TimeoutError(f"only {stored} of {events} events stored")
            time.sleep(0.05)
        start = time.perf_counter()
        status = pusher.push(PANIC, EventType.ALARM_PANIC.value, {"zone": 1})
        answered = time.perf_counter() - start
        if status != 201:
            raise RuntimeError(f"the agent answered {status} to the panic")
        query = "SELECT 1 FROM events WHERE id = %s"
        while conn.execute(query, (pusher.stored[-1],)).fetchone() is None:
            if time.perf_counter() > wait_s:
                msg = "the panic was never stored"
                raise TimeoutError(msg)
            time.sleep(0.01)
        return stored, answered, time.perf_counter() - start


def _terminate(*_: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so every `with` block cleans up."""
    raise KeyboardInterrupt


@dataclass(slots=True)
class Figures:
    """Everything one run measured."""

    mean_bytes: float
    raw: Phase
    bare: Phase
    result: DrainResult


def run(events: int, server_url: str) -> Figures:
    """All three phases in one private broker; the report."""
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-drain-")))
        broker = stack.enter_context(PrivateMosquitto(extra_config=BROKER_CONFIG))
        outbox = work / "agent" / "outbox.sqlite3"
        outbox.parent.mkdir(parents=True)
        start = time.perf_counter()
        transactions = asyncio.run(fill_outbox(outbox, events))
        fill_s = time.perf_counter() - start
        stored = backlog(outbox)
        mean_bytes = sum(len(body) for *_, body in stored) / len(stored)
        print(
            f"outbox filled: {events:,} events ({mean_bytes:.0f} bytes mean) in {fill_s:.1f} s"
            f" ({transactions} transactions)"
        )
        raw_s = publish_all(broker.endpoint, [("bench-raw/nobody", b) for *_, b in stored])
        raw = Phase(events, raw_s, events / raw_s)
        print(f"raw publish:               {raw.events_per_s:9,.0f} events/s ({raw_s:.2f} s)")
        bare = bare_through_hub(work, broker, server_url, stored)
        print(
            f"bare publisher → hub → PG: {bare.events_per_s:9,.0f} events/s ({bare.seconds:.2f} s)"
        )
        print(f"  CPU s: {bare.cpu_s}")
        result = drain(work, broker, server_url, events)
    return Figures(mean_bytes, raw, bare, result)


def report(figures: Figures, events: int) -> dict[str, object]:
    """Print the drain figures and ratios; the JSON-ready report."""
    raw, bare, result = figures.raw, figures.bare, figures.result
    d = result.drain
    print(
        f"agent drain → hub → PG:    {d.events_per_s:9,.0f} events/s ({d.seconds:.2f} s"
        f" from connect; agent start to connect {result.agent_start_to_connect_s:.2f} s)"
    )
    print(f"  CPU s: {d.cpu_s}")
    print(
        f"drain / bare-through-hub: {d.events_per_s / bare.events_per_s:.2f}x;"
        f" drain / raw publish: {d.events_per_s / raw.events_per_s:.2f}x"
    )
    print(
        f"P0 during drain (pushed at {result.p0_pushed_at_stored:,} stored): "
        f"201 after {result.p0_http_201_s * 1000:.0f} ms, stored after "
        f"{result.p0_latency_s * 1000:.0f} ms"
    )
    ok_rate, ok_p0 = d.events_per_s >= 5000, result.p0_latency_s < 2.0
    print(
        f"targets: drain >= 5,000 events/s {'met' if ok_rate else 'NOT met'}; "
        f"P0 < 2 s {'met' if ok_p0 else 'NOT met'}"
    )
    return {
        "events": events,
        "mean_bytes": figures.mean_bytes,
        "machine": _machine(),
        "raw_publish": asdict(raw),
        "bare_through_hub": asdict(bare),
        "drain": asdict(result),
        "ratios": {
            "drain_to_bare_through_hub": d.events_per_s / bare.events_per_s,
            "drain_to_raw_publish": d.events_per_s / raw.events_per_s,
        },
        "targets": {"drain_5000_per_s": ok_rate, "p0_under_2_s": ok_p0},
    }


def _machine() -> str:
    return (
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs "
        "shared by broker, hub, agent, PostgreSQL and the bench"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run, print; optionally write the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100_000, help="backlog size")
    parser.add_argument("--database", default=DEFAULT_DATABASE_URL, help="PostgreSQL server")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    print(_machine())
    figures = run(args.events, args.database)
    result = report(figures, args.events)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
