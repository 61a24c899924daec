"""`python -m agent`: exit codes, config errors on stderr, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
import yaml

from tests.agent.support import (
    DOOR,
    DOOR_TOKEN,
    Watcher,
    devices,
    mqtt_section,
    on,
    status_is,
)
from tests.harness import free_port
from wire import Kind, Presence

if TYPE_CHECKING:
    from tests.agent.conftest import Space

ROOT = Path(__file__).resolve().parents[2]


def config_file(tmp_path: Path, **sections: Any) -> Path:
    """A config file for the test devices with the given sections."""
    data = {
        "site": "room-07",
        "mqtt": {"host": "127.0.0.1"},
        "outbox": {"path": str(tmp_path / "outbox.sqlite3")},
        "devices": devices(),
        **sections,
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def agent(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m agent` with `args` to its end."""
    return subprocess.run(
        [sys.executable, "-m", "agent", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
        check=False,
    )


def test_invalid_config_exits_2_naming_file_line_and_key(tmp_path: Path) -> None:
    """`run` with a bad config exits 2; stderr says file:line: key: reason, and no secret."""
    path = config_file(tmp_path)
    text = path.read_text(encoding="utf-8").replace("kind: panic_alarm", "kind: panik")
    path.write_text(text.replace(DOOR_TOKEN, "short-secret"), encoding="utf-8")
    result = agent("run", "--config", path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert any(line.startswith(f"{path}:") and ": devices[1].kind: " in line for line in lines)
    assert any(": devices[0].token: must be 16 to 256 characters" in line for line in lines)
    assert "short-secret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_exits_2(tmp_path: Path) -> None:
    """A config file that does not exist is exit code 2 with its name."""
    result = agent("run", "--config", tmp_path / "nope.yaml")
    assert result.returncode == 2
    assert result.stderr.strip() == f"{tmp_path / 'nope.yaml'}: no such file"


def test_check_validates_without_running(tmp_path: Path) -> None:
    """`check --config-only` exits 0 for a good config and 2 for a bad one."""
    good = agent("check", "--config-only", "--config", config_file(tmp_path))
    assert (good.returncode, good.stdout.strip()) == (
        0,
        f"{tmp_path / 'agent.yaml'}: ok (site room-07, 2 devices)",
    )
    bad = agent("check", "--config-only", "--config", config_file(tmp_path, status_interval_s=0))
    assert bad.returncode == 2
    assert ": status_interval_s: " in bad.stderr


def test_no_command_is_a_usage_error() -> None:
    """Without a command the agent prints its usage and exits 2."""
    result = agent()
    assert result.returncode == 2
    assert "a command is required" in result.stderr


def test_failure_to_start_exits_1(tmp_path: Path) -> None:
    """A driver that cannot start (its port taken) ends the agent with exit code 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = agent("run", "--config", config_file(tmp_path, http={"port": port}))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


@pytest.mark.integration
async def test_run_serves_until_sigterm_then_says_offline(tmp_path: Path, space: Space) -> None:
    """`run` connects, takes pushes, and on SIGTERM leaves `offline` (shutdown) and exits 0."""
    port = free_port()
    path = config_file(
        tmp_path, mqtt=mqtt_section(space.endpoint, space.prefix), http={"port": port}
    )
    async with Watcher(space.endpoint, space.everything) as watcher:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "agent", "run", "--config", str(path), "--log-level", "DEBUG"),
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await watcher.wait_for(status_is(space.status, Presence.ONLINE), "online")
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    f"http://127.0.0.1:{port}/v1/devices/{DOOR}/events",
                    json={"type": "door.opened"},
                    headers={"Authorization": f"Bearer {DOOR_TOKEN}"},
                ) as response,
            ):
                assert response.status == 201
            event_topic = space.topics.events("room-07", Kind.DOOR_LOCK, DOOR)
            await watcher.wait_for(on(event_topic), "the event")
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                _, stderr = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.communicate()
        assert process.returncode == 0, stderr.decode()
        await watcher.wait_for(status_is(space.status, Presence.OFFLINE, "shutdown"), "offline")
    assert DOOR_TOKEN.encode() not in stderr
    assert b"http push: stored door.opened from door-0042 as seq 1" in stderr
