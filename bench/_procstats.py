"""CPU and memory of the processes a benchmark runs, per role, read from /proc.

A role (`hub`, `broker`, `postgres`, `fleet`…) is a function that lists its pids now, so
a role can grow (PostgreSQL forks a backend per connection, the fleet its workers) and
processes that start during a phase count whole. `ProcessWatch` samples every role in a
thread of its own and reports, per role, the CPU seconds used during the phase (user +
system, from `/proc/<pid>/stat`), that as a share of one core, and the peak of the summed
resident set (`VmRSS` from `/proc/<pid>/status`; shared pages, such as PostgreSQL's shared
buffers, count once per process that touched them). CPU used by a process between its
last sample and its exit is not counted: sampling is every half second by default.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from types import TracebackType

__all__ = [
    "ProcSample",
    "ProcessWatch",
    "RoleUsage",
    "descendants",
    "parse_stat",
    "parse_status",
    "read_sample",
]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class ProcSample:
    """One process at one instant: its name, parent, CPU ticks and memory."""

    pid: int
    comm: str
    ppid: int
    cpu_ticks: int
    rss_kib: int
    hwm_kib: int


def parse_stat(text: str) -> tuple[str, int, int]:
    """(comm, ppid, utime + stime ticks) from the text of `/proc/<pid>/stat`.

    The name is between the first `(` and the last `)`: it may hold spaces and parentheses.
    """
    head, _, tail = text.rpartition(")")
    comm = head.partition("(")[2]
    fields = tail.split()
    # After the name: state(0) ppid(1) … utime(11) stime(12), counted from 0.
    return comm, int(fields[1]), int(fields[11]) + int(fields[12])


def parse_status(text: str) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB from the text of `/proc/<pid>/status`; 0 when absent (kernel
    threads, zombies)."""
    values = {"VmRSS": 0, "VmHWM": 0}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in values:
            values[name] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


def read_sample(pid: int, proc: Path = Path("/proc")) -> ProcSample | None:
    """The process `pid` now, or None if it is gone."""
    try:
        comm, ppid, ticks = parse_stat((proc / str(pid) / "stat").read_text())
        rss, hwm = parse_status((proc / str(pid) / "status").read_text())
    except (OSError, IndexError, ValueError):
        return None
    return ProcSample(pid, comm, ppid, ticks, rss, hwm)


def descendants(root: int, proc: Path = Path("/proc")) -> list[int]:
    """`root` and every live process below it (children, their children…)."""
    parents: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                _, ppid, _ = parse_stat((entry / "stat").read_text())
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, ()))
    return found


@dataclass(frozen=True, slots=True)
class RoleUsage:
    """What one role's processes used during a phase."""

    cpu_s: float
    cpu_share: float  # of one core over the phase's wall time
    rss_mib_peak: float
    processes: int  # distinct pids seen

    def as_dict(self) -> dict[str, float]:
        """Rounded, for the results file."""
        return {
            "cpu_s": round(self.cpu_s, 2),
            "cpu_share": round(self.cpu_share, 3),
            "rss_mib_peak": round(self.rss_mib_peak, 1),
            "processes": self.processes,
        }


@dataclass(slots=True)
class _Role:
    first: dict[int, int]  # pid → CPU ticks when first seen (0 if it started in the phase)
    last: dict[int, int]
    rss_peak_kib: int = 0


class ProcessWatch:
    """Samples the processes of named roles during a phase; see the module docstring.

    Use as a context manager (or `start()` / `stop()`); `usage` holds the result after.
    """

    def __init__(
        self, roles: Mapping[str, Callable[[], Iterable[int]]], *, every_s: float = 0.5
    ) -> None:
        self._roles = dict(roles)
        self._every_s = every_s
        self._state = {name: _Role({}, {}) for name in self._roles}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="procstats", daemon=True)
        self._started = 0.0
        self._first_pass = True
        self.wall_s = 0.0
        self.usage: dict[str, RoleUsage] = {}

    def _pids(self, name: str) -> list[int]:
        try:
            return list(self._roles[name]())
        except Exception:  # noqa: BLE001 - a role that cannot list now (its server stopping)
            return []

    def sample(self) -> None:
        """Read every role's processes once."""
        for name, state in self._state.items():
            rss = 0
            for pid in self._pids(name):
                one = read_sample(pid)
                if one is None:
                    continue
                rss += one.rss_kib
                # A process seen after the first pass started during the phase.
                state.first.setdefault(pid, one.cpu_ticks if self._first_pass else 0)
                state.last[pid] = one.cpu_ticks
            state.rss_peak_kib = max(state.rss_peak_kib, rss)
        self._first_pass = False

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            self.sample()

    def start(self) -> None:
        """Take the first sample and keep sampling in the background."""
        self._started = time.monotonic()
        self.sample()
        self._thread.start()

    def stop(self) -> dict[str, RoleUsage]:
        """Take the last sample, stop the thread; the usage per role."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.sample()
        self.wall_s = max(time.monotonic() - self._started, 1e-9)
        self.usage = {
            name: RoleUsage(
                cpu_s=(cpu := sum(t - s.first[p] for p, t in s.last.items()) / CLOCK_TICKS),
                cpu_share=cpu / self.wall_s,
                rss_mib_peak=s.rss_peak_kib / 1024,
                processes=len(s.last),
            )
            for name, s in self._state.items()
        }
        return self.usage

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
