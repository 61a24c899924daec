"""The agent's config: defaults, bounds, and errors that name file, line, key and reason."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pytest

import wire
from agent import (
    AgentConfig,
    CanaryConfig,
    ConfigError,
    DeliveryConfig,
    DeviceConfig,
    HttpPushConfig,
    MqttConfig,
    OutboxConfig,
    client_id_for,
    load_config,
)
from tests.agent.support import DOOR_TOKEN, make_config

if TYPE_CHECKING:
    from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "agent.yaml"
REFERENCE = ROOT / "docs" / "agent.md"
SECTIONS: dict[str, type[BaseModel]] = {
    "Top level": AgentConfig,
    "`mqtt`": MqttConfig,
    "`outbox`": OutboxConfig,
    "`delivery`": DeliveryConfig,
    "`http`": HttpPushConfig,
    "`canary`": CanaryConfig,
    "`devices[]`": DeviceConfig,
}

# A valid file; each error case below replaces or adds lines and names the line it breaks.
GOOD = """\
site: room-07
mqtt:
  host: 127.0.0.1
  password: broker-secret-password
outbox:
  path: /var/lib/shouwang/outbox.sqlite3
devices:
  - id: door-0042
    kind: door_lock
    driver: http
    token: door-token-0123456789
    checkin_s: 300
  - id: panic-0031
    kind: panic_alarm
    driver: http
    token: panic-token-0123456789
    checkin_s: 3600
"""


def write(tmp_path: Path, text: str, name: str = "agent.yaml") -> Path:
    """`text` in a file of its own."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str) -> ConfigError:
    """The ConfigError `load_config` raises for a file holding `text`."""
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return caught.value


def test_example_config_loads(tmp_path: Path) -> None:
    """docs/examples/agent.yaml is a valid config, with TLS on (its certificate files put
    in a temporary directory: the config checks that they exist)."""
    for name in ("ca.crt", "room-07.crt", "room-07.key"):
        (tmp_path / name).write_text("placeholder")
    text = EXAMPLE.read_text().replace("/etc/shouwang/mqtt/", f"{tmp_path}/")
    config = load_config(write(tmp_path, text))
    assert config.site == "room-07"
    assert config.mqtt.tls is not None
    assert config.mqtt.port == 8883
    assert {device.driver for device in config.devices} == {"http"}


def test_defaults(tmp_path: Path) -> None:
    """Unset fields take their documented defaults; the client id derives from the site."""
    config = load_config(write(tmp_path, GOOD))
    assert config.mqtt.port == 1883
    assert config.mqtt.protocol == "3.1.1"
    assert config.mqtt.username is None
    assert config.mqtt.client_id is None
    assert client_id_for(config) == "shouwang-agent-room-07"
    assert config.mqtt.topic_prefix == ""
    assert config.status_interval_s == 30
    assert config.http.host == "127.0.0.1"
    assert config.http.max_body_bytes == 64 * 1024
    assert config.devices[0].kind is wire.Kind.DOOR_LOCK
    assert config.devices[0].token is not None
    assert config.devices[0].token.get_secret_value() == DOOR_TOKEN


def test_protocol_5_may_be_written_as_a_number(tmp_path: Path) -> None:
    """`protocol: 5` (a YAML int) reads as MQTT 5."""
    config = load_config(
        write(tmp_path, GOOD.replace("  host: 127.0.0.1", "  host: h\n  protocol: 5"))
    )
    assert config.mqtt.protocol == "5"


def test_config_is_frozen(tmp_path: Path) -> None:
    """A loaded config cannot be changed."""
    config = make_config(tmp_path)
    with pytest.raises(ValueError, match="frozen"):
        config.site = "elsewhere"


class Case(NamedTuple):
    """One broken config: replace `old` in GOOD by `new`; expect line, key and reason."""

    old: str
    new: str
    line: int
    key: str
    reason: str


# (what, replace this, with this, line, key, words of the reason)
ERRORS = [
    (
        "bad kind",
        "    kind: panic_alarm",
        "    kind: panik_alarm",
        14,
        "devices[1].kind",
        "'panic_alarm'",
    ),
    (
        "short token",
        "    token: panic-token-0123456789",
        "    token: tiny-secret",
        16,
        "devices[1].token",
        "16 to 256 characters",
    ),
    (
        "unknown key",
        "  password: broker-secret-password",
        "  pasword: broker-secret-password",
        4,
        "mqtt.pasword",
        "unknown key (expected one of: host, port",
    ),
    (
        "repeated device id",
        "  - id: panic-0031",
        "  - id: door-0042",
        13,
        "devices[1].id",
        "device id 'door-0042' repeats devices[0].id",
    ),
    (
        "repeated token",
        "    token: panic-token-0123456789",
        "    token: door-token-0123456789",
        16,
        "devices[1].token",
        "same token as devices[0]",
    ),
    (
        "missing token",
        "    token: panic-token-0123456789\n",
        "",
        13,
        "devices[1].token",
        "an http device needs a token",
    ),
    (
        "missing section",
        "outbox:\n  path: /var/lib/shouwang/outbox.sqlite3\n",
        "",
        1,
        "outbox",
        "required key is missing",
    ),
    (
        "bad site id",
        "site: room-07",
        "site: Room 7",
        1,
        "site",
        "'Room 7' is not a valid id",
    ),
    (
        "checkin out of bounds",
        "    checkin_s: 300",
        "    checkin_s: 0",
        12,
        "devices[0].checkin_s",
        "greater than or equal to 1 (found 0)",
    ),
    (
        "backoff bounds reversed",
        "  host: 127.0.0.1",
        "  host: 127.0.0.1\n  reconnect_min_s: 10\n  reconnect_max_s: 2",
        5,
        "mqtt.reconnect_max_s",
        "must be at least reconnect_min_s",
    ),
    (
        "topic prefix outside the contract",
        "  host: 127.0.0.1",
        "  host: 127.0.0.1\n  topic_prefix: 'test/#/'",
        4,
        "mqtt.topic_prefix",
        "topic prefix 'test/#/'",
    ),
    (
        "unknown driver",
        "    driver: http\n    token: panic",
        "    driver: serial\n    token: panic",
        15,
        "devices[1].driver",
        "Input should be 'http'",
    ),
    (
        "password of the wrong type",
        "  password: broker-secret-password",
        "  password: 1234567890123",
        4,
        "mqtt.password",
        "valid string",
    ),
]


