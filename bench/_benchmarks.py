"""The suite's benchmarks: each runs one bench and returns an `Outcome` (figure, same-run
baseline, target, CPU and RSS per process).

The ingest, scale-out and district benchmarks (`bench_ingest_drain`, `bench_ingest_live`,
`bench_scale_out`, `bench_district`) are driven in this process; the older benches (alert
latency, backlog drain, SIA, Modbus, camera) run as subprocesses with `--json`, watched
from here: their processes are sorted into roles by command line (`python -m hub` is the
hub, `mosquitto` the broker…).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import bench_district, bench_ingest_drain, bench_ingest_live, bench_scale_out
from bench._procstats import ProcessWatch, descendants
from bench._results import Outcome
from bench.bench_district import fleet_available

if TYPE_CHECKING:
    from collections.abc import Callable

    from bench._rig import Server
    from tests.harness import MqttEndpoint

__all__ = ["BENCHMARKS", "Context"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Context:
    """What every benchmark gets: the mode, the database server, a scratch directory and
    the preloader (the fleet's when present)."""

    quick: bool
    server: Server
    work: Path
    preload: Callable[[MqttEndpoint, int], dict[str, Any]]
    log: Callable[[str], None]


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def role_of(argv: list[str]) -> str:
    """The role of a process by its command line: hub, agent, broker, mosquitto_sub, fleet,
    or bench (the bench script and its helpers)."""
    name = Path(argv[0]).name if argv else ""
    modules = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "-m"]
    if name in {"mosquitto", "mosquitto_sub"}:
        return "broker" if name == "mosquitto" else name
    if "hub" in modules or any(arg.endswith("_profile_hub.py") for arg in argv):
        return "hub"
    if "agent" in modules:
        return "agent"
    if "simulators" in modules:
        return "fleet"
    return "bench"


def _tree_roles(
    root: Callable[[], int], server: Server | None
) -> dict[str, Callable[[], list[int]]]:
    """Roles over the process tree under `root()`, and PostgreSQL."""

    def members(role: str) -> Callable[[], list[int]]:
        def pids() -> list[int]:
            top = root()
            return [p for p in descendants(top) if top and role_of(_cmdline(p)) == role]

        return pids

    roles = {role: members(role) for role in ("hub", "agent", "broker", "fleet", "bench")}
    if server is not None and server.private is not None:
        roles["postgres"] = server.private.server_pids
    return roles


def _used(watch: ProcessWatch) -> dict[str, dict[str, float]]:
    return {k: v.as_dict() for k, v in watch.usage.items() if v.processes}


