"""Immediate rules: open, repeat (coalesced per batch), resolve on restore, schedules."""

import pytest

from tests.hub.rules.support import T0, alerts, ev, ingest, migrated, minutes, rules, transitions

pytestmark = pytest.mark.integration

RULES = rules("""rules:
  - name: intrusion
    kind: immediate
    match: {types: [alarm.intrusion]}
    resolve_on: [alarm.restore]
    severity: high
  - name: night-motion
    kind: immediate
    match: {types: [motion.started], kinds: [shop_guard]}
    schedule: {timezone: Asia/Shanghai, windows: [{start: "22:00", end: "06:00"}]}
    severity: medium
""")


async def test_a_match_opens_one_alert_per_device(database: str) -> None:
    """Two devices' intrusions open two alerts; each transition is audited and notified."""
    await migrated(database)
    batch = [ev("alarm.intrusion", at=T0, device="d1"), ev("alarm.intrusion", at=T0, device="d2")]
    assert await ingest(database, RULES, batch, now=T0) == 2
    found = await alerts(database)
    assert [(a.rule, a.device, a.state, a.severity) for a in found] == [
        ("intrusion", "d1", "open", "high"),
        ("intrusion", "d2", "open", "high"),
    ]
    assert await transitions(database) == [
        ("intrusion", "d1", "opened", True),
        ("intrusion", "d2", "opened", True),
    ]


async def test_a_storm_in_one_batch_is_one_repeat(database: str) -> None:
    """300 intrusions of one device in a batch: one alert, count 300, one transition."""
    await migrated(database)
    storm = [ev("alarm.intrusion", at=T0 + minutes(i / 100), device="d1") for i in range(300)]
    assert await ingest(database, RULES, storm, now=T0) == 1
    (alert,) = await alerts(database)
    assert (alert.count, alert.revision) == (300, 1)
    assert await ingest(database, RULES, storm[:10], now=T0) == 0  # resent: not new
    more = [ev("alarm.intrusion", at=T0 + minutes(5), device="d1") for _ in range(3)]
    assert await ingest(database, RULES, more, now=T0) == 1
    (alert,) = await alerts(database)
    assert (alert.count, alert.revision) == (303, 2)


async def test_a_restore_resolves_unless_older_than_the_alarm(database: str) -> None:
    """`resolve_on` resolves the device's alert; a restore from before the alarm does not."""
    await migrated(database)
    await ingest(database, RULES, [ev("alarm.intrusion", at=T0, device="d1")], now=T0)
    stale = ev("alarm.restore", at=T0 - minutes(1), device="d1")
    assert await ingest(database, RULES, [stale], now=T0) == 0
    assert (await alerts(database))[0].state == "open"
    fresh = ev("alarm.restore", at=T0 + minutes(1), device="d1")
    assert await ingest(database, RULES, [fresh], now=T0) == 1
    assert (await alerts(database))[0].state == "resolved"
    assert (await transitions(database))[-1] == ("intrusion", "d1", "resolved", True)


async def test_alarm_then_restore_in_one_batch_keeps_their_order(database: str) -> None:
    """Alarm, restore, alarm in one batch: the first alert resolved, a second one open."""
    await migrated(database)
    batch = [
        ev("alarm.intrusion", at=T0, device="d1"),
        ev("alarm.restore", at=T0 + minutes(1), device="d1"),
        ev("alarm.intrusion", at=T0 + minutes(2), device="d1"),
    ]
    assert await ingest(database, RULES, batch, now=T0) == 3
    assert [a.state for a in await alerts(database)] == ["resolved", "open"]


async def test_a_schedule_limits_when_the_rule_applies(database: str) -> None:
    """Motion at 22:30 Shanghai time raises; at 15:00 Shanghai time it does not."""
    await migrated(database)
    night = ev("motion.started", at=T0 + minutes(30), device="guard")  # 22:30 in Shanghai
    day = ev("motion.started", at=T0 - minutes(7 * 60), device="guard2")  # 15:00 there
    assert await ingest(database, RULES, [night, day], now=T0) == 1
    assert [a.device for a in await alerts(database)] == ["guard"]
