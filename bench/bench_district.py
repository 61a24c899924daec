"""District run: the fleet (`python -m simulators fleet`) as 55 rooms against one hub.

A private Mosquitto (`bench._rig.BenchMosquitto`), a scratch database and a real hub with
production ingest settings (the per-site rate cap in force). The fleet runs as a child
process: `--rooms 55 --scale 1.0` (~28,000 devices), scenario `link-down`, 20 simulated
seconds per real second, for `seconds`, then waits for every ack and runs its oracle on
the hub's database. Reported: events/s stored (first to last ingest transaction), the
fleet's own send rate, the lag `received_at - at` per event (p50, p99), the hub's
`event_delay` histogram, CPU and RSS of hub, broker, PostgreSQL and fleet, and the
oracle's verdict.

Why speed 20 and `link-down`: the fleet's district makes ~50 events/s at the day's peak
at speed 1 and ~10 by night (`simulators/fleet/rates.py`); `link-down` starts at 10:00
(activity 0.6), so at speed 20 the hub takes ~600 events/s, rising towards the ~1,000
events/s ARCHITECTURE.md gives as a district's steady load, plus one room's backlog when
its link comes back.

Run: `PYTHONPATH=. .venv/bin/python bench/bench_district.py [--seconds 600] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.*` and the packages

import psycopg

from bench._procstats import ProcessWatch, descendants
from bench._rig import BenchMosquitto, Server, bench_hub, histogram_quantile, hub_metrics
from tests.harness import scratch_database
from tests.harness.services import DEFAULT_DATABASE_URL

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "bench-district/"
SPEED = 20
SCENARIO = "link-down"
LAG_SQL = """
SELECT count(*), percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP
    (ORDER BY extract(epoch FROM received_at - at)),
    extract(epoch FROM max(received_at) - min(received_at))
FROM events
"""


def fleet_available() -> bool:
    """Whether `simulators/fleet` (the fleet simulator) is importable."""
    try:
        import simulators.fleet.cli  # noqa: F401, PLC0415 - probing for it is the point
    except ImportError:
        return False
    return True


def _fleet(broker: BenchMosquitto, database_url: str, seconds: float, report: Path) -> list[str]:
    command = [sys.executable, "-m", "simulators", "fleet", "--broker", broker.url]
    command += ["--topic-prefix", PREFIX, "--rooms", "55", "--scale", "1.0"]
    command += ["--speed", str(SPEED), "--scenario", SCENARIO, "--duration", str(seconds)]
    return [*command, "--database", database_url, "--json", str(report)]


def run(server: Server, seconds: float) -> dict[str, Any]:
    """One district run; the figures (see the module docstring)."""
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-district-")))
        broker = stack.enter_context(BenchMosquitto())
        database_url = stack.enter_context(scratch_database(server.url))
        hub = bench_hub(
            work / "hub",
            database_url=database_url,
            endpoint=broker.endpoint,
            prefix=PREFIX,
            hub_id="bench-hub-district",
            lift_cap=False,
        )
        stack.enter_context(hub)
        report, log = work / "fleet.json", work / "fleet.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = _fleet(broker, database_url, seconds, report)
        with (
            log.open("wb") as sink,
            subprocess.Popen(command, stdout=sink, stderr=sink, env=env) as fleet,  # noqa: S603
        ):
            roles: dict[str, Callable[[], list[int]]] = {
                "hub": lambda: descendants(hub.pid) if hub.alive else [],
                "broker": lambda: [broker.pid or 0],
                "postgres": server.role(database_url),
                "fleet": lambda: descendants(fleet.pid) if fleet.poll() is None else [],
            }
            with ProcessWatch(roles, every_s=1.0) as watch:
                code = fleet.wait(seconds + 900)
        if not report.exists():
            tail = log.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"the fleet exited {code}: {tail}")
        fleet_report = json.loads(report.read_text(encoding="utf-8"))
        metrics = hub_metrics(hub)
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute(LAG_SQL).fetchone()
    count, span = (int(row[0]), float(row[2] or 0)) if row else (0, 0.0)
    p50, p99 = row[1] if row and row[1] else (math.nan, math.nan)
    verdict = fleet_report.pop("verdict", None) or {}
    return {
        "seconds": seconds,
        "speed": SPEED,
        "scenario": SCENARIO,
        "fleet": fleet_report,
        "fleet_exit": code,
        "verdict": {k: (v[:20] if isinstance(v, list) else v) for k, v in verdict.items()},
        "stored": count,
        "stored_per_s": round(count / span, 1) if span else None,
        "lag_ms_p50": round(p50 * 1000, 1),
        "lag_ms_p99": round(p99 * 1000, 1),
        "hub_event_delay_p99_s_bucket": histogram_quantile(
            metrics, "shouwang_hub_event_delay_seconds", 0.99
        ),
        "processes": {k: v.as_dict() for k, v in watch.usage.items() if v.processes},
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run, print; optionally write the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=600.0, help="real seconds of traffic")
    parser.add_argument("--database", default=DEFAULT_DATABASE_URL, help="PostgreSQL server")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    result = run(Server(args.database), args.seconds)
    print(json.dumps({k: v for k, v in result.items() if k != "fleet"}, indent=2))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
