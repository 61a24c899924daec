"""A fleet split over several processes, when one cannot keep up (`--processes N`).

Each child plays every N-th room (`FleetOptions.share`) on its own asyncio loop and
returns its report; the parent merges them (sums, and the CPU of all children) and
judges the whole run once with the oracle. Children are spawned, not forked, so no
event loop or socket is shared.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

from simulators.fleet.oracle import check
from simulators.fleet.population import summarise
from simulators.fleet.report import FleetReport
from simulators.fleet.runner import expectations_for, plan, run_fleet

if TYPE_CHECKING:
    from simulators.fleet.runner import FleetOptions

__all__ = ["run_processes"]


def _child(options: FleetOptions) -> FleetReport:
    return asyncio.run(run_fleet(options))


def run_processes(options: FleetOptions, processes: int) -> FleetReport:
    """Run the fleet in `processes` processes and judge the whole; see the module doc."""
    if processes < 1:
        raise ValueError(f"processes must be at least 1, not {processes}")
    parts = [
        dataclasses.replace(options, share=(index, processes), database_url=None)
        for index in range(processes)
    ]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        reports = list(pool.map(_child, parts))
    rooms, scenario = plan(options)
    records = [r for report in reports for r in report.records]
    outages = [o for report in reports for o in report.outages]
    expectations = expectations_for(options, scenario, rooms, records, outages)
    epochs = tuple(e for report in reports for e in report.epochs)
    sites = tuple(s for report in reports for s in report.sites)
    since = min(report.since for report in reports)
    verdict = None
    if options.database_url is not None:
        verdict = check(
            options.database_url, records, expectations, epochs=epochs, sites=sites, since=since
        )
    return FleetReport(
        scenario=scenario.name,
        description=f"{scenario.description} ({processes} processes)",
        rooms=len(rooms),
        devices=summarise(rooms),
        generated=sum(r.generated for r in reports),
        published=sum(r.published for r in reports),
        resent=sum(r.resent for r in reports),
        republished=sum(r.republished for r in reports),
        acked=sum(r.acked for r in reports),
        unacked=sum(r.unacked for r in reports),
        run_s=max(r.run_s for r in reports),
        drain_s=max(r.drain_s for r in reports),
        cpu_s=sum(r.cpu_s for r in reports),
        max_rss_kib=max(r.max_rss_kib for r in reports),
        types=dict(Counter(r.type.value for r in records).most_common()),
        expectations=expectations,
        verdict=verdict,
        records=tuple(records),
        outages=tuple(outages),
        epochs=epochs,
        sites=sites,
        since=since,
    )
