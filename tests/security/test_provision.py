"""Provisioning without a broker: the ACL table, the password file format, the state
directory (idempotent, rotation, revocation, file modes) and the command line."""

from __future__ import annotations

import base64
import shutil
import stat
import subprocess
from typing import TYPE_CHECKING

import pytest
import yaml

from agent.config import MqttConfig as AgentMqtt
from hub.__main__ import main
from hub.config import MqttConfig as HubMqtt
from hub.provision import (
    HUB_USER,
    Access,
    Principal,
    ProvisionError,
    ProvisionStore,
    Role,
    Rule,
    emqx_acl,
    hash_password,
    mosquitto_acl,
    parse_passwd,
    rules_for,
    verify,
)
from wire import TopicSpace

if TYPE_CHECKING:
    from pathlib import Path

R, W = Access.READ, Access.WRITE

AGENT_RULES = [
    Rule(W, "shouwang/v1/room-07/events/#"),
    Rule(W, "shouwang/v1/room-07/state/#"),
    Rule(W, "shouwang/v1/room-07/snapshots/#"),
    Rule(W, "shouwang/v1/room-07/inventory"),
    Rule(W, "shouwang/v1/room-07/status"),
    Rule(R, "shouwang/v1/room-07/ack"),
]
HUB_RULES = [
    Rule(R, "shouwang/v1/+/events/#"),
    Rule(R, "shouwang/v1/+/state/#"),
    Rule(R, "shouwang/v1/+/snapshots/#"),
    Rule(R, "shouwang/v1/+/inventory"),
    Rule(R, "shouwang/v1/+/status"),
    Rule(W, "shouwang/v1/+/ack"),
    Rule(W, "shouwang/v1/+/alerts"),
    Rule(W, "shouwang/v1/_hub/status"),
]


@pytest.mark.parametrize(
    ("principal", "rules"),
    [
        (Principal.agent("room-07"), AGENT_RULES),
        (Principal.hub(), HUB_RULES),
        (
            Principal.consumer("ops"),
            [Rule(R, "shouwang/v1/+/alerts"), Rule(R, "shouwang/v1/_hub/status")],
        ),
        (
            Principal.consumer("desk", ("room-b", "room-a", "room-a")),
            [
                Rule(R, "shouwang/v1/room-a/alerts"),
                Rule(R, "shouwang/v1/room-b/alerts"),
                Rule(R, "shouwang/v1/_hub/status"),
            ],
        ),
    ],
    ids=["agent", "hub", "consumer-all", "consumer-sites"],
)
def test_each_role_gets_exactly_its_grants(principal: Principal, rules: list[Rule]) -> None:
    """The ACL table, row by row: every grant of each role and nothing more."""
    assert list(rules_for(principal)) == rules


@pytest.mark.parametrize("site", ["a", "room-07", "x" * 64, "0_shop-9"])
def test_an_agent_is_confined_to_its_own_site(site: str) -> None:
    """Every grant of an agent names its own site literally and never `alerts` or `$SYS`."""
    for rule in rules_for(Principal.agent(site)):
        assert rule.pattern.startswith(f"shouwang/v1/{site}/")
        assert "+" not in rule.pattern
        assert not rule.pattern.endswith(("/alerts", "shouwang/v1/#"))
        assert (rule.access is R) == rule.pattern.endswith("/ack")


def test_grants_follow_a_topic_prefix() -> None:
    """With a namespace prefix (tests only), every grant sits under it."""
    space = TopicSpace("ci/run-1/")
    for principal in (Principal.agent("room-07"), Principal.hub(), Principal.consumer("ops")):
        assert all(
            r.pattern.startswith("ci/run-1/shouwang/v1/") for r in rules_for(principal, space)
        )


