"""Hub ingest, drain: how fast the hub empties a broker queue of N events into PostgreSQL.

On a private Mosquitto that can hold any preload (`bench._rig.BenchMosquitto`) and a
scratch database, two persistent QoS 1 sessions subscribe to every site's events: the
hub's (a real `python -m hub run`, started once to subscribe, then stopped) and the
baseline's, `mosquitto_sub -c -q 1` (the C client). With both stopped, a preloader
publishes N district-like events (QoS 1; the broker queues each for both sessions); then

1. **baseline**: `mosquitto_sub` drains its queue (`-C N`; it PUBACKs on receipt and
   stores nothing): what the broker can hand one subscriber, from its start to its exit;
2. **hub**: the hub starts and drains its identical queue, committing each batch and
   acking after COMMIT; from its first transaction (`min(received_at)`) to the moment the
   N-th event is stored (its /metrics, polled every 0.5 s). The hub's start-up before
   that is reported on its own.

Per batch (a batch's rows share their transaction's `received_at`): its size and the time
to the next batch (the commit cycle); p50/p99 of the cycle is the commit lag reported.
CPU and peak RSS of hub, broker and PostgreSQL come from /proc (`bench._procstats`).

Run: `PYTHONPATH=. .venv/bin/python bench/bench_ingest_drain.py [--events N] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.*` and the packages

import psycopg

import wire
from bench import _preload
from bench._procstats import ProcessWatch, descendants
from bench._rig import (
    BenchMosquitto,
    ProfiledHub,
    Server,
    bench_hub,
    hub_metrics,
    mosquitto_sub,
    run_quiet,
    wait_hub_subscribed,
)
from tests.harness import scratch_database
from tests.harness.services import DEFAULT_DATABASE_URL

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from tests.faults.processes import HubProcess
    from tests.harness import MqttEndpoint

PREFIX = "bench-ingest/"
BASELINE_ID = "bench-baseline-sub"
TARGET_PER_S = 20_000.0
DRAIN_TIMEOUT_S = 1800.0
STORED = "shouwang_hub_events_stored_total{"
# How often the hub's /metrics is read for completion: each read costs the hub a request.
POLL_S = 0.5


def own_preloader(rooms: int, seed: int) -> Callable[[MqttEndpoint, int], dict[str, Any]]:
    """The bench's preloader (`bench._preload`) as a `(endpoint, events) -> report`."""

    def preload(endpoint: MqttEndpoint, events: int) -> dict[str, Any]:
        started = time.perf_counter()
        messages = _preload.district_events(
            events, rooms=rooms, seed=seed, topics=wire.TopicSpace(PREFIX)
        )
        built = time.perf_counter() - started
        seconds = _preload.publish(endpoint, messages)
        return {
            "preloader": "bench._preload",
            "events": events,
            "build_s": round(built, 2),
            "publish_s": round(seconds, 2),
            "publish_per_s": round(events / seconds),
            "mean_bytes": round(sum(len(p) for _, p in messages) / max(events, 1), 1),
        }

    return preload


def stored(hub: HubProcess) -> int:
    """Events the hub has stored since it started (its /metrics)."""
    return int(sum(v for k, v in hub_metrics(hub).items() if k.startswith(STORED)))


