"""Count rules: N matches at one site within the window open one site-wide alert."""

import pytest

from tests.hub.rules.support import T0, alerts, ev, ingest, migrated, minutes, rules

pytestmark = pytest.mark.integration

RULES = rules("""rules:
  - name: alarm-storm
    kind: count
    match: {types: ["alarm.*"]}
    count: 3
    within_s: 300
    severity: critical
""")


async def test_the_third_alarm_in_five_minutes_opens_it(database: str) -> None:
    """Two alarms: nothing; a third within 5 minutes (another batch): one site alert."""
    await migrated(database)
    first = [ev("alarm.intrusion", at=T0, device="a"), ev("alarm.tamper", at=T0 + minutes(1))]
    assert await ingest(database, RULES, first, now=T0) == 0
    assert await ingest(database, RULES, [ev("alarm.panic", at=T0 + minutes(4))], now=T0) == 1
    (alert,) = await alerts(database)
    assert (alert.rule, alert.device, alert.count) == ("alarm-storm", None, 3)
    await ingest(database, RULES, [ev("alarm.fire", at=T0 + minutes(4.5))], now=T0)
    (alert,) = await alerts(database)
    assert (alert.count, alert.revision) == (4, 2)


async def test_alarms_spread_wider_than_the_window_do_not(database: str) -> None:
    """Three alarms over 10 minutes, or three at different sites: nothing."""
    await migrated(database)
    spread = [ev("alarm.intrusion", at=T0 + minutes(5 * i)) for i in range(3)]
    sites = [ev("alarm.intrusion", at=T0, site=f"room-0{i}") for i in range(1, 4)]
    await ingest(database, RULES, spread + sites, now=T0)
    assert await alerts(database) == []
