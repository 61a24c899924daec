"""A district's 55 agent configs come from one room template through `provision
district`: each valid, with its own password, and accepted by a broker enforcing the
generated password and ACL files."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from agent.check import Verdict, check_config
from agent.config import load_config
from hub.__main__ import main
from hub.provision import ProvisionStore
from tests.harness import PrivateMosquitto, free_port

if TYPE_CHECKING:
    from pathlib import Path

ROOMS = 55
TEMPLATE = """\
site: ${site}
mqtt:
  host: ${broker_host}
  port: ${broker_port}
  password: "${password}"
  timeout_s: 3
outbox:
  path: ${room_dir}/outbox.sqlite3
devices: []
"""


def provision(tmp_path: Path, port: int, *more: str) -> Path:
    """Run `provision district` for 55 rooms with the test template; the output folder."""
    template = tmp_path / "room.yaml"
    template.write_text(TEMPLATE, encoding="utf-8")
    out = tmp_path / "rooms"
    argv = ["provision", "--dir", str(tmp_path / "mqtt"), "district", "--rooms", str(ROOMS)]
    argv += ["--template", str(template), "--out", str(out)]
    argv += ["--broker-host", "127.0.0.1", "--broker-port", str(port), *more]
    assert main(argv) == 0
    return out


def test_every_room_gets_a_valid_config_of_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """55 configs, room-01 to room-55, each valid for the agent, 0600, with its own
    password; the broker's ACL grants each its own topics; a second run keeps them all."""
    out = provision(tmp_path, 8883)
    assert capsys.readouterr().out.endswith("55 rooms written, 0 kept as they were\n")
    sites = sorted(p.name for p in out.iterdir())
    assert sites == [f"room-{n:02d}" for n in range(1, ROOMS + 1)]
    passwords = set()
    for site in sites:
        path = out / site / "agent.yaml"
        assert path.stat().st_mode & 0o777 == 0o600
        config = load_config(path)
        assert config.site == site
        assert config.mqtt.password is not None
        passwords.add(config.mqtt.password.get_secret_value())
    assert len(passwords) == ROOMS
    acl = ProvisionStore(tmp_path / "mqtt").acl_path.read_text(encoding="utf-8")
    assert all(f"user {site}\n" in acl for site in sites)
    before = (out / "room-07" / "agent.yaml").read_bytes()
    provision(tmp_path, 8883)
    assert capsys.readouterr().out.endswith("0 rooms written, 55 kept as they were\n")
    assert (out / "room-07" / "agent.yaml").read_bytes() == before


@pytest.mark.integration
async def test_a_generated_room_is_accepted_by_the_broker(tmp_path: Path) -> None:
    """The broker, given the generated password and ACL files, accepts room-17's config."""
    store = ProvisionStore(tmp_path / "mqtt")
    port = free_port()
    out = provision(tmp_path, port)
    extra = [f"password_file {store.passwd_path}", f"acl_file {store.acl_path}"]
    with PrivateMosquitto(extra_config=[*extra, "allow_anonymous false"], port=port):
        rows, code = await check_config(out / "room-17" / "agent.yaml")
    assert code == 0, rows
    (broker,) = [r for r in rows if r.check == "broker"]
    assert broker.verdict is Verdict.OK
    assert broker.detail == "user 'room-17' accepted over TCP (MQTT 3.1.1)"
