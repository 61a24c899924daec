"""Configuration: the example loads; errors name file, line, key and value, never secrets."""

from pathlib import Path

import pytest

from hub.config import DATABASE_URL_ENV, HubConfig, load_config, parse_config
from hub.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "hub.yaml"
MINIMAL = "database:\n  url: postgresql://hub@db/shouwang\n"


def test_example_configuration_loads_with_its_documented_values(tmp_path: Path) -> None:
    """docs/examples/hub.yaml is valid, says what the defaults are, and uses TLS (its
    certificate files put in a temporary directory: the config checks that they exist)."""
    for name in ("ca.crt", "_hub.crt", "_hub.key"):
        (tmp_path / name).write_text("placeholder")
    example = tmp_path / "hub.yaml"
    example.write_text(EXAMPLE.read_text().replace("/etc/shouwang/mqtt/", f"{tmp_path}/"))
    config = load_config(example, environ={})
    assert config.mqtt.tls is not None
    assert config.mqtt.port == 8883
    assert config.hub_id == "hub-a"
    assert config.api.host == "127.0.0.1"
    defaults = parse_config(MINIMAL, environ={})
    assert config.ingest == defaults.ingest
    assert (config.mqtt.protocol, config.mqtt.topic_prefix) == ("3.1.1", "")


def test_defaults_need_only_the_database_url() -> None:
    """Everything but the database URL has a default; the hub id is left to run time."""
    config = parse_config(MINIMAL, environ={})
    assert isinstance(config, HubConfig)
    assert config.hub_id is None
    assert (config.ingest.batch_max, config.ingest.batch_wait_ms) == (500, 50)
    assert (config.api.port, config.status_interval_s) == (8080, 30.0)


def test_environment_supplies_the_database_url() -> None:
    """SHOUWANG_DATABASE_URL fills in (and overrides) database.url."""
    url = "postgresql://hub:s3cret@db/shouwang"
    assert parse_config("", environ={DATABASE_URL_ENV: url}).database.url.get_secret_value() == url
    overridden = parse_config(MINIMAL, environ={DATABASE_URL_ENV: url})
    assert overridden.database.url.get_secret_value() == url


def test_missing_database_url_says_where_to_put_it() -> None:
    """Without a URL anywhere, the error names the key and the environment variable."""
    with pytest.raises(ConfigError, match=f"database.url: Field required .*{DATABASE_URL_ENV}"):
        parse_config("database:\n  pool_max: 3\n", environ={})
    with pytest.raises(
        ConfigError, match=f"<config>:1: database: Field required .*{DATABASE_URL_ENV}"
    ):
        parse_config("mqtt:\n  port: 1883\n", environ={})


def test_errors_name_file_line_key_and_value(tmp_path: Path) -> None:
    """Each problem is reported as file:line: key: message (value)."""
    path = tmp_path / "hub.yaml"
    path.write_text(
        "database:\n"
        "  url: postgresql://hub@db/x\n"
        "mqtt:\n"
        "  port: 70000\n"
        "  colour: blue\n"
        "ingest:\n"
        "  batch_max: lots\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert (
        f"{path}:4: mqtt.port: Input should be less than or equal to 65535 (got 70000)" in message
    )
    # An unknown key may be a misspelt secret: its value is never quoted.
    assert f"{path}:5: mqtt.colour: Extra inputs are not permitted\n" in message
    assert f"{path}:7: ingest.batch_max:" in message
    assert "(got 'lots')" in message


def test_secrets_are_never_echoed() -> None:
    """A bad database URL or MQTT password is named but its value is not shown."""
    text = "database:\n  url: mysql://root:hunter2@db/x\nmqtt:\n  password: hunter3\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, environ={})
    message = str(caught.value)
    assert "database.url" in message
    assert "mqtt" in message
    assert "hunter2" not in message
    assert "hunter3" not in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("hub_id: 'hub a'\n", "hub_id"),
        ("mqtt:\n  topic_prefix: 'no-slash'\n", "mqtt.topic_prefix"),
        ("mqtt:\n  protocol: '4'\n", "mqtt.protocol"),
        ("database:\n  pool_min: 9\n  pool_max: 2\n", "database"),
        ("api:\n  port: -1\n", "api.port"),
        ("ingest:\n  batch_max: 0\n", "ingest.batch_max"),
    ],
)
def test_out_of_bounds_values_are_refused_naming_the_key(text: str, key: str) -> None:
    """Bounds and patterns hold for every section."""
    with pytest.raises(ConfigError, match=rf"<config>:\d+: {key}:"):
        parse_config(text, environ={DATABASE_URL_ENV: "postgresql://hub@db/x"})


def test_yaml_syntax_error_names_the_line() -> None:
    """A file that is not YAML is refused with its line."""
    with pytest.raises(ConfigError, match=r"<config>:2: not valid YAML"):
        parse_config("hub_id: a\n- b\n", environ={})