def run_script(
    ctx: Context, script: str, *args: str, database: bool = False, timeout_s: float = 1800
) -> tuple[Any, Any]:
    """Run `bench/<script> ARGS --json FILE`; (its JSON, CPU and RSS per role; PostgreSQL's
    too when the bench uses the `database`)."""
    out = ctx.work / f"{Path(script).stem}.json"
    log = ctx.work / f"{Path(script).stem}.log"
    command = [sys.executable, str(ROOT / "bench" / script), *args, "--json", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = ctx.server if database else None
    with (
        log.open("wb") as sink,
        subprocess.Popen(command, stdout=sink, stderr=sink, env=env) as p,  # noqa: S603
        ProcessWatch(_tree_roles(lambda: p.pid if p.poll() is None else 0, server)) as w,
    ):
        try:
            code = p.wait(timeout_s)
        except BaseException:  # a timeout, Ctrl-C: the bench cleans up on SIGTERM
            p.terminate()
            p.wait(60)
            raise
    if code != 0:
        tail = log.read_text(errors="replace")[-1500:]
        raise RuntimeError(f"{script} exited {code}: {tail}")
    return json.loads(out.read_text(encoding="utf-8")), _used(w)


def ingest_drain(ctx: Context) -> Outcome:
    """(1) The hub drains N preloaded events; baseline mosquitto_sub (C) on the same."""
    events = 100_000 if ctx.quick else 500_000
    res = bench_ingest_drain.run(events, ctx.server, preload=ctx.preload)
    hub = res["hub"]
    per_event_us = hub["processes"].get("hub", {}).get("cpu_s", 0.0) / events * 1e6
    hub["hub_cpu_us_per_event"] = round(per_event_us, 1)
    hub["hub_one_core_per_s"] = round(1e6 / per_event_us) if per_event_us else None
    return Outcome(
        name="ingest-drain",
        title=f"Hub ingest, drain of {events:,} queued events",
        unit="events/s",
        figure=hub["per_s"],
        baseline=res["baseline"]["per_s"],
        baseline_label="mosquitto_sub (C) draining the same preload",
        target="≥ 20,000 events/s",
        target_met=res["target_met"],
        processes=hub["processes"],
        details=res,
        notes=(
            f"commit cycle p99 {hub['commit_cycle_ms_p99']:,.0f} ms, "
            f"{hub['rows_per_batch_mean']:.0f} rows/batch; hub {per_event_us:.0f} µs CPU/event"
        ),
    )


def ingest_live(ctx: Context) -> Outcome:
    """(2) Highest rate stored live without growing lag; baseline: the rig flat out."""
    if ctx.quick:
        res = bench_ingest_live.run(
            ctx.server, rates=[500, 1000, 2000, 4000, 8000], step_s=6, sustain_s=15, baseline_s=3
        )
    else:
        rates = [500, 1000, 2000, 3000, 4000, 6000, 8000, 10000, 12000, 16000, 20000]
        res = bench_ingest_live.run(ctx.server, rates=rates, step_s=15, sustain_s=60)
    sustained = res["sustained"] or {}
    return Outcome(
        name="ingest-live",
        title="Hub ingest, live (highest rate held, lag not growing)",
        unit="events/s",
        figure=res["sustained_per_s"],
        baseline=res["baseline"]["per_s"],
        baseline_label="publisher flat out → mosquitto_sub (C)",
        target="≥ 10,000 events/s",
        target_met=res["target_met"],
        processes=sustained.get("processes", {}),
        details=res,
        notes=(
            f"at that rate for {('15' if ctx.quick else '60')} s: lag p50 "
            f"{sustained.get('lag_ms_p50', math.nan):,.0f} ms, p99 "
            f"{sustained.get('lag_ms_p99', math.nan):,.0f} ms"
        ),
    )


def scale_out(ctx: Context) -> Outcome:
    """bench_scale_out: N hubs in one share group drain a preload; baseline one hub."""
    events, hubs = (20_000, (1, 2)) if ctx.quick else (60_000, (1, 2, 3))
    res = bench_scale_out.run(events, ctx.server, hubs=hubs, preload=ctx.preload, log=ctx.log)
    base = next(r for r in res["runs"] if r["hubs"] == 1)
    best = max(res["runs"], key=lambda r: r["per_s"])
    return Outcome(
        name="scale-out",
        title=f"Scale-out: {events:,} queued events, {'/'.join(map(str, hubs))} hubs sharing",
        unit="events/s",
        figure=best["per_s"],
        baseline=base["per_s"],
        baseline_label="one hub",
        target="more hubs, more events/s",
        target_met=best["hubs"] > 1 and best["per_s"] > base["per_s"],
        processes=best["processes"],
        details=res,
        notes=(
            f"best with {best['hubs']} hub(s); "
            + ", ".join(f"{r['hubs']}: {r['per_s']:,.0f}/s" for r in res["runs"])
        ),
    )


def alert_latency(ctx: Context) -> Outcome:
    """(3) bench_alert_latency: panic → alert p99 at 1,000 events/s; baseline unloaded."""
    args = ["--database", ctx.server.url]
    if ctx.quick:
        args += ["--probes", "100", "--baseline-probes", "60"]
    res, used = run_script(ctx, "bench_alert_latency.py", *args, database=True)
    base, loaded = res["phases"]
    return Outcome(
        name="alert-latency",
        title="Alert latency p99 at 1,000 events/s background",
        unit="ms",
        figure=loaded["latency_ms"].get("p99"),
        baseline=base["latency_ms"].get("p99"),
        baseline_label="p99 with no background",
        target="p99 < 100 ms (p50 < 20 ms)",
        target_met=bool(res["targets"]["p99_under_100_ms"]),
        processes=used,
        details=res,
        notes=f"p50 {loaded['latency_ms'].get('p50', math.nan):.1f} ms; lost {loaded['lost']}",
    )


def backlog_drain(ctx: Context) -> Outcome:
    """(4) bench_drain: an agent's outbox backlog → hub; baseline bare publisher → hub."""
    events = 20_000 if ctx.quick else 100_000
    args = ["--events", str(events), "--database", ctx.server.url]
    res, used = run_script(ctx, "bench_drain.py", *args, database=True)
    return Outcome(
        name="backlog-drain",
        title=f"Backlog drain, one agent's {events:,} events",
        unit="events/s",
        figure=res["drain"]["drain"]["events_per_s"],
        baseline=res["bare_through_hub"]["events_per_s"],
        baseline_label="bare paho publisher → hub",
        target="≥ 5,000 events/s, P0 < 2 s",
        target_met=all(res["targets"].values()),
        processes=used,
        details=res,
        notes=f"P0 during the drain {res['drain']['p0_latency_s'] * 1000:,.0f} ms",
    )


def agent_sia(ctx: Context) -> Outcome:
    """(5a) bench_sia: SIA frames ACKed/s; baseline the outbox alone, same concurrency."""
    frames = "100" if ctx.quick else "300"
    res, used = run_script(ctx, "bench_sia.py", "--panels", "20", "--frames", frames)
    return Outcome(
        name="agent-sia",
        title="Agent: SIA DC-09 frames ACKed (20 panels)",
        unit="frames/s",
        figure=res["frames_per_s"],
        baseline=res["baseline_outbox_alone_per_s"],
        baseline_label="outbox appends alone, 20 appenders",
        target="≥ 2,000 frames/s, p99 < 20 ms",
        target_met=res["frames_per_s"] >= 2000 and res["latency_ms_p99"] < 20,
        processes=used,
        details=res,
        notes=f"frame→ACK p99 {res['latency_ms_p99']:.1f} ms",
    )


def agent_modbus(ctx: Context) -> Outcome:
    """(5b) bench_modbus: poller CPU for 512 doors at 4 Hz; baseline an idle event loop."""
    res, used = run_script(ctx, "bench_modbus.py", "--seconds", "5" if ctx.quick else "20")
    return Outcome(
        name="agent-modbus",
        title="Agent: Modbus poller CPU, 32 controllers x 16 doors at 4 Hz",
        unit="% of a core",
        figure=round(res["poller_cpu_share"] * 100, 2),
        baseline=round(res["baseline_cpu_share"] * 100, 3),
        baseline_label="the same process idle",
        target="< 25 % of a core",
        target_met=res["poller_cpu_share"] < 0.25,
        processes=used,
        details=res,
        notes=f"{res['polls_per_s']:.0f} polls/s of {res['polls_per_s_asked']:.0f} asked",
    )


def agent_camera(ctx: Context) -> Outcome:
    """(5c) bench_camera_cost: streams one core carries; baseline decode only."""
    seconds = "5" if ctx.quick else "20"
    res, used = run_script(ctx, "bench_camera_cost.py", "--streams", "22", "--seconds", seconds)
    bare = res["decode_only"]["cpu_core"] / res["streams"]
    return Outcome(
        name="agent-camera",
        title="Agent: camera streams per core (640x360 MJPEG, 5 fps)",
        unit="streams/core",
        figure=round(res["streams_per_core"], 1),
        baseline=round(1 / bare, 1) if bare else None,
        baseline_label="decoding alone",
        target="≥ 32 streams per core",
        target_met=res["streams_per_core"] >= 32,
        processes=used,
        details=res,
        notes=f"drops {res['driver']['drop_share']:.1%}, peak RSS {res['peak_rss_mib']:.0f} MiB",
    )


def district(ctx: Context) -> Outcome:
    """(6) bench_district: 55 rooms of the fleet against one hub; baseline its send rate."""
    if not fleet_available():
        return Outcome("district", "District run", "events/s", status="skipped", error="no fleet")
    seconds = 60 if ctx.quick else 600
    res = bench_district.run(ctx.server, seconds)
    verdict = res["verdict"]
    return Outcome(
        name="district",
        title=(
            f"District run: 55 rooms, scale 1.0, {res['scenario']}, speed {res['speed']}, "
            f"{seconds // 60} min"
        ),
        unit="events/s",
        figure=res["stored_per_s"],
        baseline=res["fleet"].get("send_rate_per_s"),
        baseline_label="the fleet's send rate",
        target="oracle PASS",
        target_met=bool(verdict.get("ok")),
        processes=res["processes"],
        details=res,
        notes=(
            f"oracle {'PASS' if verdict.get('ok') else 'FAIL'}: {verdict.get('stored', 0):,}/"
            f"{verdict.get('events', 0):,} events; lag p50 {res['lag_ms_p50']:,.0f} ms, "
            f"p99 {res['lag_ms_p99']:,.0f} ms"
        ),
    )


BENCHMARKS: dict[str, Callable[[Context], Outcome]] = {
    "ingest-drain": ingest_drain,
    "ingest-live": ingest_live,
    "scale-out": scale_out,
    "alert-latency": alert_latency,
    "backlog-drain": backlog_drain,
    "agent-sia": agent_sia,
    "agent-modbus": agent_modbus,
    "agent-camera": agent_camera,
    "district": district,
}