def wait_stored(hub: HubProcess, target: int) -> float:
    """Poll until `target` events are stored; the wall-clock time (`time.time`) it was seen."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while (seen := stored(hub)) < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{seen} of {target} events stored after {DRAIN_TIMEOUT_S} s")
        time.sleep(POLL_S)
    return time.time()


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The `q` quantile of `values` by nearest rank (nan when empty)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def batches(database_url: str) -> tuple[float, list[tuple[float, int]]]:
    """(first transaction's start as epoch seconds, [(start, rows)] per batch in order)."""
    query = (
        "SELECT extract(epoch FROM received_at)::float8, count(*) FROM events GROUP BY 1 ORDER BY 1"
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = [(float(at), int(n)) for at, n in conn.execute(query)]
    return (rows[0][0] if rows else math.nan), rows


def batch_figures(rows: list[tuple[float, int]]) -> dict[str, float]:
    """Batch sizes and the commit cycle (start to next start) from `batches()`."""
    cycles = [(b[0] - a[0]) * 1000 for a, b in itertools.pairwise(rows)]
    sizes = [n for _, n in rows]
    return {
        "batches": len(rows),
        "rows_per_batch_mean": round(sum(sizes) / max(len(sizes), 1), 1),
        "rows_per_batch_max": max(sizes, default=0),
        "commit_cycle_ms_p50": round(nearest_rank(cycles, 0.5), 2),
        "commit_cycle_ms_p99": round(nearest_rank(cycles, 0.99), 2),
        "commit_cycle_ms_max": round(max(cycles, default=math.nan), 2),
    }


def baseline_drain(broker: BenchMosquitto, topic: str, events: int) -> dict[str, Any]:
    """Phase 1: `mosquitto_sub` drains its persistent session's queue."""
    command = mosquitto_sub(broker.endpoint, BASELINE_ID, topic, "-C", str(events))
    started = time.perf_counter()
    with subprocess.Popen(  # noqa: S603 - our own command line
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as sub:
        roles = {"mosquitto_sub": lambda: [sub.pid], "broker": lambda: [broker.pid or 0]}
        with ProcessWatch(roles, every_s=0.2) as watch:
            _, err = sub.communicate(timeout=DRAIN_TIMEOUT_S)
        seconds = time.perf_counter() - started
    if sub.returncode != 0:
        raise RuntimeError(f"mosquitto_sub exited {sub.returncode}: {err.decode(errors='replace')}")
    return {
        "events": events,
        "seconds": round(seconds, 3),
        "per_s": round(events / seconds, 1),
        "processes": {k: v.as_dict() for k, v in watch.usage.items()},
    }


def hub_drain(
    hub: HubProcess, broker: BenchMosquitto, server: Server, database_url: str, events: int
) -> dict[str, Any]:
    """Phase 2: the hub starts and drains its session's queue into PostgreSQL."""
    roles: dict[str, Callable[[], list[int]]] = {
        "hub": lambda: descendants(hub.pid) if hub.alive else [],
        "broker": lambda: [broker.pid or 0],
        "postgres": server.role(database_url),
    }
    launched = time.time()
    with ProcessWatch(roles, every_s=0.5) as watch:
        hub.start()
        done = wait_stored(hub, events)
    first, rows = batches(database_url)
    seconds = done - first
    metrics = hub_metrics(hub)
    return {
        "events": events,
        "seconds": round(seconds, 3),
        "per_s": round(events / seconds, 1),
        "startup_s": round(first - launched, 2),
        "rows_stored": sum(n for _, n in rows),
        **batch_figures(rows),
        "commit_s_mean_ms": round(
            metrics.get("shouwang_hub_batch_commit_seconds_sum", 0.0)
            / max(metrics.get("shouwang_hub_batch_commit_seconds_count", 1.0), 1.0)
            * 1000,
            2,
        ),
        "processes": {k: v.as_dict() for k, v in watch.usage.items()},
    }


def run(
    events: int,
    server: Server,
    *,
    preload: Callable[[MqttEndpoint, int], dict[str, Any]],
    broker_config: Sequence[str] = (),
    ingest: dict[str, Any] | None = None,
    profile: Path | None = None,
    rules_path: Path | None = None,
) -> dict[str, Any]:
    """Sessions, preload, baseline drain, hub drain; the figures."""
    topics = wire.TopicSpace(PREFIX)
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ingest-")))
        broker = stack.enter_context(BenchMosquitto(extra_config=broker_config))
        database_url = stack.enter_context(scratch_database(server.url))
        settings: dict[str, Any] = {
            "database_url": database_url,
            "endpoint": broker.endpoint,
            "prefix": PREFIX,
            "hub_id": "bench-hub-drain",
            "ingest": ingest,
            "rules_path": rules_path,
        }
        hub = (
            ProfiledHub(work / "hub", profile=profile, **settings)
            if profile is not None
            else bench_hub(work / "hub", **settings)
        )
        with hub:  # its persistent session subscribes, then it stops (clean disconnect)
            wait_hub_subscribed(hub)
        run_quiet(mosquitto_sub(broker.endpoint, BASELINE_ID, topics.all_events(), "-E"), 30)
        loaded = preload(broker.endpoint, events)
        baseline = baseline_drain(broker, topics.all_events(), events)
        stack.callback(hub.stop)
        drained = hub_drain(hub, broker, server, database_url, events)
        return {
            "events": events,
            "preload": loaded,
            "broker_config": [*_BROKER_SUMMARY, *broker_config],
            "ingest": ingest or {},
            "rules": str(rules_path) if rules_path else "default",
            "baseline": baseline,
            "hub": drained,
            "ratio": round(drained["per_s"] / baseline["per_s"], 3),
            "target_per_s": TARGET_PER_S,
            "target_met": drained["per_s"] >= TARGET_PER_S,
        }


_BROKER_SUMMARY = ("max_queued_messages 0", "max_queued_bytes 0", "persistence false")


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run, print; optionally write the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--rooms", type=int, default=55)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--database", default=DEFAULT_DATABASE_URL, help="PostgreSQL server")
    parser.add_argument("--broker", action="append", default=[], help="extra mosquitto.conf line")
    parser.add_argument("--batch-max", type=int, help="the hub's ingest.batch_max")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--rules", type=Path, help="the hub's rules file (default rules)")
    parser.add_argument("--profile", type=Path, help="profile the hub's CPU, samples here")
    args = parser.parse_args(argv)
    ingest = {"batch_max": args.batch_max} if args.batch_max else None
    result = run(
        args.events,
        Server(args.database),
        preload=own_preloader(args.rooms, args.seed),
        broker_config=args.broker,
        ingest=ingest,
        profile=args.profile,
        rules_path=args.rules,
    )
    print(json.dumps(result, indent=2))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
