"""The hub installs from the same bundle, offline: its unit migrates the database before
starting it, and the installed `hub check` passes against PostgreSQL and the broker."""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from tests.deploy.conftest import install, offline_env
from tests.harness import free_port

if TYPE_CHECKING:
    from pathlib import Path

    from tests.harness import MqttEndpoint

pytestmark = pytest.mark.integration


def test_the_installed_hub_migrates_and_checks(
    bundle: Path, tmp_path: Path, database: str, mqtt_endpoint: MqttEndpoint
) -> None:
    """`install.py --role hub` under a temporary root; the unit's ExecStartPre migrates,
    `check` refuses the skeleton, then passes on a real config."""
    hub = install(bundle, tmp_path / "root", "hub")
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read(hub.unit, encoding="utf-8")
    service = parser["Service"]
    assert service["ProtectSystem"] == "strict"
    assert service["EnvironmentFile"] == f"-{hub.root}/etc/shouwang/hub.env"
    env = {**offline_env(), "SHOUWANG_DATABASE_URL": database}
    skeleton = run([str(hub.binary), "check", "--config", str(hub.config)], env)
    assert skeleton.returncode == 2
    assert "mqtt.password: still a placeholder: set it" in skeleton.stdout
    mqtt: dict[str, Any] = {"host": mqtt_endpoint.host, "port": mqtt_endpoint.port}
    if mqtt_endpoint.username is not None:
        mqtt.update(username=mqtt_endpoint.username, password=mqtt_endpoint.password)
    config = {"database": {"url": "postgresql://unused@127.0.0.1/x"}, "mqtt": mqtt}
    config["api"] = {"port": free_port()}
    hub.config.write_text(yaml.safe_dump(config), encoding="utf-8")
    migrate = run(shlex.split(service["ExecStartPre"]), env)
    assert migrate.returncode == 0, migrate.stderr
    check = run([str(hub.binary), "check", "--config", str(hub.config)], env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "schema up to date" in check.stdout
    assert str(hub.root) in os.path.realpath(hub.binary)


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run an installed command to its end."""
    return subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