@pytest.mark.parametrize(
    ("role", "user", "sites"),
    [
        (Role.AGENT, "Room-07", ()),
        (Role.AGENT, "_hub", ()),
        (Role.AGENT, "room/07", ()),
        (Role.AGENT, "#", ()),
        (Role.AGENT, "room-07", ("room-07",)),
        (Role.HUB, "hub", ()),
        (Role.CONSUMER, "ops", ()),
        (Role.CONSUMER, "_consumer.Ops", ()),
        (Role.CONSUMER, "_consumer.ops", ("+",)),
        (Role.CONSUMER, "_consumer.ops", ("b", "a")),
    ],
)
def test_invalid_principals_are_refused(role: Role, user: str, sites: tuple[str, ...]) -> None:
    """User names that could widen a grant (wildcards, slashes, reserved names) are refused."""
    with pytest.raises(ValueError, match="not a valid"):
        Principal(user, role, sites)


def test_the_mosquitto_acl_has_one_block_per_user() -> None:
    """The Mosquitto file lists each user once, sorted, with its grants."""
    text = mosquitto_acl([Principal.agent("room-07"), Principal.hub()])
    blocks = [line for line in text.splitlines() if line.startswith("user ")]
    assert blocks == [f"user {HUB_USER}", "user room-07"]
    assert "topic read shouwang/v1/room-07/ack" in text
    assert "topic write shouwang/v1/+/ack" in text
    assert "pattern" not in text  # no %u patterns: every grant is spelled out


def test_the_emqx_acl_ends_in_deny_all() -> None:
    """The EMQX equivalent allows the same grants and denies everything else."""
    text = emqx_acl([Principal.agent("room-07")])
    assert '{allow, {username, "room-07"}, subscribe, ["shouwang/v1/room-07/ack"]}.' in text
    assert '{allow, {username, "room-07"}, publish, ["shouwang/v1/room-07/status"]}.' in text
    assert text.rstrip().endswith("{deny, all}.")


def test_our_hashes_and_mosquitto_passwd_agree(tmp_path: Path) -> None:
    """A `$7$` hash made by mosquitto_passwd verifies here, and the same salt gives the same
    hash here as there."""
    binary = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    path = tmp_path / "passwd"
    subprocess.run([binary, "-c", "-b", str(path), "u1", "s3cret"], check=True)
    hashed = parse_passwd(path.read_text())["u1"]
    assert verify("s3cret", hashed)
    assert not verify("s3cret!", hashed)
    _, _tag, iterations, salt, _ = hashed.split("$")
    again = hash_password("s3cret", salt=base64.b64decode(salt), iterations=int(iterations))
    assert again == hashed


def test_a_malformed_password_file_is_refused(tmp_path: Path) -> None:
    """A password file line without a colon is an error naming the line."""
    (tmp_path / "passwd").write_text("room-07:$7$1$a$b\nbroken\n")
    with pytest.raises(ProvisionError, match="line 2"):
        ProvisionStore(tmp_path).ensure(Principal.agent("room-08"))


def test_provisioning_is_idempotent_and_never_shows_a_password_twice(tmp_path: Path) -> None:
    """A second run keeps the password (and shows none); `rotate` makes and shows a new one."""
    store = ProvisionStore(tmp_path)
    first = store.ensure(Principal.agent("room-07"))
    assert first.created
    assert first.password is not None
    hashed = parse_passwd(store.passwd_path.read_text())["room-07"]
    assert verify(first.password, hashed)

    again = store.ensure(Principal.agent("room-07"))
    assert (again.created, again.password) == (False, None)
    assert parse_passwd(store.passwd_path.read_text())["room-07"] == hashed

    rotated = store.ensure(Principal.agent("room-07"), rotate=True)
    assert rotated.password is not None
    assert rotated.password != first.password
    new_hash = parse_passwd(store.passwd_path.read_text())["room-07"]
    assert verify(rotated.password, new_hash)
    assert not verify(first.password, new_hash)


def test_files_are_private_and_passwords_never_stored(tmp_path: Path) -> None:
    """passwd and the registry are 0600, keys 0600; no file holds a plain password."""
    store = ProvisionStore(tmp_path / "p")
    issued = store.ensure(Principal.agent("room-07"), cert=True)
    assert issued.password is not None
    assert issued.cert is not None
    for path in (store.passwd_path, store.registry_path, store.ca_dir / "ca.key", issued.cert[0]):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in store.directory.rglob("*"):
        if path.is_file():
            assert issued.password.encode() not in path.read_bytes(), path


