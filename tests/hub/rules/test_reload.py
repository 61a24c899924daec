"""Reloading the rules file (SIGHUP): a good file replaces the rules, a bad one changes nothing."""

from pathlib import Path

import pytest

from hub import Hub, HubConfig
from hub.__main__ import EXIT_USAGE, main

RULE = """rules:
  - name: {name}
    kind: immediate
    match: {{types: [door.forced]}}
    severity: high
"""


def hub_with_rules(path: Path) -> Hub:
    """A hub (not started) whose configuration names the rules file `path`."""
    config = HubConfig.model_validate(
        {"database": {"url": "postgresql://nobody@127.0.0.1/none"}, "rules": {"path": str(path)}}
    )
    return Hub(config)


def test_a_reload_takes_a_good_file_and_keeps_the_rules_on_a_bad_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """rules v1 → a broken file (logged with its line, v1 kept) → rules v2."""
    path = tmp_path / "rules.yaml"
    path.write_text(RULE.format(name="forced-v1"))
    hub = hub_with_rules(path)
    assert [r.name for r in hub.rules.current.rules] == ["forced-v1"]
    path.write_text(RULE.format(name="forced-v2").replace("severity: high", "severity: dire"))
    assert not hub.reload_rules()
    assert [r.name for r in hub.rules.current.rules] == ["forced-v1"]
    assert f"{path}:5: rules.0.severity" in caplog.text
    path.write_text(RULE.format(name="forced-v2"))
    assert hub.reload_rules()
    assert [r.name for r in hub.rules.current.rules] == ["forced-v2"]


def test_a_bad_rules_file_stops_the_hub_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hub run` with a rules file that does not validate exits 2, naming file and line."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE.format(name="Bad Name"))
    config = tmp_path / "hub.yaml"
    config.write_text(
        f"database: {{url: 'postgresql://nobody@127.0.0.1/none'}}\nrules: {{path: '{rules}'}}\n"
    )
    assert main(["run", "--config", str(config)]) == EXIT_USAGE
    assert f"{rules}:2: rules.0.name" in capsys.readouterr().err
