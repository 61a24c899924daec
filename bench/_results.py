"""What a suite run records and how it is written: one JSON file and a markdown table.

Every benchmark ends as an `Outcome`: its figure, its baseline measured in the same run and
their ratio (figure ÷ baseline), its target, CPU and peak RSS per process, and details.
The run adds the machine, the versions and the git commit. `write_results` writes
`<dir>/<UTC timestamp>-<commit>.json` and `<dir>/latest.md`.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "SCHEMA",
    "Outcome",
    "git_commit",
    "machine",
    "render_markdown",
    "versions",
    "write_results",
]

SCHEMA = 1
PACKAGES = (
    "paho-mqtt",
    "aiomqtt",
    "psycopg",
    "psycopg-binary",
    "msgspec",
    "pydantic",
    "fastapi",
    "uvicorn",
    "numpy",
    "opencv-python-headless",
    "pymodbus",
)


@dataclass(slots=True)
class Outcome:
    """One benchmark's result. `ratio` = `figure` ÷ `baseline` (see docs/performance.md)."""

    name: str
    title: str
    unit: str
    figure: float | None = None
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""
    target_met: bool | None = None
    processes: dict[str, dict[str, float]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    seconds: float = 0.0
    status: str = "ok"  # ok | failed | skipped
    error: str = ""

    @property
    def ratio(self) -> float | None:
        """Figure ÷ baseline, or None when either is missing or the baseline is 0."""
        if self.figure is None or not self.baseline:
            return None
        return round(self.figure / self.baseline, 3)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the ratio."""
        return {**asdict(self), "ratio": self.ratio}


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - our own fixed command lines
            command, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({exc})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def machine() -> dict[str, Any]:
    """Cores, CPU model, memory, kernel and the load average now."""
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text(encoding="utf-8")
    total = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    return {
        "cores": os.cpu_count(),
        "cpu": model.group(1) if model else platform.processor(),
        "memory_gib": round(int(total.group(1)) / 1024 / 1024, 1) if total else None,
        "kernel": platform.release(),
        "system": platform.system(),
        "loadavg": list(os.getloadavg()),
    }


def versions(postgres_bindir: Path | None = None) -> dict[str, str]:
    """Python, Mosquitto, PostgreSQL and the key packages."""
    found = {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "mosquitto": _first_line([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-h"]),
    }
    postgres = str(postgres_bindir / "postgres") if postgres_bindir else "postgres"
    found["postgres"] = _first_line([postgres, "--version"])
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def git_commit(root: Path) -> tuple[str, bool]:
    """(short commit, whether the work tree has changes) of the repository at `root`."""
    head = _first_line(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    command = ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"]
    status = subprocess.run(  # noqa: S603 - git from PATH, as a developer runs it
        command, capture_output=True, text=True, check=False, timeout=30
    )
    return head, bool(status.stdout.strip())


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"
    return f"{text} {unit}".strip()


def _processes(processes: dict[str, dict[str, float]]) -> str:
    parts = [
        f"{name} {usage.get('cpu_share', 0):.2f} / {usage.get('rss_mib_peak', 0):,.0f} MiB"
        for name, usage in processes.items()
    ]
    return "; ".join(parts) or "—"


def render_markdown(run: dict[str, Any]) -> str:
    """The run as a markdown table with a header naming commit, machine and mode."""
    m, v = run["machine"], run["versions"]
    lines = [
        (
            f"Commit `{run['commit']}`{' (with local changes)' if run['dirty'] else ''}, "
            f"{run['started_at']}, {'`--quick`' if run['quick'] else 'full run'}; "
            f"{m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, kernel {m['kernel']}; "
            f"load average at start {m['loadavg'][0]:.1f}; {v['python']}, {v['mosquitto']}, "
            f"{v['postgres']}."
        ),
        "",
        (
            "| benchmark | figure | baseline (same run) | ratio | target | "
            "CPU (share of one core) / peak RSS per process | notes |"
        ),
        "|---|---:|---|---:|---|---|---|",
    ]
    for one in run["benchmarks"]:
        if one["status"] != "ok":
            error = one["error"][:160].replace("|", "/").replace("\n", " ")
            lines.append(f"| {one['title']} | {one['status']}: {error} | | | {one['target']} | | |")
            continue
        met = {True: " ✓", False: " ✗", None: ""}[one["target_met"]]
        baseline = (
            f"{_number(one['baseline'], one['unit'])} ({one['baseline_label']})"
            if one["baseline"] is not None
            else "—"
        )
        ratio = "—" if one["ratio"] is None else f"{one['ratio']:.2f}x"
        lines.append(
            f"| {one['title']} | {_number(one['figure'], one['unit'])} | {baseline} | {ratio} "
            f"| {one['target']}{met} | {_processes(one['processes'])} | {one['notes']} |"
        )
    return "\n".join(lines) + "\n"


def write_results(run: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    """Write the run's JSON (named by its start time and commit) and `latest.md`."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(run["started_epoch"]))
    path = directory / f"{stamp}-{run['commit']}.json"
    path.write_text(json.dumps(run, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    latest = directory / "latest.md"
    latest.write_text(render_markdown(run), encoding="utf-8")
    return path, latest
