"""CPU seconds of named processes (and of every PostgreSQL process) over a bench phase,
read from /proc: what the drain and alert-latency benches report beside their figures."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CpuMeter"]


class CpuMeter:
    """CPU seconds (user + system, from /proc) used by named processes between two reads.

    `postgres` sums every process named postgres: the server's backends and workers.
    """

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = {**pids, "bench": os.getpid()}
        self._start = self._read()

    @staticmethod
    def _ticks(pid: int) -> int:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return 0
        return int(fields[11]) + int(fields[12])  # utime, stime

    def _postgres(self) -> dict[int, int]:
        found: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if (entry / "comm").read_text().strip() == "postgres":
                        found[int(entry.name)] = self._ticks(int(entry.name))
                except OSError:
                    continue
        return found

    def _read(self) -> dict[str, dict[int, int]]:
        named = {name: {pid: self._ticks(pid)} for name, pid in self._pids.items()}
        return {**named, "postgres": self._postgres()}

    def used(self) -> dict[str, float]:
        """CPU seconds per name since construction (processes that ended are not counted)."""
        end, hertz = self._read(), os.sysconf("SC_CLK_TCK")
        return {
            name: round(sum(t - self._start[name].get(p, 0) for p, t in ticks.items()) / hertz, 2)
            for name, ticks in end.items()
        }
