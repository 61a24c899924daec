"""Grouping: a district power cut is one incident, notified once then updated, not 200."""

import pytest

from tests.hub.rules.support import T0, alerts, clock, ev, ingest, migrated, minutes, rules
from tests.hub.support import rows
from wire import Event, Incident, decode_alert

pytestmark = pytest.mark.integration

RULES = rules("""rules:
  - name: ac-lost
    kind: immediate
    match: {types: [power.ac_lost]}
    severity: low
    group: {window_s: 60, min_alerts: 5}
""")


def cut(site: int, second: float) -> Event:
    return ev(
        "power.ac_lost", at=T0 + minutes(second / 60), site=f"site-{site:03d}", device="panel"
    )


async def notifications(url: str) -> list[tuple[str, str, Incident | None]]:
    """(site, transition, incident) of every queued notification, in order."""
    found = await rows(url, "SELECT payload FROM alert_outbox ORDER BY id")
    decoded = [decode_alert(bytes(p)) for (p,) in found]
    return [(a.site, a.transition.value, a.incident) for a in decoded]


async def test_a_power_cut_across_200_sites_is_one_incident(database: str) -> None:
    """200 sites in 20 s, in 4 batches: 4 alerts notified alone, then one incident notified
    by the clock (count 200), not 196 more notifications."""
    await migrated(database)
    for batch in range(4):
        sites = range(batch * 50, (batch + 1) * 50)
        await ingest(database, RULES, [cut(i, i / 10) for i in sites], now=T0)
    assert len(await alerts(database)) == 200
    before = await notifications(database)
    assert [t for _, t, _ in before] == ["opened"] * 4
    assert await clock(database, RULES, now=T0 + minutes(1)) == 1
    *_, (site, transition, incident) = await notifications(database)
    assert (site, transition) == ("site-000", "updated")
    assert incident is not None
    assert incident.count == 200
    assert len(incident.sites) == 100  # listed up to the cap
    grouped = await rows(database, "SELECT count(*) FROM alerts WHERE incident_id IS NOT NULL")
    assert grouped == [(200,)]
    audit = await rows(database, "SELECT count(*) FROM alert_audit WHERE NOT notified")
    assert audit == [(196,)]  # stored and audited, not notified


async def test_incident_updates_are_throttled(database: str) -> None:
    """More sites join: the next update waits until 10 s after the last, then carries all."""
    await migrated(database)
    await ingest(database, RULES, [cut(i, i) for i in range(6)], now=T0)
    assert await clock(database, RULES, now=T0 + minutes(0.1)) == 1
    await ingest(database, RULES, [cut(i, 10 + i) for i in range(6, 9)], now=T0)
    assert await clock(database, RULES, now=T0 + minutes(0.15)) == 0  # 3 s after
    assert await clock(database, RULES, now=T0 + minutes(0.3)) == 1
    *_, (_, _, incident) = await notifications(database)
    assert incident is not None
    assert incident.count == 9


async def test_few_alerts_are_not_grouped(database: str) -> None:
    """Four sites (under min_alerts) are four ordinary alerts, each notified."""
    await migrated(database)
    await ingest(database, RULES, [cut(i, i) for i in range(4)], now=T0)
    assert await clock(database, RULES, now=T0 + minutes(1)) == 0
    assert [t for _, t, _ in await notifications(database)] == ["opened"] * 4