def test_names_cannot_cross_roles(tmp_path: Path) -> None:
    """Roles live in disjoint name spaces, and a registry saying otherwise is refused."""
    with pytest.raises(ValueError, match="not a valid"):
        Principal("_consumer.ops", Role.AGENT)
    store = ProvisionStore(tmp_path)
    store.registry_path.write_text('{"room-07": {"role": "consumer", "sites": []}}')
    with pytest.raises(ProvisionError, match="not a principals file"):
        store.ensure(Principal.agent("room-08"))


def test_revoke_removes_password_grants_and_certificate(tmp_path: Path) -> None:
    """After `revoke`, the user is in neither file, its key is gone, the others stay."""
    store = ProvisionStore(tmp_path)
    store.ensure(Principal.agent("room-07"), cert=True)
    store.ensure(Principal.agent("room-08"))
    assert store.revoke("room-07")
    assert "room-07" not in parse_passwd(store.passwd_path.read_text())
    assert "user room-07" not in store.acl_path.read_text()
    assert "user room-08" in store.acl_path.read_text()
    assert not any(p.exists() for p in store.cert_paths("room-07"))
    assert not store.revoke("room-07")


def test_the_cli_prints_the_password_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`provision site` prints a snippet with the password; a rerun prints it without."""
    directory = str(tmp_path / "mqtt")
    assert main(["provision", "--dir", directory, "site", "room-07", "--cert"]) == 0
    first = yaml.safe_load(capsys.readouterr().out)["mqtt"]
    assert main(["provision", "--dir", directory, "site", "room-07"]) == 0
    out = capsys.readouterr().out
    second = yaml.safe_load(out)["mqtt"]
    assert "password" in first
    assert "password" not in second
    assert first["password"] not in out
    assert main(["provision", "--dir", directory, "site", "room-07", "--rotate"]) == 0
    third = yaml.safe_load(capsys.readouterr().out)["mqtt"]
    assert third["password"] != first["password"]


def test_the_snippets_are_valid_agent_and_hub_configs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The printed `mqtt:` sections validate as the agent's and the hub's MqttConfig."""
    directory = str(tmp_path / "mqtt")
    assert main(["provision", "--dir", directory, "site", "room-07", "--cert"]) == 0
    agent = AgentMqtt.model_validate(yaml.safe_load(capsys.readouterr().out)["mqtt"])
    assert agent.tls is not None
    assert agent.tls.cert_file is not None
    assert (agent.username, agent.port, agent.tls.min_version) == ("room-07", 8883, "1.2")
    assert main(["provision", "--dir", directory, "hub", "--cert"]) == 0
    hub = HubMqtt.model_validate(yaml.safe_load(capsys.readouterr().out)["mqtt"])
    assert hub.username == HUB_USER
    assert hub.tls is not None


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["site", "Room-07"], 2),
        (["consumer", "ops", "--site", "bad site"], 2),
        (["revoke", "room-99"], 1),
    ],
)
def test_the_cli_refuses_bad_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int
) -> None:
    """Invalid ids exit 2, revoking an unknown identity exits 1, each with a message."""
    assert main(["provision", "--dir", str(tmp_path), *argv]) == code
    assert capsys.readouterr().err.startswith("shouwang-hub: ")


def test_the_cli_lists_identities_and_makes_a_broker_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`list` shows user, role and sites; `broker-cert` prints Mosquitto's TLS lines."""
    directory = str(tmp_path)
    main(["provision", "--dir", directory, "consumer", "desk", "--site", "room-07"])
    main(["provision", "--dir", directory, "hub"])
    capsys.readouterr()
    assert main(["provision", "--dir", directory, "list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "_consumer.desk\tconsumer\troom-07",
        "_hub\thub\t-",
    ]
    assert main(["provision", "--dir", directory, "broker-cert", "mqtt.example.net"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["certfile", "keyfile", "cafile"]
