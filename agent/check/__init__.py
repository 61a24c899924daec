"""`python -m agent check --config FILE`: is this box ready to run the agent?

It validates the config, refuses the placeholders of the installer's skeleton, then
probes everything the agent will need, at once: the outbox's directory, the ports it
listens on (SIA DC-09, HTTP push; a port held by the running agent is fine), every
Modbus controller, every camera, and the broker with the agent's own credentials and
TLS. It prints a table, one row per probe with the specific reason of a failure, and
returns the exit code: 0 when everything works, 1 when a probe failed, 2 when the config
itself cannot be used. Nothing is written: not the outbox, not the broker.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from typing import TYPE_CHECKING, Final, TextIO

from agent._outbox_schema import SCHEMA_VERSION
from agent._yaml import read_yaml
from agent.check._broker import probe_broker
from agent.check._devices import probe_camera, probe_controller
from agent.check._ports import probe_listen
from agent.check._report import Row, Verdict, render
from agent.config import load_config
from agent.drivers.http import DRIVER as HTTP_DRIVER
from agent.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterator
    from pathlib import Path

    from agent.config import AgentConfig

__all__ = ["PLACEHOLDER", "Row", "Verdict", "check_config", "run_check"]

PLACEHOLDER: Final = "change-me"
"""What the installer's config skeleton writes where a real value must go."""
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_CONFIG: Final = 2


def run_check(path: Path, out: TextIO) -> int:
    """Check the config at `path` and this box; print the table to `out`; the exit code."""
    rows, code = asyncio.run(check_config(path))
    out.write(render(rows))
    return code


async def check_config(path: Path) -> tuple[list[Row], int]:
    """The rows of every check of `path` and the exit code they make."""
    rows = list(_placeholders(path))
    try:
        config = load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            where = path.name if problem.line is None else f"{path.name}:{problem.line}"
            detail = problem.reason if problem.key is None else f"{problem.key}: {problem.reason}"
            rows.append(Row.fail("config", where, detail))
        return rows, EXIT_CONFIG
    detail = f"valid: site {config.site}, {len(config.devices)} devices"
    rows.insert(0, Row.ok("config", str(path), detail))
    rows += _mode(path)
    if any(row.verdict is Verdict.FAIL for row in rows):
        return rows, EXIT_CONFIG
    rows.append(await asyncio.to_thread(_outbox, config))
    rows += await asyncio.gather(*_probes(config))
    failed = any(row.verdict is Verdict.FAIL for row in rows)
    return rows, EXIT_FAILED if failed else EXIT_OK


def _mode(path: Path) -> list[Row]:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return [Row.warn("config", str(path), f"mode {mode:04o}, and it holds secrets: chmod 600")]
    return []


def _placeholders(path: Path) -> Iterator[Row]:
    """A failing row for each value still holding the skeleton's placeholder."""
    try:
        document = read_yaml(path, str(path))
    except ConfigError:
        return  # load_config reports it
    for loc, value in _scalars(document.data, ()):
        if PLACEHOLDER in value.lower():
            key = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in loc).lstrip(".")
            line = document.line_of(loc)
            yield Row.fail("config", f"{path.name}:{line}", f"{key}: still a placeholder: set it")


def _scalars(
    data: object, loc: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _scalars(value, (*loc, str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _scalars(value, (*loc, index))
    elif isinstance(data, str):
        yield loc, data


def _outbox(config: AgentConfig) -> Row:
    """Whether the outbox can be opened: an existing file's site and version, or its folder."""
    path = config.outbox.path
    if not path.exists():
        folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
        if folder is None or not folder.is_dir() or not _writable(folder):
            return Row.fail("outbox", str(path), f"cannot create it: {folder} is not writable")
        return Row.ok("outbox", str(path), "none yet: created at the first start")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        try:
            (version,) = db.execute("PRAGMA user_version").fetchone()
            site, epoch = db.execute("SELECT site, epoch FROM meta").fetchone()
            (pending,) = db.execute("SELECT count(*) FROM events").fetchone()
        finally:
            db.close()
    except sqlite3.Error as exc:
        return Row.fail("outbox", str(path), f"cannot be read: {exc}")
    problem = None
    if site != config.site:
        problem = f"belongs to site {site!r}, not {config.site!r}"
    elif version > SCHEMA_VERSION:
        problem = f"schema version {version} is newer than this agent's ({SCHEMA_VERSION})"
    elif not _writable(path.parent):
        problem = f"{path.parent} is not writable"
    if problem is not None:
        return Row.fail("outbox", str(path), problem)
    upgrade = (
        f", migrated v{version} -> v{SCHEMA_VERSION} at start" if version < SCHEMA_VERSION else ""
    )
    return Row.ok("outbox", str(path), f"epoch {epoch}: {pending} events waiting{upgrade}")


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def _probes(config: AgentConfig) -> Iterator[Coroutine[object, object, Row]]:
    if any(device.driver == HTTP_DRIVER for device in config.devices):
        yield asyncio.to_thread(probe_listen, "http", config.http.host, config.http.port)
    if config.sia is not None:
        sia = config.sia
        if sia.tcp:
            yield asyncio.to_thread(probe_listen, "sia", sia.host, sia.port)
        if sia.udp:
            yield asyncio.to_thread(probe_listen, "sia", sia.host, sia.port, udp=True)
    if config.modbus is not None:
        for controller in config.modbus.controllers:
            yield probe_controller(controller)
    if config.camera is not None:
        for camera in config.camera.cameras:
            yield probe_camera(camera)
    yield probe_broker(config)
