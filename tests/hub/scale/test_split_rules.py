"""One device's events split between two hubs, in concurrent transactions: one alert.

Each "hub" is a connection that stores its events and runs its rules in one transaction,
as ingest does; the second starts while the first has not committed. Without a lock
neither would see the other's rows, so a correlation would be missed, a duration armed
after its stop, an alarm left open after its restore. The second must wait (on the
device's row, or on the rule's (rule, key) advisory lock for events of other devices)
and then decide by `at` from what the first committed. Both orders are checked: the
stop, restore or motion stored first is the late-arrival case.
"""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest

from hub.rules import run_rules
from hub.storage import write_inbound
from tests.hub.rules.support import T0, alerts, clock, ev, migrated, minutes, rules
from tests.hub.support import rows
from wire import Event

pytestmark = pytest.mark.integration

RULES = rules("""rules:
  - name: ac-lost-10min
    kind: duration
    start: {types: [power.ac_lost]}
    stop: {types: [power.ac_restored]}
    for_s: 600
    severity: medium
  - name: confirmed-intrusion
    kind: correlation
    first: {types: [door.forced]}
    then: {types: [motion.started], kinds: [camera]}
    within_s: 60
    linked: true
    severity: critical
  - name: intrusion
    kind: immediate
    match: {types: [alarm.intrusion]}
    resolve_on: [alarm.restore]
    severity: high
links:
  - {site: room-07, device: door-3, to: [cam-1]}
""")

WAIT_S = 0.3
"""How long the second hub's rules are given to (wrongly) finish before the first commits."""


@asynccontextmanager
async def _hub(url: str, events: Sequence[Event]) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A hub's ingest transaction: `events` stored and their rules run, not committed."""
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.cursor() as cur:
        new = await write_inbound(cur, events)
        assert [e.id for e in new] == [e.id for e in events]
        await run_rules(cur, new, RULES, now=T0)
        yield conn


async def _second(url: str, events: Sequence[Event]) -> None:
    async with _hub(url, events) as conn:
        await conn.commit()


async def split(url: str, first: Sequence[Event], second: Sequence[Event]) -> None:
    """One hub stores `first` and runs its rules; before it commits, another stores
    `second` and runs its rules, which must wait for the first hub's COMMIT (on the
    device's row or on the rule's advisory lock) and then see what it wrote."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("INSERT INTO sites (site) VALUES ('room-07') ON CONFLICT DO NOTHING")
    async with _hub(url, first) as conn:
        waiting = asyncio.create_task(_second(url, second))
        done, _ = await asyncio.wait([waiting], timeout=WAIT_S)
        assert not done, "the second hub's transaction did not wait for the first's commit"
        await conn.commit()
    await waiting


def ac(type_: str, at_min: float) -> Event:
    return ev(type_, at=T0 + minutes(at_min), device="psu-1", kind="panel")


@pytest.mark.parametrize("start_first", [True, False])
async def test_duration_held_across_hubs_alerts_once(database: str, start_first: bool) -> None:
    """AC lost on one hub, restored 12 min later on another: one alert, then resolved."""
    await migrated(database)
    start, stop = [ac("power.ac_lost", 0)], [ac("power.ac_restored", 12)]
    await (split(database, start, stop) if start_first else split(database, stop, start))
    await clock(database, RULES, now=T0 + minutes(30))
    found = [(a.rule, a.device, a.state) for a in await alerts(database)]
    assert found == [("ac-lost-10min", "psu-1", "resolved")]
    assert await rows(database, "SELECT * FROM rule_state") == []


@pytest.mark.parametrize("start_first", [True, False])
async def test_duration_ended_in_time_across_hubs_never_alerts(
    database: str, start_first: bool
) -> None:
    """AC lost on one hub, back after 5 min on another: no alert, nothing left armed."""
    await migrated(database)
    start, stop = [ac("power.ac_lost", 0)], [ac("power.ac_restored", 5)]
    await (split(database, start, stop) if start_first else split(database, stop, start))
    await clock(database, RULES, now=T0 + minutes(30))
    assert await alerts(database) == []
    assert await rows(database, "SELECT * FROM rule_state") == []


@pytest.mark.parametrize("forced_first", [True, False])
async def test_correlation_split_between_hubs_alerts_once(
    database: str, forced_first: bool
) -> None:
    """Door forced on one hub, its camera's motion 30 s later on another: one alert."""
    await migrated(database)
    forced = [ev("door.forced", at=T0, device="door-3")]
    motion = [ev("motion.started", at=T0 + minutes(0.5), device="cam-1", kind="camera")]
    await (split(database, forced, motion) if forced_first else split(database, motion, forced))
    found = [(a.rule, a.device, a.count) for a in await alerts(database)]
    assert found == [("confirmed-intrusion", "door-3", 2)]


@pytest.mark.parametrize("alarm_first", [True, False])
async def test_alarm_and_restore_split_between_hubs_end_resolved(
    database: str, alarm_first: bool
) -> None:
    """An intrusion on one hub, its restore a minute later on another: one alert, resolved."""
    await migrated(database)
    alarm = [ev("alarm.intrusion", at=T0, device="zone-4", kind="panel")]
    restore = [ev("alarm.restore", at=T0 + minutes(1), device="zone-4", kind="panel")]
    await (split(database, alarm, restore) if alarm_first else split(database, restore, alarm))
    found = [(a.rule, a.device, a.state) for a in await alerts(database)]
    assert found == [("intrusion", "zone-4", "resolved")]


async def test_a_restore_older_than_a_late_alarm_leaves_it_open(database: str) -> None:
    """A restore from before the alarm, stored first, does not resolve the late alarm."""
    await migrated(database)
    restore = [ev("alarm.restore", at=T0, device="zone-4", kind="panel")]
    alarm = [ev("alarm.intrusion", at=T0 + minutes(1), device="zone-4", kind="panel")]
    await split(database, restore, alarm)
    found = [(a.rule, a.device, a.state) for a in await alerts(database)]
    assert found == [("intrusion", "zone-4", "open")]