@pytest.mark.parametrize("case", [pytest.param(Case(*row[1:]), id=row[0]) for row in ERRORS])
def test_invalid_config_names_file_line_key_and_reason(tmp_path: Path, case: Case) -> None:
    """Each invalid value is reported as `file:line: key: reason`."""
    assert case.old in GOOD
    error = refused(tmp_path, GOOD.replace(case.old, case.new, 1))
    assert (error.line, error.key) == (case.line, case.key), str(error)
    assert case.reason in error.reason
    assert str(error).startswith(f"{tmp_path / 'agent.yaml'}:{case.line}: {case.key}: ")


@pytest.mark.parametrize(
    ("old", "new", "secret"),
    [
        pytest.param(
            "    token: panic-token-0123456789",
            "    token: tiny-secret",
            "tiny-secret",
            id="short token",
        ),
        pytest.param(
            "    token: panic-token-0123456789",
            f"    token: {DOOR_TOKEN}",
            DOOR_TOKEN,
            id="repeated token",
        ),
        pytest.param(
            "  password: broker-secret-password",
            "  password: 1234567890123",
            "1234567890123",
            id="password of the wrong type",
        ),
        pytest.param(
            "  password: broker-secret-password",
            "  pasword: broker-secret-password",
            "broker-secret",
            id="misspelt password key",
        ),
        pytest.param(
            "    checkin_s: 300",
            "    checkin_s: 300\n    tokn: misplaced-secret-123",
            "misplaced",
            id="misspelt token key",
        ),
        pytest.param(
            "    checkin_s: 300",
            "    checkin_s: 300\n    token: [unclosed-secret-0123",
            "unclosed",
            id="yaml error near a secret",
        ),
    ],
)
def test_secrets_never_appear_in_messages(tmp_path: Path, old: str, new: str, secret: str) -> None:
    """A bad, repeated or misplaced secret is never quoted back, nor kept in the chain."""
    error = refused(tmp_path, GOOD.replace(old, new, 1))
    assert secret not in str(error)
    assert error.__cause__ is None
    assert error.__context__ is None


def test_every_problem_is_reported(tmp_path: Path) -> None:
    """All problems of a file are reported at once, one line each, in file order."""
    text = GOOD.replace("kind: panic_alarm", "kind: nope").replace(
        "checkin_s: 300", "checkin_s: -1"
    )
    error = refused(tmp_path, text)
    assert [(problem.line, problem.key) for problem in error.problems] == [
        (12, "devices[0].checkin_s"),
        (14, "devices[1].kind"),
    ]
    assert len(str(error).splitlines()) == 2


def test_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    """A YAML syntax error is reported with the line where the parser gave up."""
    error = refused(tmp_path, GOOD.replace("    checkin_s: 300", "    checkin_s: [300"))
    assert error.line is not None
    assert 12 <= error.line <= 13
    assert error.key is None
    assert error.reason.startswith("not valid YAML")


def test_repeated_yaml_key_is_refused(tmp_path: Path) -> None:
    """A key given twice in one mapping is refused (PyYAML would keep the last silently)."""
    error = refused(tmp_path, GOOD.replace("  host: 127.0.0.1", "  host: a\n  host: b"))
    assert (error.line, error.key) == (4, "mqtt.host")
    assert error.reason == "key repeats the one on line 3"


def test_missing_file(tmp_path: Path) -> None:
    """A missing file is a ConfigError naming it."""
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: no such file"


@pytest.mark.parametrize(("text", "found"), [("", "an empty file"), ("- a\n- b\n", "list")])
def test_file_must_be_a_mapping(tmp_path: Path, text: str, found: str) -> None:
    """An empty file or a top-level list is refused, saying what was found."""
    error = refused(tmp_path, text)
    assert error.key is None
    assert error.reason.endswith(f"found {found}")
    assert "expected a mapping of site, mqtt, outbox" in error.reason


def test_devices_are_bounded_by_the_inventory_cap(tmp_path: Path) -> None:
    """The device list is capped at the inventory's 20,000 (the contract's limit)."""
    assert AgentConfig.model_fields["devices"].metadata[0].max_length == wire.MAX_INVENTORY


def test_every_field_is_described() -> None:
    """Every field of every section has a description (STYLE.md)."""
    for model in SECTIONS.values():
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"


@pytest.mark.parametrize(("heading", "model"), SECTIONS.items())
def test_reference_documents_exactly_the_fields(heading: str, model: type[BaseModel]) -> None:
    """docs/agent.md has a table row for each field of each section, and no other."""
    text = REFERENCE.read_text(encoding="utf-8")
    section = text.split(f"### {heading}\n", 1)[1].split("\n#", 1)[0]
    keys = [
        line.split("|")[1].strip().strip("`")
        for line in section.splitlines()
        if line.startswith("| `")
    ]
    assert keys == list(model.model_fields)
