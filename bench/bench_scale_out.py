"""Hub scale-out: aggregate drain throughput of 1, 2 and 3 hubs on one shared subscription.

For each hub count n, on a fresh private Mosquitto (`bench._rig.BenchMosquitto`) and a
scratch database: n real `python -m hub run` processes join share group `bench` (MQTT 5,
session expiry 60 s so the broker keeps their queues while they are stopped), subscribe
once and stop. A preloader then publishes N district-like events (QoS 1); the broker
spreads them over the n sessions of the group. All n hubs are started together and drain
their queues into the one database, each committing its batches and acking after COMMIT.

Figures per n: aggregate events/s from the first transaction (`min(received_at)`) to the
moment `count(*)` reaches N; CPU seconds and share of every hub, the broker and
PostgreSQL (/proc, `bench._procstats`) from the moment all hubs are up to the end; events
per hub-CPU-second over that window ("per hub-core": what one fully busy core of hub
buys); rows per transaction and the commit cycle. The single-hub figure of the same run
is the baseline (`speedup` = aggregate / single hub). On a 2-CPU machine the hubs, the broker and
PostgreSQL compete for the same cores, so the aggregate cannot grow much past one hub:
read the per-hub-core figure and the CPU split, not only the aggregate (docs/scale.md).

Run: `PYTHONPATH=. .venv/bin/python bench/bench_scale_out.py [--events N] [--hubs 1,2,3]
[--json PATH]`; `run(...) -> dict` is what `bench/suite.py` may call.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.*` and the packages

import psycopg

import wire
from bench import _preload, bench_ingest_drain
from bench._procstats import ProcessWatch, descendants
from bench._rig import BenchMosquitto, Server, bench_hub, wait_hub_subscribed
from tests.harness import scratch_database
from tests.harness.services import DEFAULT_DATABASE_URL

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from tests.faults.processes import HubProcess
    from tests.harness import MqttEndpoint

    Preloader = Callable[[MqttEndpoint, int], dict[str, Any]]

__all__ = ["PREFIX", "run"]

PREFIX = "bench-ingest/"
"""The topic prefix: the same as `bench_ingest_drain`'s, so the suite's preloader fits."""
GROUP = "bench"
SESSION_EXPIRY_S = 60
DRAIN_TIMEOUT_S = 600.0


def own_preloader(rooms: int = 55, seed: int = 20261127) -> Preloader:
    """`bench._preload` as an `(endpoint, events) -> report` callable."""

    def preload(endpoint: MqttEndpoint, events: int) -> dict[str, Any]:
        messages = _preload.district_events(
            events, rooms=rooms, seed=seed, topics=wire.TopicSpace(PREFIX)
        )
        seconds = _preload.publish(endpoint, messages)
        return {"preloader": "bench._preload", "events": events, "publish_s": round(seconds, 2)}

    return preload


def shared_hub(directory: Path, name: str, *, database_url: str, endpoint: MqttEndpoint) -> Any:
    """A bench hub (rate cap lifted) in share group `GROUP`, MQTT 5."""
    hub = bench_hub(
        directory, database_url=database_url, endpoint=endpoint, prefix=PREFIX, hub_id=name
    )
    config = json.loads(hub.config_path.read_text(encoding="utf-8"))
    config["mqtt"].update(share_group=GROUP, protocol="5", session_expiry_s=SESSION_EXPIRY_S)
    hub.config_path.write_text(json.dumps(config, indent=1), encoding="utf-8")
    return hub


def _count(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0


def _first_commit(database_url: str) -> float:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT extract(epoch FROM min(received_at))::float8 FROM events")
        found = row.fetchone()
    return float(found[0]) if found and found[0] is not None else math.nan


def _pids_of(hub: HubProcess) -> Callable[[], list[int]]:
    return lambda: descendants(hub.pid) if hub.alive else []


def _start_all(hubs: Sequence[HubProcess]) -> None:
    """Start every hub at once (each `start()` blocks until it is healthy)."""
    errors: list[BaseException] = []

    def start(hub: HubProcess) -> None:
        try:
            hub.start()
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in this thread
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(h,), daemon=True) for h in hubs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def drain_with(
    n: int,
    events: int,
    server: Server,
    work: Path,
    *,
    preload: Preloader,
    broker_config: Sequence[str] = (),
) -> dict[str, Any]:
    """One run: n hubs, N events preloaded while they are stopped, then drained."""
    with ExitStack() as stack:
        broker = stack.enter_context(BenchMosquitto(extra_config=broker_config))
        database_url = stack.enter_context(scratch_database(server.url))
        hubs = [
            shared_hub(
                work / f"n{n}-hub-{i}",
                f"bench-hub-{i}",
                database_url=database_url,
                endpoint=broker.endpoint,
            )
            for i in range(n)
        ]
        for hub in hubs:  # join the group once, then stop: the broker queues for them
            with hub:
                wait_hub_subscribed(hub)
        loaded = preload(broker.endpoint, events)
        for hub in hubs:
            stack.callback(hub.stop)
        roles: dict[str, Callable[[], list[int]]] = {
            f"hub-{i}": _pids_of(hub) for i, hub in enumerate(hubs)
        }
        roles |= {"broker": lambda: [broker.pid or 0], "postgres": server.role(database_url)}
        _start_all(hubs)
        # CPU is watched from the moment every hub is up, so start-up (imports, migration
        # check) is not charged to the drain; the events stored before that are left out
        # of the per-hub-core figure.
        before, started = _count(database_url), time.time()
        with ProcessWatch(roles, every_s=0.5) as watch:
            deadline = time.monotonic() + DRAIN_TIMEOUT_S
            while (seen := _count(database_url)) < events:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{seen} of {events} stored after {DRAIN_TIMEOUT_S} s")
                time.sleep(0.1)
            done = time.time()
        seconds = done - _first_commit(database_url)
        _, rows = bench_ingest_drain.batches(database_url)
        usage = {k: v.as_dict() for k, v in watch.usage.items()}
        hub_cpu = sum(v["cpu_s"] for k, v in usage.items() if k.startswith("hub-"))
        watched = events - before
        per_s = events / seconds
        return {
            "hubs": n,
            "events": events,
            "stored": _count(database_url),
            "seconds": round(seconds, 3),
            "per_s": round(per_s, 1),
            **bench_ingest_drain.batch_figures(rows),
            "hub_cpu_s": round(hub_cpu, 2),
            "watched_events": watched,
            "watched_per_s": round(watched / max(done - started, 1e-9), 1),
            "per_hub_cpu_s": round(watched / hub_cpu, 1) if hub_cpu else math.nan,
            "preload": loaded,
            "processes": usage,
        }


def run(
    events: int = 60_000,
    server: Server | None = None,
    *,
    hubs: Sequence[int] = (1, 2, 3),
    preload: Preloader | None = None,
    broker_config: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Drain `events` with each count of `hubs`; the figures, single hub as the baseline."""
    server = server or Server(DEFAULT_DATABASE_URL)
    preload = preload or own_preloader()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as work:
        for n in hubs:
            log(f"scale-out: {events} events, {n} hub(s)")
            runs.append(
                drain_with(
                    n, events, server, Path(work), preload=preload, broker_config=broker_config
                )
            )
            log(f"scale-out: {n} hub(s): {runs[-1]['per_s']} events/s")
    base = next((r for r in runs if r["hubs"] == 1), runs[0])
    for r in runs:
        r["speedup"] = round(r["per_s"] / base["per_s"], 3)
    return {
        "events": events,
        "broker_config": list(broker_config),
        "baseline_hubs": base["hubs"],
        "runs": runs,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run, print a table; optionally write the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--hubs", default="1,2,3")
    parser.add_argument(
        "--broker-line",
        action="append",
        default=[],
        help="a mosquitto.conf line to add, e.g. 'max_inflight_messages 1000' (repeatable)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    figures = run(
        args.events, hubs=[int(n) for n in args.hubs.split(",")], broker_config=args.broker_line
    )
    print(
        f"{'hubs':>4} {'events/s':>9} {'speedup':>7} {'hub cpu s':>9} {'ev/hub-cpu-s':>12}"
        f" {'rows/tx':>7}  cpu%"
    )
    for r in figures["runs"]:
        shares = ", ".join(
            f"{k} {v['cpu_share'] * 100:.0f}%" for k, v in sorted(r["processes"].items())
        )
        print(
            f"{r['hubs']:>4} {r['per_s']:>9.0f} {r['speedup']:>7.2f} {r['hub_cpu_s']:>9.1f}"
            f" {r['per_hub_cpu_s']:>12.0f} {r['rows_per_batch_mean']:>7.0f}  {shares}"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
