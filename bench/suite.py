"""The benchmark suite: every benchmark of issue 11 in one run, beside its same-run baseline.

`scripts/bench` runs this. Benchmarks (`bench._benchmarks.BENCHMARKS`): `ingest-drain`,
`ingest-live`, `scale-out`, `alert-latency`, `backlog-drain`, `agent-sia`, `agent-modbus`,
`agent-camera`, `district`. `--only NAME` (repeatable, or comma-separated) picks some;
`--quick` shrinks each (smaller preloads, shorter steps and phases, a one-minute district)
to keep the whole run under about ten minutes. By default the run starts a private
PostgreSQL cluster of its own (so the `postgres` role is exactly its processes);
`--database URL` uses a server that exists instead.

Results: `bench/results/<UTC time>-<commit>.json` (machine, versions, commit, and per
benchmark its figure, baseline, ratio, target, CPU and RSS per process, details) and
`bench/results/latest.md` (the table). docs/performance.md says how to read them.
A benchmark that fails is recorded as failed with its error; the others still run, and
the exit code is 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.*` and the packages

from bench import bench_ingest_drain
from bench._benchmarks import BENCHMARKS, Context
from bench._results import SCHEMA, Outcome, git_commit, machine, versions, write_results
from bench._rig import Server
from bench.bench_district import fleet_available
from tests.harness import PrivatePostgres
from tests.harness.postgres import find_postgres_bindir

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tests.harness import MqttEndpoint

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SEED = 20261127


def log(message: str) -> None:
    """A progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def fleet_preloader(endpoint: MqttEndpoint, events: int) -> dict[str, Any]:
    """The fleet's preloader (`simulators.fleet.preload`) for the drain benchmark."""
    from simulators.fleet import preload  # noqa: PLC0415 - optional: the fleet may be absent

    report = preload(
        f"mqtt://{endpoint.host}:{endpoint.port}",
        events=events,
        rooms=55,
        seed=SEED,
        topic_prefix=bench_ingest_drain.PREFIX,
        window=1000,
    )
    summary = report.as_dict()
    return {
        "preloader": "simulators.fleet.preload",
        **{k: v for k, v in summary.items() if k not in {"epochs", "counts"}},
        "mean_bytes": round(report.bytes / max(report.events, 1), 1),
    }


def selected(only: Sequence[str]) -> list[str]:
    """The benchmark names `--only` asks for (all when empty); SystemExit on an unknown one."""
    names = [n.strip() for item in only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    return names or list(BENCHMARKS)


def run_one(name: str, ctx: Context) -> Outcome:
    """One benchmark, timed; a failure becomes a failed outcome carrying the error."""
    log(f"{name}: starting")
    started = time.monotonic()
    try:
        outcome = BENCHMARKS[name](ctx)
    except Exception as exc:  # noqa: BLE001 - record it and go on with the others
        traceback.print_exc()
        outcome = Outcome(name, name, "", status="failed", error=f"{type(exc).__name__}: {exc}")
    outcome.seconds = round(time.monotonic() - started, 1)
    log(f"{name}: {outcome.status} in {outcome.seconds:.0f} s; figure {outcome.figure}")
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the benchmarks, write the results; 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", action="append", default=[], help="benchmark(s) to run")
    parser.add_argument("--quick", action="store_true", help="smaller, shorter runs")
    parser.add_argument("--database", help="a PostgreSQL server URL (default: a private one)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where results go")
    parser.add_argument("--list", action="store_true", help="print the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(BENCHMARKS))
        return 0
    names = selected(args.only)
    commit, dirty = git_commit(ROOT)
    started = time.time()
    run: dict[str, Any] = {
        "schema": SCHEMA,
        "started_at": datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "started_epoch": started,
        "commit": commit,
        "dirty": dirty,
        "quick": args.quick,
        "command": " ".join(["scripts/bench", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "versions": versions(find_postgres_bindir()),
        "preloader": "simulators.fleet.preload" if fleet_available() else "bench._preload",
        "benchmarks": [],
    }
    with ExitStack() as stack:
        if args.database:
            server = Server(args.database)
        else:
            log("starting a private PostgreSQL")
            cluster = stack.enter_context(PrivatePostgres())
            server = Server(cluster.url, cluster)
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-suite-")))
        preload = (
            fleet_preloader
            if fleet_available()
            else bench_ingest_drain.own_preloader(rooms=55, seed=SEED)
        )
        ctx = Context(args.quick, server, work, preload, log)
        for name in names:
            run["benchmarks"].append(run_one(name, ctx).as_dict())
            run["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            run["machine"]["loadavg_end"] = list(machine()["loadavg"])
            path, latest = write_results(run, args.results)  # after each: a crash keeps some
    log(f"wrote {path} and {latest}")
    print(latest.read_text(encoding="utf-8"))
    return 1 if any(b["status"] == "failed" for b in run["benchmarks"]) else 0


if __name__ == "__main__":
    sys.exit(main())
