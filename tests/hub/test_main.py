"""The command line: `migrate`, `run` until SIGTERM, `token`, and exit 2 on bad usage."""

import asyncio
import signal
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml

from hub.__main__ import main
from hub.storage import known_migrations
from hub.storage.tokens import Caller, Role, Scope, verify_token
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


def _database_config(path: Path, database: str) -> str:
    """A configuration file that names only the database; returns its path."""
    path.write_text(yaml.safe_dump({"database": {"url": database}}), encoding="utf-8")
    return str(path)


async def _caller_of(database: str, token: str) -> Caller | None:
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        return await verify_token(conn, token)


@pytest.mark.integration
def test_token_create_list_revoke(
    tmp_path: Path, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`token create` prints the token once (stdout) with a warning (stderr) and stores
    only its hash; `list` shows it without the secret; `revoke` makes it invalid."""
    config = _database_config(tmp_path / "hub.yaml", database)
    assert main(["migrate", "--config", config]) == 0
    capsys.readouterr()
    create = ["token", "create", "--config", config, "--role", "viewer", "--label", "desk"]
    assert main([*create, "--site", "room-01", "--site", "room-02"]) == 0
    out, err = capsys.readouterr()
    issued = out.strip()
    assert issued.startswith("sw_")
    assert out.count(issued) == 1
    assert "will not be shown again" in err
    assert issued not in err
    token_id = issued.split("_")[1]

    stored = asyncio.run(rows(database, "SELECT api_tokens::text FROM api_tokens"))
    assert len(stored) == 1
    assert issued not in stored[0][0]
    assert issued.split("_", 2)[2] not in stored[0][0]
    caller = asyncio.run(_caller_of(database, issued))
    assert caller is not None
    assert (caller.role, caller.scope) == (Role.VIEWER, Scope.of(["room-01", "room-02"]))

    assert main(["token", "list", "--config", config]) == 0
    listed = capsys.readouterr().out
    assert token_id in listed
    assert "room-01,room-02" in listed
    assert issued.split("_", 2)[2] not in listed

    assert main(["token", "revoke", "--config", config, token_id]) == 0
    assert asyncio.run(_caller_of(database, issued)) is None
    assert main(["token", "revoke", "--config", config, token_id]) == 1
    assert main(["token", "create", "--config", config, "--role", "admin", "--all"]) == 0
    out = capsys.readouterr().out
    admin = asyncio.run(_caller_of(database, out.strip()))
    assert admin is not None
    assert (admin.role, admin.scope.all_sites) == (Role.ADMIN, True)


@pytest.mark.parametrize(
    "arguments",
    [
        ["--role", "viewer"],  # neither --site nor --all
        ["--role", "viewer", "--all", "--site", "room-01"],
        ["--role", "root", "--all"],
        ["--site", "room-01"],  # no role
    ],
)
def test_token_create_bad_usage_exits_2(tmp_path: Path, arguments: list[str]) -> None:
    """`token create` without a role or a scope, or with both scopes, is a usage error."""
    config = _database_config(tmp_path / "hub.yaml", "postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(SystemExit) as caught:
        main(["token", "create", "--config", config, *arguments])
    assert caught.value.code == 2


def test_token_create_refuses_a_bad_site_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A site id outside `[a-z0-9][a-z0-9_-]{0,63}` is a usage error naming it."""
    config = _database_config(tmp_path / "hub.yaml", "postgresql://nobody@127.0.0.1:1/none")
    command = ["token", "create", "--config", config, "--role", "viewer", "--site", "Room 7"]
    assert main(command) == 2
    assert "Room 7" in capsys.readouterr().err


@pytest.mark.integration
def test_token_commands_before_migrate_exit_1(
    tmp_path: Path, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a database without the tokens table, `token list` says to run `migrate`."""
    config = _database_config(tmp_path / "hub.yaml", database)
    assert main(["token", "list", "--config", config]) == 1
    assert "migrate" in capsys.readouterr().err
