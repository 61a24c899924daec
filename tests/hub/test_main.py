"""The command line: `migrate`, `run` until SIGTERM, and exit 2 on a bad configuration."""

import asyncio
import signal
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from hub.__main__ import main
from hub.storage import known_migrations
from tests.harness import MqttEndpoint
from tests.hub.support import forget_session, rows, subscribed
from wire import TopicSpace

ROOT = Path(__file__).resolve().parents[2]


def _write_config(path: Path, database: str, endpoint: MqttEndpoint, prefix: str) -> str:
    """A configuration file for a hub of this test's own; returns its hub id."""
    hub_id = f"test-cli-{uuid.uuid4().hex[:8]}"
    document = {
        "hub_id": hub_id,
        "database": {"url": database},
        "mqtt": {
            "host": endpoint.host,
            "port": endpoint.port,
            "username": endpoint.username,
            "password": endpoint.password,
            "topic_prefix": prefix,
        },
        "api": {"port": 0},
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return hub_id


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` shows `run` and `migrate`."""
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "run" in out
    assert "migrate" in out


def test_invalid_configuration_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad value stops `run` before anything starts, with exit 2 and file:line: key."""
    path = tmp_path / "hub.yaml"
    path.write_text("database:\n  url: postgresql://x@y/z\napi:\n  port: 99999\n", "utf-8")
    assert main(["run", "--config", str(path)]) == 2
    assert f"{path}:4: api.port:" in capsys.readouterr().err


def test_missing_configuration_file_exits_2(tmp_path: Path) -> None:
    """A configuration file that does not exist is a usage error."""
    assert main(["migrate", "--config", str(tmp_path / "absent.yaml")]) == 2


@pytest.mark.integration
def test_migrate_brings_the_schema_up_to_date(
    tmp_path: Path, database: str, mqtt_endpoint: MqttEndpoint, topic_prefix: str
) -> None:
    """`migrate` applies every migration and exits 0; a second run does nothing."""
    path = tmp_path / "hub.yaml"
    _write_config(path, database, mqtt_endpoint, topic_prefix)
    assert main(["migrate", "--config", str(path)]) == 0
    assert main(["migrate", "--config", str(path)]) == 0
    versions = asyncio.run(rows(database, "SELECT version FROM schema_migrations"))
    assert sorted(v for (v,) in versions) == [m.version for m in known_migrations()]


@pytest.mark.integration
async def test_run_stops_cleanly_on_sigterm(
    tmp_path: Path, database: str, mqtt_endpoint: MqttEndpoint, topic_prefix: str
) -> None:
    """`run` comes online, and on SIGTERM publishes offline (shutdown) and exits 0."""
    path = tmp_path / "hub.yaml"
    hub_id = _write_config(path, database, mqtt_endpoint, topic_prefix)
    space = TopicSpace(topic_prefix)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub",
        "run",
        "--config",
        str(path),
        cwd=ROOT,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with subscribed(mqtt_endpoint, space.hub_status()) as inbox:
            online = await inbox.take(
                space.hub_status(), where=lambda s: s["state"] == "online", within_s=20
            )
            assert online["hub"] == hub_id
            process.send_signal(signal.SIGTERM)
            offline = await inbox.take(space.hub_status(), where=lambda s: s["state"] == "offline")
            assert offline["reason"] == "shutdown"
        async with asyncio.timeout(15):
            _, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await forget_session(mqtt_endpoint, f"shouwang-hub-{hub_id}", space)
