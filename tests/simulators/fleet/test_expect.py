"""The model of the hub's default rules the oracle's expectations come from."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from simulators.fleet.agent import Outage, Record
from simulators.fleet.expect import IMMEDIATE_RULES, AlertKey, expected_alerts
from wire import EventType, Kind

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
DEFAULTS = Path(__file__).resolve().parents[3] / "hub" / "rules" / "defaults.yaml"


def rec(site: str, device: str, kind: Kind, type_: EventType, after_s: float) -> Record:
    return Record(uuid.uuid4(), site, device, kind, type_, T0 + timedelta(seconds=after_s), 1, None)


def test_the_immediate_table_matches_the_hubs_default_rules() -> None:
    """Every immediate default rule and its match types are in the model's table."""
    rules = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))["rules"]
    immediate = {
        t: rule["name"]
        for rule in rules
        if rule["kind"] == "immediate"
        for t in rule["match"]["types"]
    }
    assert {str(t): name for t, name in IMMEDIATE_RULES.items()} == immediate


def test_each_alarm_expects_its_rule_for_its_device_once() -> None:
    """Two intrusions of one guard are one key; a held door is another; a plain door none."""
    records = [
        rec("room-01", "guard-01", Kind.SHOP_GUARD, EventType.ALARM_INTRUSION, 0),
        rec("room-01", "guard-01", Kind.SHOP_GUARD, EventType.ALARM_INTRUSION, 400),
        rec("room-01", "door-01", Kind.DOOR_LOCK, EventType.DOOR_HELD_OPEN, 10),
        rec("room-01", "door-02", Kind.DOOR_LOCK, EventType.DOOR_OPENED, 10),
    ]
    expected = expected_alerts(records, [], now=T0 + timedelta(minutes=10))
    assert expected.required == {
        AlertKey("intrusion", "room-01", "guard-01"),
        AlertKey("door-held-open", "room-01", "door-01"),
    }


def test_three_alarms_in_five_minutes_make_a_storm_and_spread_ones_do_not() -> None:
    """Three alarms within 300 s at one site expect alarm-storm; 301 s apart, none."""
    close = [
        rec("room-01", f"c-{i}", Kind.CONTACT, EventType.ALARM_TAMPER, i * 100) for i in range(3)
    ]
    spread = [
        rec("room-02", f"c-{i}", Kind.CONTACT, EventType.ALARM_TAMPER, i * 150.5) for i in range(3)
    ]
    expected = expected_alerts(close + spread, [], now=T0 + timedelta(hours=1))
    assert AlertKey("alarm-storm", "room-01", None) in expected.required
    assert AlertKey("alarm-storm", "room-02", None) not in expected.required | expected.allowed


def test_a_forced_door_with_motion_on_its_camera_is_confirmed_only_with_links() -> None:
    """Forced door + linked camera motion within 60 s expects confirmed-intrusion, with links."""
    records = [
        rec("room-01", "door-01", Kind.DOOR_LOCK, EventType.DOOR_FORCED, 0),
        rec("room-01", "cam-01", Kind.CAMERA, EventType.MOTION_STARTED, 15),
        rec("room-01", "door-02", Kind.DOOR_LOCK, EventType.DOOR_FORCED, 0),
        rec("room-01", "cam-02", Kind.CAMERA, EventType.MOTION_STARTED, 90),
    ]
    links = {"room-01": {"door-01": "cam-01", "door-02": "cam-02"}}
    now = T0 + timedelta(minutes=5)
    linked = expected_alerts(records, [], now=now, links=links)
    assert AlertKey("confirmed-intrusion", "room-01", "door-01") in linked.required
    assert AlertKey("confirmed-intrusion", "room-01", "door-02") not in linked.required
    unlinked = expected_alerts(records, [], now=now)
    assert not any(k.rule == "confirmed-intrusion" for k in unlinked.required | unlinked.allowed)


def test_mains_lost_ten_minutes_is_expected_only_when_it_lasted() -> None:
    """ac-lost for every loss; ac-lost-10min only for the panel restored after 11 minutes."""
    records = [
        rec("room-01", "panel-01", Kind.PANEL, EventType.POWER_AC_LOST, 0),
        rec("room-01", "panel-01", Kind.PANEL, EventType.POWER_AC_RESTORED, 120),
        rec("room-01", "panel-02", Kind.PANEL, EventType.POWER_AC_LOST, 0),
        rec("room-01", "panel-02", Kind.PANEL, EventType.POWER_AC_RESTORED, 660),
    ]
    expected = expected_alerts(records, [], now=T0 + timedelta(minutes=20))
    assert AlertKey("ac-lost-10min", "room-01", "panel-02") in expected.required
    assert (
        AlertKey("ac-lost-10min", "room-01", "panel-01") not in expected.required | expected.allowed
    )
    assert AlertKey("ac-lost", "room-01", "panel-01") in expected.required


def test_outages_expect_site_blind_and_canary_by_their_length() -> None:
    """Outages of 40 s need site-blind, 10 s nothing, 28 s allow it, 400 s need canary too."""

    def outage(site: str, seconds: float) -> Outage:
        return Outage(site, T0, T0 + timedelta(seconds=seconds))

    outages = [outage("a1", 40), outage("a2", 10), outage("a3", 28), outage("a4", 400)]
    expected = expected_alerts([], outages, now=T0 + timedelta(hours=1))
    assert expected.required == {
        AlertKey("site-blind", "a1", None),
        AlertKey("site-blind", "a4", None),
        AlertKey("canary", "a4", "canary"),
    }
    assert AlertKey("site-blind", "a3", None) in expected.allowed
    assert not any(k.site == "a2" for k in expected.required | expected.allowed)


def test_declared_keys_are_required_whatever_the_model_says() -> None:
    """A scenario's declared alert is required even with no event behind it."""
    key = AlertKey("panic", "room-09", "panic-01")
    assert key in expected_alerts([], [], now=T0, declared=[key]).required
