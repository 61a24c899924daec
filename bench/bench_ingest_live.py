"""Hub ingest, live: the highest publish rate the hub stores while it arrives, lag not growing.

A private Mosquitto (`bench._rig.BenchMosquitto`), a scratch database and a real hub. A
publisher process of its own (paho, QoS 1, 1,000 in flight, its network loop driven from
the publishing thread) builds district-like events (`bench._preload.District`) at the
moment it sends them, `at` = now, at a paced rate (monotonic schedule):

1. **baseline**: with no hub, the publisher goes flat out for a few seconds while
   `mosquitto_sub -q 1` (the C client) reads the stream: what this rig can deliver;
2. **steps**: the hub subscribed, the publisher runs each rate of `--rates` for
   `--step-s`, then pauses until the hub has stored everything sent. A step **holds** when
   the publisher reached 90 % of the rate, the hub caught up within 5 s of the pause, and
   the lag did not grow: the p50 lag of the step's last third is within 0.5 s of its
   first third's. Steps go up until one does not hold;
3. **sustained**: the highest rate that held, for `--sustain-s` (60 s by default).

Lag = `received_at` (the start of the ingest transaction that stored the event) minus
`at` (its publish), per event, from the database. CPU and RSS of hub, broker, PostgreSQL
and publisher per phase from /proc.

Run: `PYTHONPATH=. .venv/bin/python bench/bench_ingest_live.py [--json PATH]`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.*` and the packages

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

import wire
from bench._preload import District, nodelay
from bench._procstats import ProcessWatch, descendants
from bench._rig import BenchMosquitto, Server, bench_hub, hub_metrics, wait_hub_subscribed
from tests.harness import scratch_database
from tests.harness.services import DEFAULT_DATABASE_URL

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from multiprocessing.sharedctypes import Synchronized
    from multiprocessing.synchronize import Event as StopEvent

    from tests.faults.processes import HubProcess
    from tests.harness import MqttEndpoint

PREFIX = "bench-live/"
WINDOW = 1000
CATCH_UP_S = 5.0
GROWTH_S = 0.5
REACHED = 0.9
TARGET_PER_S = 10_000.0
STORED = "shouwang_hub_events_stored_total{"
LAG = """
SELECT 1000 * extract(epoch FROM received_at - at)::float8 FROM events
WHERE at >= to_timestamp(%s) AND at < to_timestamp(%s) ORDER BY at
"""


def publisher(
    endpoint: MqttEndpoint,
    rate: Synchronized[float],
    sent: Synchronized[int],
    stop: StopEvent,
    seed: int,
) -> None:
    """The publisher process: publish at `rate` events/s (0: pause, < 0: flat out)."""
    district = District(rooms=55, seed=seed, topics=wire.TopicSpace(PREFIX))
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-live-pub-{os.getpid()}")
    client.max_inflight_messages_set(WINDOW)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect(endpoint.host, endpoint.port, keepalive=60)
    nodelay(client)
    count, current, since, base = 0, 0.0, time.monotonic(), 0
    try:
        while not stop.is_set():
            now = time.monotonic()
            if (asked := rate.value) != current:
                current, since, base = asked, now, count
            due = count + WINDOW if current < 0 else base + int((now - since) * current)
            at = wire.format_time(datetime.now(UTC))
            while count < due and count - acked < WINDOW:
                topic, payload = district.event(at)
                client.publish(topic, payload, qos=1)
                count += 1
                if count % 64 == 0:
                    sent.value = count
            sent.value = count
            client.loop(timeout=0.002)
    finally:
        client.disconnect()


class Publisher:
    """The publisher process and its controls."""

    def __init__(self, endpoint: MqttEndpoint, seed: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._rate = context.Value("d", 0.0)
        self._sent = context.Value("q", 0)
        self._stop = context.Event()
        self._process = context.Process(
            target=publisher,
            args=(endpoint, self._rate, self._sent, self._stop, seed),
            daemon=True,
        )
        self._process.start()
        self.pid = self._process.pid or 0

    @property
    def sent(self) -> int:
        """Events published so far."""
        return int(self._sent.value)

    def rate(self, per_s: float) -> None:
        """Publish at `per_s` from now on (0 pauses, negative goes flat out)."""
        if not self._process.is_alive():
            raise RuntimeError(f"the publisher exited with {self._process.exitcode}")
        self._rate.value = per_s

    def close(self) -> None:
        """Stop the process."""
        self._stop.set()
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()


def baseline(broker: BenchMosquitto, seconds: float, seed: int) -> dict[str, Any]:
    """Phase 1: publisher flat out, `mosquitto_sub -q 1` reading; what it received per s."""
    topic = wire.TopicSpace(PREFIX).all_events()
    command = ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-q", "1", "-t", topic]
    lines = 0

    def count(stream: Any) -> None:
        nonlocal lines
        for chunk in iter(lambda: stream.read(1 << 16), b""):
            lines += chunk.count(b"\n")

    with subprocess.Popen(  # noqa: S603 - our own command line
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as sub:
        reader = threading.Thread(target=count, args=(sub.stdout,), daemon=True)
        reader.start()
        time.sleep(0.5)  # subscribed
        pub = Publisher(broker.endpoint, seed)
        try:
            roles = {"broker": lambda: [broker.pid or 0], "publisher": lambda: [pub.pid]}
            roles["mosquitto_sub"] = lambda: [sub.pid]
            time.sleep(1.0)  # the publisher imported and connected
            with ProcessWatch(roles) as watch:
                before, start = lines, time.perf_counter()
                pub.rate(-1)
                time.sleep(seconds)
                received, elapsed = lines - before, time.perf_counter() - start
                pub.rate(0)
        finally:
            pub.close()
            sub.terminate()
    return {
        "seconds": round(elapsed, 2),
        "per_s": round(received / elapsed, 1),
        "processes": {k: v.as_dict() for k, v in watch.usage.items()},
    }


def stored(hub: HubProcess) -> int:
    """Events the hub has stored since it started."""
    return int(sum(v for k, v in hub_metrics(hub).items() if k.startswith(STORED)))


def lags_ms(database_url: str, start: float, end: float) -> list[float]:
    """Per-event lag (ms) of the events that happened between `start` and `end` (epoch s)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return [float(row[0]) for row in conn.execute(LAG, (start, end))]


