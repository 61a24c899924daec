"""The `fleet` command line: usage errors exit 2 with the reason, reports go to JSON."""

import json
from pathlib import Path

import pytest
import yaml

from simulators.__main__ import main
from simulators.fleet import parse_broker_url
from simulators.fleet.population import build_population
from tests.harness import MqttEndpoint
from tests.simulators.fleet.support import fleet_hub


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["fleet", "--rooms", "0"], "--rooms"),
        (["fleet", "--scale", "abc"], "--scale"),
        (["fleet", "--scenario", "burglery"], "invalid choice"),
        (["fleet", "--speed", "0"], "--speed"),
        (["fleet", "--broker", "http://x"], "mqtt://"),
        (["fleet", "preload", "--events", "-5"], "--events"),
        (["fleet", "preload", "--topic-prefix", "bad#/"], "--topic-prefix"),
        (["fleet", "--duration", "0"], "--duration"),
    ],
)
def test_bad_input_is_a_usage_error_naming_it(
    argv: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad options exit 2 and say which option and why."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert reason in capsys.readouterr().err


def test_an_unreachable_broker_fails_the_preload_with_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A preload to a port nobody listens on exits 1 saying it cannot connect."""
    assert main(["fleet", "preload", "--events", "5", "--broker", "mqtt://127.0.0.1:9"]) == 1
    assert "cannot connect" in capsys.readouterr().err


def test_rules_writes_the_defaults_with_every_doors_link(tmp_path: Path) -> None:
    """`fleet rules` writes the default rules plus one link per door, for the hub."""
    out = tmp_path / "rules.yaml"
    assert main(["fleet", "rules", "--out", str(out), "--rooms", "2", "--scale", "0.01"]) == 0
    document = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert any(rule["name"] == "confirmed-intrusion" for rule in document["rules"])
    assert {link["site"] for link in document["links"]} == {"room-01", "room-02"}
    assert all(link["device"].startswith("door-") for link in document["links"])


@pytest.mark.integration
def test_preload_reports_its_rate_as_json(
    tmp_path: Path, mqtt_url: str, topic_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`fleet preload` publishes, prints its rate and writes the same report as JSON."""
    out = tmp_path / "preload.json"
    argv = ["fleet", "preload", "--events", "500", "--rooms", "2", "--broker", mqtt_url]
    assert main([*argv, "--topic-prefix", topic_prefix, "--json", str(out)]) == 0
    assert "events/s" in capsys.readouterr().out
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["events"] == 500
    assert sum(report["counts"].values()) == 500


@pytest.mark.parametrize(
    ("url", "host", "port", "user"),
    [
        ("mqtt://127.0.0.1", "127.0.0.1", 1883, None),
        ("mqtt://u%40x:p@broker:1884", "broker", 1884, "u@x"),
    ],
)
def test_broker_urls_parse(url: str, host: str, port: int, user: str | None) -> None:
    """Broker URLs give host, port (default 1883) and the unquoted user name."""
    broker = parse_broker_url(url)
    assert (broker.host, broker.port, broker.username) == (host, port, user)
    assert "p@" not in broker.url


ARGS = ["fleet", "--rooms", "1", "--scale", "0.05", "--scenario", "burglary", "--links",
        "--duration", "5", "--speed", "20", "--resend-s", "2", "--drain", "20"]  # fmt: skip


@pytest.mark.integration
def test_a_fleet_run_from_the_command_line_passes_and_reports(
    tmp_path: Path,
    database: str,
    mqtt_endpoint: MqttEndpoint,
    topic_prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A burglary run from the command line against a real hub exits 0 and reports as JSON."""
    rooms = build_population(1, 0.05, 1)
    out = tmp_path / "fleet.json"
    with fleet_hub(
        tmp_path, database_url=database, endpoint=mqtt_endpoint, prefix=topic_prefix, rooms=rooms
    ):
        options = ["--broker", mqtt_endpoint.url, "--topic-prefix", topic_prefix]
        code = main([*ARGS, *options, "--database", database, "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "oracle: PASS" in printed
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["ok"] is True
    assert report["verdict"]["missing"] == []
    assert "intrusion@room-01/guard-01" in report["verdict"]["raised"]
    assert report["send_rate_per_s"] > 0
    assert report["cpu_s"] > 0
