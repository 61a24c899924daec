"""Logs: JSON lines (or text) by config, and no secret of the config in any line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
import yaml

from agent._logging import configure_logging, secrets_of
from agent.config import AgentConfig, LogConfig
from hub.provision import Principal, ProvisionStore
from tests.harness import PrivateMosquitto, free_port

if TYPE_CHECKING:
    from pathlib import Path

ROOT_DIR = __import__("pathlib").Path(__file__).resolve().parents[2]
SITE = "room-07"
SECRETS = {
    "password": "broker-pass-Zq81x",
    "token": "lock-token-Kv93aa-0123",
    "sia_key": "A1B2C3D4E5F60718",
    "camera": "cam-pass-Tt55",
}


def config_data(tmp_path: Path, broker: PrivateMosquitto, http_port: int) -> dict[str, Any]:
    """A config holding every kind of secret, logging JSON to stdout at DEBUG."""
    camera_url = f"http://viewer:{SECRETS['camera']}@127.0.0.1:{free_port()}/stream.mjpg"
    sia_account = {"account": "1234", "device": "panel-1", "key": SECRETS["sia_key"]}
    return {
        "site": SITE,
        "mqtt": {
            "host": broker.host,
            "port": broker.port,
            "password": SECRETS["password"],
            "reconnect_min_s": 0.1,
            "reconnect_max_s": 0.2,
        },
        "outbox": {"path": str(tmp_path / "outbox.sqlite3")},
        "http": {"port": http_port},
        "log": {"format": "json", "stream": "stdout", "level": "DEBUG"},
        "sia": {
            "host": "127.0.0.1",
            "port": 0,
            "state_path": str(tmp_path / "sia.sqlite3"),
            "unknown_device": "panel-x",
            "accounts": [sia_account],
        },
        "camera": {"cameras": [{"device": "cam-1", "url": camera_url, "open_timeout_s": 1}]},
        "devices": [
            {"id": "lock-1", "kind": "door_lock", "driver": "http", "token": SECRETS["token"]},
            {"id": "panel-1", "kind": "panel", "driver": "sia"},
            {"id": "panel-x", "kind": "panel", "driver": "sia"},
            {"id": "cam-1", "kind": "camera", "driver": "camera"},
        ],
    }


@pytest.mark.integration
async def test_no_secret_reaches_the_logs(tmp_path: Path) -> None:
    """An agent refused by the broker (wrong password), with a failing camera and a device
    pushing with its token, logs JSON lines at DEBUG without any secret of its config."""
    store = ProvisionStore(tmp_path / "provision")
    store.ensure(Principal.agent(SITE))
    extra = [f"password_file {store.passwd_path}", "allow_anonymous false"]
    http_port = free_port()
    with PrivateMosquitto(extra_config=extra) as broker:
        data = config_data(tmp_path, broker, http_port)
        for device in data["devices"]:
            device["checkin_s"] = 60
        path = tmp_path / "agent.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        path.chmod(0o600)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agent", "run", "--config", str(path), cwd=ROOT_DIR,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await push_until_stored(http_port)
            await asyncio.sleep(1.5)  # refusals and camera failures get logged meanwhile
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(20):
                stdout, stderr = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.communicate()
    assert process.returncode == 0, stderr.decode()
    entries = [json.loads(line) for line in stdout.decode().splitlines()]
    messages = " ".join(entry["message"] for entry in entries)
    assert "stored door.opened from lock-1" in messages
    assert "camera cam-1" in messages
    assert "refused" in messages.lower() or "not authori" in messages.lower()
    for name, secret in SECRETS.items():
        assert secret.encode() not in stdout + stderr, name


async def push_until_stored(port: int) -> None:
    """POST one event with the lock's token once the HTTP server listens."""
    headers = {"Authorization": f"Bearer {SECRETS['token']}"}
    url = f"http://127.0.0.1:{port}/v1/devices/lock-1/events"
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.post(url, json={"type": "door.opened"}, headers=headers) as r:
                    assert r.status == 201
                    return
            except aiohttp.ClientConnectorError:
                await asyncio.sleep(0.05)
    message = "the agent's HTTP push server never listened"
    raise AssertionError(message)


def test_a_secret_logged_by_mistake_is_redacted(tmp_path: Path) -> None:
    """Even a line that quotes a secret outright is written with `***` in its place."""
    config = AgentConfig.model_validate(
        {
            "site": SITE,
            "mqtt": {"host": "127.0.0.1", "password": SECRETS["password"]},
            "outbox": {"path": str(tmp_path / "o.sqlite3")},
        }
    )
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        configure_logging(LogConfig(format="text"), secrets=secrets_of(config))
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("agent.test").warning("connecting with %s", SECRETS["password"])
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
    line = stream.getvalue()
    assert "agent.test: connecting with ***" in line
    assert SECRETS["password"] not in line


def test_json_lines_carry_time_level_logger_and_message(tmp_path: Path) -> None:
    """`log.format: json` writes one object a line with time, level, logger, message."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        configure_logging(LogConfig(format="json", level="INFO"))
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("agent.test").info("outbox %s open", "x")
        logging.getLogger("agent.test").debug("not at INFO")
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
    (entry,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert entry["level"] == "INFO"
    assert entry["logger"] == "agent.test"
    assert entry["message"] == "outbox x open"
    assert entry["time"].endswith("+00:00")