def quantile(values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile (0.0 when empty)."""
    ordered = sorted(values)
    return ordered[max(0, int(q * len(ordered) + 0.999999) - 1)] if ordered else 0.0


@dataclass(slots=True)
class Rig:
    """What the steps share."""

    hub: HubProcess
    publisher: Publisher
    database_url: str
    roles: dict[str, Callable[[], list[int]]]

    def step(self, rate: float, seconds: float) -> dict[str, Any]:
        """Publish at `rate` for `seconds`, pause, wait for the hub; the step's figures."""
        sent0, stored0 = self.publisher.sent, stored(self.hub)
        with ProcessWatch(self.roles) as watch:
            start_wall, start = time.time(), time.perf_counter()
            self.publisher.rate(rate)
            time.sleep(seconds)
            self.publisher.rate(0)
            elapsed, end_wall = time.perf_counter() - start, time.time()
            time.sleep(0.05)
            sent = self.publisher.sent - sent0
            deadline = time.monotonic() + CATCH_UP_S
            while (done := stored(self.hub) - stored0) < sent and time.monotonic() < deadline:
                time.sleep(0.1)
            caught_up = done >= sent
            catch_up_s = round(CATCH_UP_S - max(0.0, deadline - time.monotonic()), 2)
        lags = lags_ms(self.database_url, start_wall, end_wall)
        third = max(len(lags) // 3, 1)
        first, last = quantile(lags[:third], 0.5), quantile(lags[-third:], 0.5)
        achieved = sent / elapsed
        holds = achieved >= REACHED * rate and caught_up and last - first <= GROWTH_S * 1000
        return {
            "rate": rate,
            "achieved_per_s": round(achieved, 1),
            "stored": done,
            "sent": sent,
            "caught_up": caught_up,
            "catch_up_s": catch_up_s,
            "lag_ms_p50": round(quantile(lags, 0.5), 1),
            "lag_ms_p99": round(quantile(lags, 0.99), 1),
            "lag_ms_p50_first_third": round(first, 1),
            "lag_ms_p50_last_third": round(last, 1),
            "holds": holds,
            "processes": {k: v.as_dict() for k, v in watch.usage.items()},
        }


def run(
    server: Server,
    *,
    rates: Sequence[float],
    step_s: float,
    sustain_s: float,
    baseline_s: float = 5.0,
    seed: int = 20261127,
) -> dict[str, Any]:
    """Baseline, steps, sustained run; the figures."""
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-live-")))
        broker = stack.enter_context(BenchMosquitto())
        base = baseline(broker, baseline_s, seed)
        database_url = stack.enter_context(scratch_database(server.url))
        hub = bench_hub(
            work / "hub",
            database_url=database_url,
            endpoint=broker.endpoint,
            prefix=PREFIX,
            hub_id="bench-hub-live",
        )
        stack.enter_context(hub)
        wait_hub_subscribed(hub)
        pub = Publisher(broker.endpoint, seed + 1)
        stack.callback(pub.close)
        roles: dict[str, Callable[[], list[int]]] = {
            "hub": lambda: descendants(hub.pid) if hub.alive else [],
            "broker": lambda: [broker.pid or 0],
            "postgres": server.role(database_url),
            "publisher": lambda: [pub.pid],
        }
        rig = Rig(hub, pub, database_url, roles)
        time.sleep(1.0)  # the publisher connected
        steps, best = [], 0.0
        for rate in rates:
            result = rig.step(rate, step_s)
            steps.append(result)
            print(f"  live step {rate:,.0f}/s: {'holds' if result['holds'] else 'does not hold'}")
            if not result["holds"]:
                break
            best = rate
        sustained = rig.step(best, sustain_s) if best else None
        figure = best if sustained is not None and sustained["holds"] else 0.0
        return {
            "baseline": base,
            "steps": steps,
            "sustained": sustained,
            "sustained_per_s": figure,
            "ratio": round(figure / base["per_s"], 3) if base["per_s"] else None,
            "target_per_s": TARGET_PER_S,
            "target_met": figure >= TARGET_PER_S,
        }


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run, print; optionally write the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rates", default="1000,2000,3000,4000,6000,8000,10000,12000,16000,20000")
    parser.add_argument("--step-s", type=float, default=15.0)
    parser.add_argument("--sustain-s", type=float, default=60.0)
    parser.add_argument("--database", default=DEFAULT_DATABASE_URL, help="PostgreSQL server")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    result = run(
        Server(args.database),
        rates=[float(r) for r in args.rates.split(",")],
        step_s=args.step_s,
        sustain_s=args.sustain_s,
    )
    print(json.dumps(result, indent=2))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
