"""The rules file: the defaults load, bad files are refused with file, line, key, reason."""

from datetime import UTC, datetime

import pytest

from hub.rules import RulesError, default_rules, parse_rules
from hub.rules.model import AbsenceRule, DurationRule, ImmediateRule, Schedule, Window
from wire import EventType, Severity


def test_defaults_cover_the_issue_table() -> None:
    """The shipped rules give panic, duress, fire critical; intrusion, forced, tamper high…"""
    rules = default_rules()
    severity = {
        t: r.severity
        for r in rules.rules
        if isinstance(r, ImmediateRule)
        for t in r.match.event_types()
    }
    assert severity[EventType.ALARM_PANIC] is Severity.CRITICAL
    assert severity[EventType.ALARM_DURESS] is Severity.CRITICAL
    assert severity[EventType.ALARM_FIRE] is Severity.CRITICAL
    assert severity[EventType.ALARM_INTRUSION] is Severity.HIGH
    assert severity[EventType.DOOR_FORCED] is Severity.HIGH
    assert severity[EventType.ALARM_TAMPER] is Severity.HIGH
    assert severity[EventType.DOOR_HELD_OPEN] is Severity.MEDIUM
    assert severity[EventType.DEVICE_OFFLINE] is Severity.MEDIUM
    assert severity[EventType.POWER_AC_LOST] is Severity.LOW
    assert severity[EventType.BATTERY_LOW] is Severity.LOW
    assert severity[EventType.UNKNOWN] is Severity.INFO
    blind = rules.get("site-blind")
    assert isinstance(blind, AbsenceRule)
    assert (blind.of, blind.severity, blind.inhibits_devices) == ("agent", Severity.HIGH, True)
    assert isinstance(rules.get("ac-lost-10min"), DurationRule)
    assert rules.inhibitors == ("site-blind",)


def test_panic_and_duress_are_never_resolved_by_an_event() -> None:
    """No default rule on panic or duress has `resolve_on`; a file that tries is refused."""
    for rule in default_rules().rules:
        if isinstance(rule, ImmediateRule) and rule.match.event_types() & {
            EventType.ALARM_PANIC,
            EventType.ALARM_DURESS,
        }:
            assert rule.resolve_on == ()
    text = """rules:
  - name: p
    kind: immediate
    match: {types: ["alarm.*"]}
    resolve_on: [alarm.restore]
    severity: critical
"""
    with pytest.raises(RulesError, match=r"test.yaml:2: rules.0: .*resolved by a person"):
        parse_rules(text, source="test.yaml")


IMMEDIATE = "rules:\n  - name: a\n    kind: immediate\n"
ABSENCE = "rules:\n  - name: a\n    kind: absence\n    of: agent\n    grace_s: 90\n"
TWICE = "  - {name: a, kind: absence, of: agent, grace_s: 9, severity: low}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules:\n  - name: a\n    kind: sometimes\n", r"test.yaml:2: rules.0: .*tag 'sometimes'"),
        (
            IMMEDIATE + "    match: {types: [alarm.nothing]}\n    severity: high\n",
            r"test.yaml:4: rules.0.match.types: .*'alarm.nothing' matches no v1 event type",
        ),
        (
            IMMEDIATE + "    match: {types: [door.forced]}\n    severity: dreadful\n",
            r"test.yaml:5: rules.0.severity: .*\(got 'dreadful'\)",
        ),
        (
            ABSENCE + "    severity: high\n    colour: red\n",
            r"test.yaml:7: rules.0.colour: Extra inputs are not permitted",
        ),
        (
            "rules:\n" + TWICE + TWICE,
            r"test.yaml:1: rules: .*'a' is used twice",
        ),
        ("rules: [\n", r"test.yaml:2: not valid YAML"),
        ("- a\n", r"test.yaml:1: a rules file is a mapping"),
    ],
    ids=["kind", "type", "severity", "extra key", "duplicate", "yaml", "not a mapping"],
)
def test_bad_files_name_line_key_and_reason(text: str, expected: str) -> None:
    """Each problem is reported as file:line: key: reason, and nothing is loaded."""
    with pytest.raises(RulesError, match=expected):
        parse_rules(text, source="test.yaml")


def test_a_window_past_midnight_belongs_to_its_start_day() -> None:
    """22:00-06:00 on Fridays covers Friday 23:00 and Saturday 05:00, not Friday 05:00."""
    window = Window(days=("fri",), start="22:00", end="06:00")  # type: ignore[arg-type]
    friday_night = datetime(2026, 3, 6, 23, 0, tzinfo=UTC)
    saturday_dawn = datetime(2026, 3, 7, 5, 0, tzinfo=UTC)
    friday_dawn = datetime(2026, 3, 6, 5, 0, tzinfo=UTC)
    assert window.contains(friday_night)
    assert window.contains(saturday_dawn)
    assert not window.contains(friday_dawn)


def test_a_schedule_judges_in_its_time_zone() -> None:
    """14:30 UTC is 22:30 in Shanghai: inside a 22:00-06:00 window there, outside in UTC."""
    at = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    window = {"start": "22:00", "end": "06:00"}
    assert Schedule.model_validate({"timezone": "Asia/Shanghai", "windows": [window]}).applies(at)
    assert not Schedule.model_validate({"windows": [window]}).applies(at)
    with pytest.raises(ValueError, match="not a known time zone"):
        Schedule.model_validate({"timezone": "Mars/Olympus", "windows": [window]})
