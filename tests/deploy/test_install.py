"""The offline bundle: built, installed under a temporary root with no index reachable,
checked against simulated devices, and run with its systemd unit's command line."""

from __future__ import annotations

import asyncio
import configparser
import hashlib
import json
import shlex
import signal
import subprocess
import time
from typing import TYPE_CHECKING, Any

import pytest
import yaml

import wire
from simulators.camera import MjpegCamera, Scene
from simulators.door_controller import DoorController
from tests.agent.support import Watcher, clear_retained, mqtt_section, status_is
from tests.deploy.conftest import offline_env, run_installer
from tests.harness import free_port
from wire import Presence

if TYPE_CHECKING:
    from pathlib import Path

    from tests.deploy.conftest import Installed
    from tests.harness import MqttEndpoint

# Every test here builds or installs the bundle (pip, wheels, a virtual environment).
pytestmark = pytest.mark.integration

SITE = "room-07"
ONLINE_WITHIN_S = 30.0
HARDENING = {
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "Restart": "on-failure",
    "User": "shouwang-agent",
    "CapabilityBoundingSet": "",
}


def unit_of(installed: Installed) -> configparser.SectionProxy:
    """The [Service] section of the installed unit."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(installed.unit, encoding="utf-8")
    return parser["Service"]


def test_the_bundle_pins_and_hashes_every_wheel(bundle: Path) -> None:
    """Each role's requirements pin every distribution it needs with the sha256 of a
    wheel of the bundle, and together they name every wheel; the agent's has no hub
    dependency."""
    digests = {
        hashlib.sha256(p.read_bytes()).hexdigest(): p for p in (bundle / "wheels").glob("*.whl")
    }
    named = set()
    for role in ("agent", "hub"):
        text = (bundle / f"requirements-{role}.txt").read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if not line.startswith("#")]
        for line in lines:
            pin, _, digest = line.partition(" --hash=sha256:")
            assert "==" in pin
            assert digest in digests, line
            named.add(digest)
        assert any(line.startswith(f"shouwang[{role}]==") for line in lines)
        if role == "agent":
            assert not any(line.startswith(("psycopg", "fastapi")) for line in lines)
    assert named == set(digests)
    assert json.loads((bundle / "BUNDLE.json").read_text())["roles"] == ["agent", "hub"]


def test_the_install_lays_out_files_with_safe_modes(installed: Installed) -> None:
    """Venv, `current`, data directory (0750) and a 0600 config skeleton are in place."""
    assert installed.binary.is_file()
    assert (installed.root / "opt/shouwang/agent/current").resolve().name == "0.1.0"
    assert installed.data.is_dir()
    assert installed.data.stat().st_mode & 0o777 == 0o750
    assert installed.config.stat().st_mode & 0o777 == 0o600
    assert "no index" in installed.output


def test_the_unit_is_hardened_and_writes_only_its_data(installed: Installed) -> None:
    """The unit restarts on failure, runs as its own user and may write its data dir only."""
    service = unit_of(installed)
    for key, value in HARDENING.items():
        assert service[key] == value, key
    assert service["ReadWritePaths"] == str(installed.data)
    assert service["ExecStart"] == f"{installed.binary} run --config {installed.config}"


def test_check_refuses_the_skeleton(installed: Installed, tmp_path: Path) -> None:
    """The config skeleton's placeholders fail `check` (exit 2): no default password runs."""
    assert "site: room-07 " in installed.skeleton
    config = tmp_path / "agent.yaml"
    config.write_text(installed.skeleton, encoding="utf-8")
    config.chmod(0o600)
    check = subprocess.run(
        [str(installed.binary), "check", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 2
    assert "mqtt.password: still a placeholder: set it" in check.stdout
    assert "mqtt.host: still a placeholder: set it" in check.stdout


def test_installing_again_keeps_the_config_and_release(installed: Installed) -> None:
    """A second run with the same bundle reuses the release and never touches the config."""
    before = installed.config.read_bytes()
    started = time.monotonic()
    again = run_installer(installed.bundle, installed.root, "--site", "room-07")
    assert again.returncode == 0, again.stderr
    assert time.monotonic() - started < 10
    assert "already installed" in again.stdout
    assert f"{installed.config} kept as it is" in again.stdout
    assert installed.config.read_bytes() == before


def agent_config(installed: Installed, endpoint: MqttEndpoint, prefix: str, **more: Any) -> None:
    """Write the installed agent's config: shared broker under `prefix`, the given drivers."""
    data: dict[str, Any] = {
        "site": SITE,
        "mqtt": mqtt_section(endpoint, prefix),
        "outbox": {"path": str(installed.data / "outbox.sqlite3")},
        "log": {"format": "json", "stream": "stdout"},
        **more,
    }
    installed.config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


@pytest.mark.integration
async def test_installed_agent_checks_and_runs_offline(
    installed: Installed, mqtt_endpoint: MqttEndpoint, topic_prefix: str
) -> None:
    """The installed agent's `check` passes against simulated devices and the broker; the
    unit's ExecStart runs it until its retained status says online; `check` beside it
    finds its ports held by the running agent; SIGTERM stops it."""
    topics = wire.TopicSpace(topic_prefix)
    scene = Scene("deploy", "static", 1, 60.0)
    doors = [{"device": "door-1", "position": {"address": 0}, "lock": {"address": 1}}]
    async with DoorController(doors=1) as controller, MjpegCamera(scene, size=(160, 90)) as cam:
        agent_config(
            installed,
            mqtt_endpoint,
            topic_prefix,
            http={"port": free_port()},
            sia={
                "host": "127.0.0.1",
                "port": free_port(),
                "state_path": str(installed.data / "sia.sqlite3"),
                "unknown_device": "panel-x",
                "accounts": [{"account": "1234", "device": "panel-1"}],
            },
            modbus={
                "controllers": [{"host": "127.0.0.1", "port": controller.port, "doors": doors}]
            },
            camera={"cameras": [{"device": "cam-1", "url": cam.url}]},
            devices=[
                {"id": "door-1", "kind": "door_lock", "driver": "modbus", "checkin_s": 60},
                {"id": "panel-1", "kind": "panel", "driver": "sia", "checkin_s": 60},
                {"id": "panel-x", "kind": "panel", "driver": "sia", "checkin_s": 60},
                {"id": "cam-1", "kind": "camera", "driver": "camera", "checkin_s": 60},
                {
                    "id": "lock-1",
                    "kind": "door_lock",
                    "driver": "http",
                    "checkin_s": 60,
                    "token": "lock-token-0123456789",
                },
            ],
        )
        check = await asyncio.create_subprocess_exec(
            str(installed.binary), "check", "--config", str(installed.config),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=offline_env(),
        )  # fmt: skip
        out, err = await check.communicate()
        assert check.returncode == 0, out.decode() + err.decode()
        table = out.decode()
        for probe in ("outbox", "http", "sia", "modbus", "camera", "broker"):
            assert f"\n{probe} " in table
        command = shlex.split(unit_of(installed)["ExecStart"])
        async with Watcher(mqtt_endpoint, topics.status(SITE)) as watcher:
            process = await asyncio.create_subprocess_exec(
                *command, cwd=installed.data, env=offline_env(),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            try:
                await until_online(watcher, topics.status(SITE))
                beside = await asyncio.create_subprocess_exec(
                    str(installed.binary), "check", "--config", str(installed.config),
                    stdout=asyncio.subprocess.PIPE, env=offline_env(),
                )  # fmt: skip
                running_table = (await beside.communicate())[0].decode()
                process.send_signal(signal.SIGTERM)
                async with asyncio.timeout(20):
                    stdout, stderr = await process.communicate()
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.communicate()
        await clear_retained(mqtt_endpoint, topics.status(SITE), topics.inventory(SITE))
    assert process.returncode == 0, stderr.decode()
    assert beside.returncode == 0, running_table
    held = f"held by the running agent (pid {process.pid})"
    ports = [line for line in running_table.splitlines() if line.startswith(("http", "sia"))]
    assert len(ports) == 3  # HTTP, SIA over TCP and over UDP
    assert all(line.endswith(held) for line in ports), running_table
    lines = [json.loads(line) for line in stdout.decode().splitlines()]
    assert any(entry["message"].startswith("mqtt link up") for entry in lines)
    assert b"lock-token-0123456789" not in stdout + stderr


async def until_online(watcher: Watcher, topic: str) -> None:
    """Wait for an `online` status on `topic` (the agent imports OpenCV: give it time)."""
    deadline = time.monotonic() + ONLINE_WITHIN_S
    online = status_is(topic, Presence.ONLINE)
    while not watcher.matching(online):
        assert time.monotonic() < deadline, f"no online status within {ONLINE_WITHIN_S} s"
        await asyncio.sleep(0.1)
