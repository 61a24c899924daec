"""How long a panic takes from an agent's publish to its alert on the MQTT alerts topic.

A private Mosquitto, a scratch database on the local PostgreSQL and a real hub (`python -m
hub run`, default rules). Every `--interval-ms` the bench publishes a probe: a valid v1
`alarm.panic` (QoS 1) from a new device of a new site, so the default `panic` rule opens
one new alert for each (and the `alarm-storm` rule, 3 per site in 5 min, stays out of it).
Subscribed to every site's alerts topic, the bench matches each `opened` transition of
`panic` to its probe by `event_ids[0]`: latency = arrival minus the instant just before the
probe's publish (`time.perf_counter`, both in this process).

One run, two phases, so the loaded/baseline ratio holds on a noisy machine:

1. **baseline**: probes only (`--baseline-probes`, 200);
2. **loaded**: probes (`--probes`, 300) while a process of its own (so it holds no GIL
   against the bench's timestamps) publishes QoS 1 `door.opened` / `door.closed` events,
   which raise no alert, from 55 sites at a steady `--rate` (1,000 events/s, monotonic
   schedule; the rate achieved is reported).

Warm-up probes come first, uncounted. Per phase: p50 / p95 / p99 / max, probes lost (each
phase waits 10 s for the last; none may be lost), CPU seconds of hub, mosquitto, postgres
(every postgres process on the machine), loader and bench, the hub's batches (its
/metrics), and where the time went by the database's clocks: publish → ingest transaction
start (`events.received_at`) → the relay's transaction start (`alert_outbox.delivered_at`)
→ arrival. Targets, loaded phase: p50 < 20 ms, p99 < 100 ms. `--batch-wait-ms`,
`--batch-quiet-ms` (hub `ingest`), `--broker-nodelay` and `--background locked-unlocked`
(door events no rule looks at) help find where time goes. Everything is removed on exit,
Ctrl-C and SIGTERM included.

Run: `.venv/bin/python bench/bench_alert_latency.py [--json PATH]`.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.*` and the packages

import httpx
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

import wire
from bench._cpu import CpuMeter
from tests.faults.processes import HubProcess
from tests.harness import MqttEndpoint, PrivateMosquitto, scratch_database
from tests.harness.services import DEFAULT_DATABASE_URL
from wire import EventType, Kind, Transition

if TYPE_CHECKING:
    from collections.abc import Sequence
    from multiprocessing.connection import Connection
    from multiprocessing.synchronize import Event as StopEvent

TOPICS = wire.TopicSpace("bench-alerts/")
SITES = [f"site-{i:02d}" for i in range(55)]
DOORS = [f"door-{i:03d}" for i in range(20)]
PANIC_RULE = "panic"  # hub/rules/defaults.yaml
BROKER_CONFIG = [  # docs/hub.md, "Broker settings for the hub", as bench_drain uses them
    "max_queued_messages 200000",
    "max_queued_bytes 0",
    "max_inflight_messages 100",
    "log_type error",
    "log_type warning",
]
INFLIGHT, WARMUP, LOST_WAIT_S = 100, 5, 10.0
SETTLE_S = 2.0  # the background runs this long before the loaded phase's first probe
TARGET_P50_MS, TARGET_P99_MS = 20.0, 100.0
# `opened-closed` is the requirement's load (each `door.closed` is also a `resolve_on` of
# the default `door-held-open` rule); `locked-unlocked` matches no rule: for comparison.
BACKGROUNDS = {
    "opened-closed": (EventType.DOOR_OPENED, EventType.DOOR_CLOSED),
    "locked-unlocked": (EventType.DOOR_LOCKED, EventType.DOOR_UNLOCKED),
}
# The database's clocks: the ingest transaction that stored it, the relay's that sent it.
STORED = "SELECT id, received_at FROM events WHERE id = ANY(%s)"
RELAYED = (
    "SELECT alert_id, delivered_at FROM alert_outbox WHERE revision = 1 AND alert_id = ANY(%s)"
)

Stamp = tuple[float, float]
"""One instant: `perf_counter` (for latency) and wall clock (against the database's)."""


def stamp() -> Stamp:
    """This instant."""
    return time.perf_counter(), time.time()


class Agents:
    """Simulated agents: valid v1 events, one epoch per site and seq +1 per event."""

    def __init__(self) -> None:
        self._epochs: dict[str, uuid.UUID] = {}
        self._seqs: dict[str, int] = {}

    def event(
        self, site: str, kind: Kind, device: str, type_: EventType
    ) -> tuple[uuid.UUID, str, bytes]:
        """A new event: (its id, its topic, its payload)."""
        seq = self._seqs[site] = self._seqs.get(site, 0) + 1
        event = wire.Event(
            v=1,
            id=wire.new_event_id(),
            site=site,
            device=device,
            kind=kind,
            type=type_,
            at=wire.format_time(datetime.now(UTC)),
            epoch=self._epochs.setdefault(site, uuid.uuid4()),
            seq=seq,
            source={"driver": "bench"},
            data={},
        )
        return event.id, TOPICS.events(site, kind, device), wire.encode(event)


def connect(endpoint: MqttEndpoint, name: str) -> mqtt.Client:
    """A paho client connected to `endpoint`, Nagle off, its network thread running."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{name}-{os.getpid()}")
    client.max_inflight_messages_set(INFLIGHT)
    if endpoint.username is not None:
        client.username_pw_set(endpoint.username, endpoint.password)
    client.connect(endpoint.host, endpoint.port)
    if isinstance(sock := client.socket(), socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.loop_start()
    return client


def close(client: mqtt.Client) -> None:
    """Disconnect and stop the network thread."""
    client.disconnect()
    client.loop_stop()


def load(
    endpoint: MqttEndpoint, rate: float, background: str, stop: StopEvent, report: Connection
) -> None:
    """The loader process: door events at `rate`/s until `stop`; sends (sent, s, acked)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the bench stops it
    agents, acked = Agents(), 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1

    client = connect(endpoint, "load")
    client.on_publish = on_publish
    doors = [(site, door) for door in DOORS for site in SITES]  # consecutive events: other sites
    sent, start = 0, time.monotonic()
    try:
        while not stop.is_set():
            if (ahead := start + sent / rate - time.monotonic()) > 0:
                time.sleep(ahead)
            site, door = doors[sent % len(doors)]
            type_ = BACKGROUNDS[background][(sent // len(doors)) % 2]  # each door alternates
            _, topic, payload = agents.event(site, Kind.DOOR_LOCK, door, type_)
            client.publish(topic, payload, qos=1)
            sent += 1
        report.send((sent, time.monotonic() - start, acked))
    finally:
        close(client)


class Loader:
    """The background load, in a process of its own (see the module docstring)."""

    def __init__(self, endpoint: MqttEndpoint, rate: float, background: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._results, sender = context.Pipe(duplex=False)
        self._process = context.Process(
            target=load, args=(endpoint, rate, background, self._stop, sender), daemon=True
        )
        self._process.start()
        self.pid = self._process.pid or 0

    def check(self) -> None:
        """Raise if the loader process has ended."""
        if not self._process.is_alive():
            raise RuntimeError(f"the loader exited with {self._process.exitcode}")

    def stop(self) -> dict[str, float]:
        """Stop publishing; the events sent, seconds, events/s and PUBACKs received."""
        self._stop.set()
        if not self._results.poll(10):
            msg = "the loader did not report within 10 s"
            raise TimeoutError(msg)
        try:
            sent, seconds, acked = self._results.recv()
        except EOFError as exc:
            raise RuntimeError(f"the loader died (exit code {self._process.exitcode})") from exc
        return {
            "events": sent,
            "seconds": round(seconds, 2),
            "per_s": round(sent / seconds, 1),
            "acked": acked,
        }

    def close(self) -> None:
        """End the process, whatever its state."""
        self._stop.set()
        self._process.join(5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()


class Probes:
    """Publishes panics and notes when each one's `opened` transition of `panic` arrives.

    Publisher and subscriber are two connections, as an agent and a consumer are: on one
    connection that also publishes, Mosquitto's Nagle (`set_tcp_nodelay false`, its
    default) held each alert back until the bench's delayed TCP ACK of the PUBACK before
    it, adding ~30 ms (measured; `--broker-nodelay` removes it).
    """

    def __init__(self, endpoint: MqttEndpoint) -> None:
        self.sent: dict[uuid.UUID, Stamp] = {}
        self.arrived: dict[uuid.UUID, tuple[Stamp, uuid.UUID]] = {}  # event → (stamp, alert)
        self._agents, self._lock, subscribed = Agents(), threading.Lock(), threading.Event()
        self._publisher, self._subscriber = connect(endpoint, "probe"), connect(endpoint, "alerts")
        self._subscriber.on_message = self._on_message
        self._subscriber.on_subscribe = lambda *_: subscribed.set()
        self._subscriber.subscribe(TOPICS.all_alerts(), qos=1)
        if not subscribed.wait(10):
            msg = "no SUBACK for the alerts subscription within 10 s"
            raise TimeoutError(msg)

    def _on_message(self, _client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        now = stamp()  # before decoding: the decode is the consumer's time, not the hub's
        alert = wire.decode_alert(bytes(message.payload))
        if alert.rule == PANIC_RULE and alert.transition == Transition.OPENED and alert.event_ids:
            with self._lock:
                self.arrived.setdefault(alert.event_ids[0], (now, alert.alert_id))

    def run(self, count: int, interval_s: float) -> list[uuid.UUID]:
        """`count` probes, one every `interval_s` (monotonic schedule); their event ids."""
        ids, start = [], time.monotonic()
        for i in range(count):
            if (ahead := start + i * interval_s - time.monotonic()) > 0:
                time.sleep(ahead)
            n = len(self.sent) + 1
            event_id, topic, payload = self._agents.event(
                f"probe-{n:05d}", Kind.PANIC_ALARM, f"panic-{n:05d}", EventType.ALARM_PANIC
            )
            self.sent[event_id] = stamp()
            self._publisher.publish(topic, payload, qos=1)
            ids.append(event_id)
        return ids

    def wait_for(self, ids: Sequence[uuid.UUID], within_s: float) -> int:
        """Wait up to `within_s` for the alerts of `ids`; how many are still missing."""
        deadline = time.monotonic() + within_s
        while (missing := sum(i not in self.arrived for i in ids)) and time.monotonic() < deadline:
            time.sleep(0.01)
        return missing

    def latencies_ms(self, ids: Sequence[uuid.UUID]) -> list[float]:
        """Arrival minus publish of the probes `ids` that arrived."""
        return [(self.arrived[i][0][0] - self.sent[i][0]) * 1000 for i in ids if i in self.arrived]

    def stages_ms(self, database_url: str, ids: Sequence[uuid.UUID]) -> dict[str, list[float]]:
        """Where each arrived probe's time went, by the database's timestamps."""
        arrived = {i: self.arrived[i] for i in ids if i in self.arrived}
        with psycopg.connect(database_url, autocommit=True) as conn:
            stored: dict[Any, datetime] = dict(conn.execute(STORED, [list(arrived)]).fetchall())
            alerts = [alert for _, alert in arrived.values()]
            relayed: dict[Any, datetime] = dict(conn.execute(RELAYED, [alerts]).fetchall())
        stages: dict[str, list[float]] = {"to_ingest_txn": [], "to_relay_txn": [], "to_arrival": []}
        for event_id, ((_, wall), alert) in arrived.items():
            ingest, relay = stored[event_id].timestamp(), relayed[alert].timestamp()
            stages["to_ingest_txn"].append((ingest - self.sent[event_id][1]) * 1000)
            stages["to_relay_txn"].append((relay - ingest) * 1000)
            stages["to_arrival"].append((wall - relay) * 1000)
        return stages

    def close(self) -> None:
        """Disconnect both."""
        close(self._publisher)
        close(self._subscriber)


def hub_counters(hub: HubProcess) -> dict[str, float]:
    """The hub's batches, their commit seconds and messages so far, from its /metrics."""
    wanted = {
        "shouwang_hub_batch_commit_seconds_count": "batches",
        "shouwang_hub_batch_commit_seconds_sum": "commit_s",
        "shouwang_hub_messages_total": "messages",
    }
    lines = httpx.get(f"{hub.api}/metrics", timeout=5).text.splitlines()
    pairs = (line.partition(" ")[::2] for line in lines)
    return {wanted[name]: float(value) for name, value in pairs if name in wanted}


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


def summary(values: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / p99 (nearest rank) and max of `values`, rounded; empty if none."""
    ordered = sorted(values)
    if not ordered:
        return {}

    def rank(q: float) -> float:
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 2)

    return {"p50": rank(0.5), "p95": rank(0.95), "p99": rank(0.99), "max": round(ordered[-1], 2)}


@dataclass(slots=True)
class Phase:
    """One phase's figures; milliseconds unless named otherwise."""

    name: str
    probes: int
    lost: int
    seconds: float
    latency_ms: dict[str, float]
    stages_ms: dict[str, dict[str, float]]
    hub: dict[str, float]
    cpu_s: dict[str, float]
    background: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Rig:
    """What every phase works with."""

    hub: HubProcess
    mosquitto_pid: int
    database_url: str
    probes: Probes
    interval_s: float

    def phase(self, name: str, count: int, loader: Loader | None = None) -> Phase:
        """`count` probes, waiting for their alerts; the phase's figures."""
        pids = {"hub": self.hub.pid, "mosquitto": self.mosquitto_pid}
        meter = CpuMeter(pids | ({"loader": loader.pid} if loader else {}))
        before, start = hub_counters(self.hub), time.perf_counter()
        ids = self.probes.run(count, self.interval_s)
        lost = self.probes.wait_for(ids, LOST_WAIT_S)
        seconds, cpu = time.perf_counter() - start, meter.used()  # the loader still runs
        background = loader.stop() if loader else {}
        delta = {k: v - before.get(k, 0.0) for k, v in hub_counters(self.hub).items()}
        batches = delta.get("batches", 0.0)
        hub = {
            "batches": batches,
            "messages_per_batch": round(delta.get("messages", 0.0) / max(batches, 1.0), 1),
            "commit_ms_mean": round(delta.get("commit_s", 0.0) / max(batches, 1.0) * 1000, 2),
        }
        latency = summary(self.probes.latencies_ms(ids))
        stages = {k: summary(v) for k, v in self.probes.stages_ms(self.database_url, ids).items()}
        return Phase(name, count, lost, round(seconds, 2), latency, stages, hub, cpu, background)


def run(args: argparse.Namespace) -> list[Phase]:
    """Warm-up, then both phases, on one private broker, one database and one hub."""
    settings = (("batch_wait_ms", args.batch_wait_ms), ("batch_quiet_ms", args.batch_quiet_ms))
    extra = ["set_tcp_nodelay true"] if args.broker_nodelay else []
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-alerts-")))
        broker = stack.enter_context(PrivateMosquitto(extra_config=BROKER_CONFIG + extra))
        database_url = stack.enter_context(scratch_database(args.database))
        hub = HubProcess(
            work / "hub",
            database_url=database_url,
            endpoint=broker.endpoint,
            prefix=TOPICS.prefix,
            hub_id="bench-hub-alerts",
            ingest={key: value for key, value in settings if value is not None},
        )
        stack.enter_context(hub)
        wait_hub_subscribed(hub)
        probes = Probes(broker.endpoint)
        stack.callback(probes.close)
        rig = Rig(hub, broker.pid or 0, database_url, probes, args.interval_ms / 1000)
        if probes.wait_for(probes.run(WARMUP, rig.interval_s), 30):
            raise TimeoutError(f"warm-up alerts missing after 30 s; hub log: {hub.log_path}")
        baseline = rig.phase("baseline", args.baseline_probes)
        print_phase(baseline)
        loader = Loader(broker.endpoint, args.rate, args.background)
        stack.callback(loader.close)
        time.sleep(SETTLE_S)
        loader.check()
        loaded = rig.phase("loaded", args.probes, loader)
        print_phase(loaded)
        return [baseline, loaded]


def print_phase(phase: Phase) -> None:
    """The phase's figures, a few lines."""
    lat = {q: phase.latency_ms.get(q, math.nan) for q in ("p50", "p95", "p99", "max")}
    print(
        f"{phase.name}: {phase.probes} probes, {phase.lost} lost, {phase.seconds:.1f} s; "
        + ", ".join(f"{q} {ms:.1f} ms" for q, ms in lat.items())
    )
    if bg := phase.background:
        print(f"  background: {bg['per_s']:,.0f} events/s achieved ({bg['events']:,.0f} sent)")
    for stage, ms in phase.stages_ms.items():
        p50, p99 = ms.get("p50", math.nan), ms.get("p99", math.nan)
        print(f"  {stage:14s} p50 {p50:6.1f} ms, p99 {p99:6.1f}")
    print(f"  hub: {phase.hub}\n  CPU s: {phase.cpu_s}")


def report(phases: list[Phase], args: argparse.Namespace) -> dict[str, object]:
    """Ratios and verdicts printed; the JSON-ready report."""
    baseline, loaded = phases
    ratios = {
        q: round(loaded.latency_ms[q] / baseline.latency_ms[q], 2)
        for q in ("p50", "p95", "p99", "max")
        if baseline.latency_ms.get(q) and q in loaded.latency_ms
    }
    print(f"loaded / baseline: {ratios}")
    targets = {
        "p50_under_20_ms": loaded.latency_ms.get("p50", math.inf) < TARGET_P50_MS,
        "p99_under_100_ms": loaded.latency_ms.get("p99", math.inf) < TARGET_P99_MS,
        "no_probe_lost": baseline.lost == 0 and loaded.lost == 0,
    }
    verdicts = (f"{name} {'met' if ok else 'NOT met'}" for name, ok in targets.items())
    print("targets (loaded phase): " + ", ".join(verdicts))
    return {
        "machine": _machine(),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "phases": [asdict(phase) for phase in phases],
        "ratios_loaded_to_baseline": ratios,
        "targets": targets,
    }


def _machine() -> str:
    return (
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs "
        "shared by broker, hub, PostgreSQL, loader and the bench"
    )


def _terminate(*_: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so every `with` block cleans up."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run, print; optionally write the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add("--probes", type=int, default=300, help="probes in the loaded phase")
    add("--baseline-probes", type=int, default=200, help="probes in the baseline phase")
    add("--rate", type=float, default=1000.0, help="background events/s")
    add("--interval-ms", type=float, default=100.0, help="between probes")
    add("--background", choices=BACKGROUNDS, default="opened-closed", help="door event types")
    add("--database", default=DEFAULT_DATABASE_URL, help="PostgreSQL server")
    add("--batch-wait-ms", type=int, help="the hub's ingest.batch_wait_ms")
    add("--batch-quiet-ms", type=int, help="the hub's ingest.batch_quiet_ms")
    add("--broker-nodelay", action="store_true", help="Mosquitto's set_tcp_nodelay true")
    add("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    print(_machine())
    result = report(run(args), args)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
