"""Duration rules: held for N seconds by the events' `at`, kept in PostgreSQL across rounds."""

import pytest

from tests.hub.rules.support import T0, alerts, clock, ev, ingest, migrated, minutes, rules
from tests.hub.support import rows

pytestmark = pytest.mark.integration

RULES = rules("""rules:
  - name: ac-lost-10min
    kind: duration
    start: {types: [power.ac_lost]}
    stop: {types: [power.ac_restored]}
    for_s: 600
    severity: medium
""")


async def test_a_condition_that_holds_opens_the_alert_once(database: str) -> None:
    """AC lost at T0: nothing at T0+9 min, the alert at T0+10 min, nothing more after."""
    await migrated(database)
    await ingest(database, RULES, [ev("power.ac_lost", at=T0, device="p1")], now=T0)
    assert await clock(database, RULES, now=T0 + minutes(9)) == 0
    assert await alerts(database) == []
    assert await clock(database, RULES, now=T0 + minutes(10)) == 1
    (alert,) = await alerts(database)
    assert (alert.rule, alert.device, alert.state) == ("ac-lost-10min", "p1", "open")
    assert await clock(database, RULES, now=T0 + minutes(20)) == 0
    assert await rows(database, "SELECT * FROM rule_state") == []


async def test_a_stop_in_time_disarms_it(database: str) -> None:
    """AC back after 5 minutes: no alert, ever."""
    await migrated(database)
    await ingest(database, RULES, [ev("power.ac_lost", at=T0, device="p1")], now=T0)
    back = ev("power.ac_restored", at=T0 + minutes(5), device="p1")
    await ingest(database, RULES, [back], now=T0 + minutes(5))
    assert await clock(database, RULES, now=T0 + minutes(30)) == 0
    assert await alerts(database) == []


async def test_a_late_stop_that_happened_after_the_duration_still_alerts(database: str) -> None:
    """The stop (at T0+12 min) arrives before any round ran: it held, so open then resolve."""
    await migrated(database)
    await ingest(database, RULES, [ev("power.ac_lost", at=T0, device="p1")], now=T0)
    late = ev("power.ac_restored", at=T0 + minutes(12), device="p1")
    assert await ingest(database, RULES, [late], now=T0 + minutes(13)) == 2
    (alert,) = await alerts(database)
    assert alert.state == "resolved"


async def test_a_stop_older_than_the_start_does_not_disarm(database: str) -> None:
    """A restore from before the loss (arriving late) leaves the condition armed."""
    await migrated(database)
    await ingest(database, RULES, [ev("power.ac_lost", at=T0, device="p1")], now=T0)
    older = ev("power.ac_restored", at=T0 - minutes(1), device="p1")
    await ingest(database, RULES, [older], now=T0 + minutes(1))
    assert await clock(database, RULES, now=T0 + minutes(10)) == 1


async def test_repeated_starts_keep_the_earliest(database: str) -> None:
    """A second loss report later does not push the deadline back."""
    await migrated(database)
    await ingest(database, RULES, [ev("power.ac_lost", at=T0, device="p1")], now=T0)
    again = ev("power.ac_lost", at=T0 + minutes(5), device="p1")
    await ingest(database, RULES, [again], now=T0 + minutes(5))
    assert await clock(database, RULES, now=T0 + minutes(10)) == 1
