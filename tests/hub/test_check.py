"""`python -m hub check`: database, TimescaleDB, broker and webhooks are probed, and
each misconfiguration is named specifically."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
import yaml

from hub.__main__ import main
from hub.check import Verdict, check_config
from hub.provision import Principal, ProvisionStore
from hub.runtime import migrate_database
from tests.harness import PrivateMosquitto, free_port

if TYPE_CHECKING:
    from pathlib import Path

    from hub.check import Row
    from tests.harness import MqttEndpoint

pytestmark = pytest.mark.integration


def write_config(tmp_path: Path, database: str, **overrides: Any) -> Path:
    """A hub config on `database` and the local broker; sections overridable."""
    data: dict[str, Any] = {
        "hub_id": "hub-check",
        "database": {"url": database, "connect_timeout_s": 3},
        "mqtt": {"host": "127.0.0.1", "port": 1883, "timeout_s": 3},
        "api": {"port": free_port()},
        **overrides,
    }
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


def row(rows: list[Row], check: str) -> Row:
    """The one row of `check`."""
    (found,) = [r for r in rows if r.check == check]
    return found


def mqtt_of(endpoint: MqttEndpoint) -> dict[str, Any]:
    """The mqtt section for the shared broker."""
    section: dict[str, Any] = {"host": endpoint.host, "port": endpoint.port, "timeout_s": 3}
    if endpoint.username is not None:
        section.update(username=endpoint.username, password=endpoint.password)
    return section


async def test_a_ready_server_passes(
    tmp_path: Path, database: str, mqtt_endpoint: MqttEndpoint
) -> None:
    """A migrated database, the broker and a free API port: exit 0, every row ok, and
    whether TimescaleDB is there is said."""
    await migrate_database(database, wait=False)
    rows, code = await check_config(write_config(tmp_path, database, mqtt=mqtt_of(mqtt_endpoint)))
    assert code == 0, rows
    assert {r.check for r in rows} == {"config", "rules", "api", "broker", "database", "webhooks"}
    detail = row(rows, "database").detail
    assert detail.startswith("PostgreSQL ")
    assert "TimescaleDB" in detail
    assert detail.endswith("schema up to date")
    assert row(rows, "webhooks").detail == "none registered"


async def test_pending_migrations_are_a_warning(
    tmp_path: Path, database: str, mqtt_endpoint: MqttEndpoint
) -> None:
    """An empty database is reachable but not migrated: a warning naming `migrate`."""
    rows, code = await check_config(write_config(tmp_path, database, mqtt=mqtt_of(mqtt_endpoint)))
    assert code == 0
    database_row = row(rows, "database")
    assert database_row.verdict is Verdict.WARN
    assert "migrations pending (run `migrate`)" in database_row.detail


async def test_a_missing_database_is_named(
    tmp_path: Path, database_url: str, mqtt_endpoint: MqttEndpoint
) -> None:
    """A database name that does not exist fails, and says so."""
    name = f"nope_{uuid.uuid4().hex[:8]}"
    url = database_url.rsplit("/", 1)[0] + f"/{name}"
    rows, code = await check_config(write_config(tmp_path, url, mqtt=mqtt_of(mqtt_endpoint)))
    assert code == 1
    detail = row(rows, "database").detail
    assert detail.startswith("cannot connect: ")
    assert f'database "{name}" does not exist' in detail


async def test_a_wrong_broker_password_is_named(tmp_path: Path, database: str) -> None:
    """A broker enforcing a password file refuses `_hub` with a wrong password, so named."""
    store = ProvisionStore(tmp_path / "provision")
    issued = store.ensure(Principal.hub())
    assert issued.password is not None
    extra = [f"password_file {store.passwd_path}", "allow_anonymous false"]
    wrong = "not-the-hub-password-1"
    with PrivateMosquitto(extra_config=extra) as broker:
        mqtt = {"host": broker.host, "port": broker.port, "username": "_hub", "password": wrong}
        rows, code = await check_config(write_config(tmp_path, database, mqtt=mqtt))
    assert code == 1
    broker_row = row(rows, "broker")
    assert broker_row.verdict is Verdict.FAIL
    assert broker_row.detail.startswith("the broker refused user '_hub': ")
    assert wrong not in repr(rows)


async def test_an_unreachable_webhook_is_named(
    tmp_path: Path, database: str, mqtt_endpoint: MqttEndpoint
) -> None:
    """An enabled webhook whose receiver does not listen fails the webhooks row."""
    await migrate_database(database, wait=False)
    port = free_port()
    endpoint_id = uuid.uuid4()
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO webhook_endpoints (id, url, all_sites, secret, created_by)"
            " VALUES (%s, %s, true, 'whsec_x', 'test')",
            (endpoint_id, f"http://127.0.0.1:{port}/hook"),
        )
    webhooks = {"allow_http": True, "allow_networks": ["127.0.0.0/8"]}
    path = write_config(tmp_path, database, mqtt=mqtt_of(mqtt_endpoint), webhooks=webhooks)
    rows, code = await check_config(path)
    assert code == 1
    hooks = row(rows, "webhooks")
    assert (hooks.verdict, hooks.target) == (Verdict.FAIL, "1 enabled")
    assert hooks.detail.startswith(f"webhook {endpoint_id}: cannot connect: ")


async def test_a_config_typo_is_named(tmp_path: Path) -> None:
    """A misspelt key is a failing config row with its line; exit 2, nothing probed."""
    mqtt = {"host": "127.0.0.1", "pasword": "x-secret-9"}
    path = write_config(tmp_path, "postgresql://hub@127.0.0.1/none", mqtt=mqtt)
    rows, code = await check_config(path)
    assert code == 2
    (typo,) = rows
    assert typo.target == "hub.yaml:7"
    assert typo.detail.startswith("mqtt.pasword: ")
    assert "x-secret-9" not in repr(rows)


def test_the_command_prints_the_table(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check --config FILE` prints the table and exits 1 when the broker is unreachable."""
    path = write_config(tmp_path, database_url, mqtt={"host": "127.0.0.1", "port": free_port()})
    assert main(["check", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["CHECK", "TARGET", "RESULT", "DETAIL"]
    assert "connection refused: nothing listens on port" in out
