"""Absence rules: a blind site (and the inhibition it brings), a silent canary, a device
that never reported."""

from datetime import datetime

import pytest

from tests.hub.rules.support import (
    T0,
    alerts,
    clock,
    ev,
    ingest,
    migrated,
    minutes,
    rules,
    transitions,
)
from tests.hub.support import rows

pytestmark = pytest.mark.integration

RULES = rules("""rules:
  - name: site-blind
    kind: absence
    of: agent
    grace_s: 90
    offline_grace_s: 30
    inhibits_devices: true
    severity: high
  - name: canary
    kind: absence
    of: canary
    grace_s: 300
    severity: high
  - name: never-reported
    kind: absence
    of: never_reported
    grace_s: 3600
    severity: low
  - name: device-offline
    kind: immediate
    match: {types: [device.offline]}
    resolve_on: [device.online]
    severity: medium
""")


async def status(url: str, site: str, state: str, at: datetime) -> None:
    """The site's agent said `state` at `at` (as the hub records statuses and LWTs)."""
    await rows(
        url,
        "INSERT INTO sites (site, state, last_status_at) VALUES (%s, %s, %s) "
        "ON CONFLICT (site) DO UPDATE SET state = EXCLUDED.state, "
        "last_status_at = EXCLUDED.last_status_at RETURNING 1",
        [site, state, at],
    )


async def test_an_offline_agent_makes_the_site_blind_after_its_grace(database: str) -> None:
    """LWT at T0: nothing at T0+20 s, `site-blind` (device NULL) at T0+30 s, once."""
    await migrated(database)
    await status(database, "room-07", "offline", T0)
    await status(database, "room-08", "online", T0)
    assert await clock(database, RULES, now=T0 + minutes(1 / 3)) == 0
    assert await clock(database, RULES, now=T0 + minutes(0.5)) == 1
    assert await clock(database, RULES, now=T0 + minutes(0.75)) == 0
    (alert,) = await alerts(database)
    assert (alert.rule, alert.site, alert.device, alert.state) == (
        "site-blind",
        "room-07",
        None,
        "open",
    )


async def test_a_silent_agent_is_blind_and_resolves_when_back(database: str) -> None:
    """No status for 90 s (while `online`): blind; a fresh status resolves the alert."""
    await migrated(database)
    await status(database, "room-07", "online", T0)
    assert await clock(database, RULES, now=T0 + minutes(1.4)) == 0
    assert await clock(database, RULES, now=T0 + minutes(1.5)) == 1
    await status(database, "room-07", "online", T0 + minutes(2))
    assert await clock(database, RULES, now=T0 + minutes(2)) == 1
    assert [a.state for a in await alerts(database)] == ["resolved"]


async def test_a_blind_site_inhibits_its_device_alerts(database: str) -> None:
    """While room-07 is blind, its device.offline alerts are stored, audited, not notified;
    room-08's are notified as usual."""
    await migrated(database)
    await status(database, "room-07", "offline", T0)
    await clock(database, RULES, now=T0 + minutes(1))
    offline = [
        ev("device.offline", at=T0 + minutes(1), device="lock-1", site="room-07"),
        ev("device.offline", at=T0 + minutes(1), device="lock-1", site="room-08"),
    ]
    await ingest(database, RULES, offline, now=T0 + minutes(1))
    by_site = {a.site: a for a in await alerts(database) if a.rule == "device-offline"}
    assert by_site["room-07"].muted
    assert not by_site["room-08"].muted
    notified = [(r, d, n) for r, d, t, n in await transitions(database) if t == "opened"]
    assert notified == [
        ("site-blind", None, True),
        ("device-offline", "lock-1", False),  # room-07, inhibited
        ("device-offline", "lock-1", True),  # room-08
    ]
    outbox = await rows(database, "SELECT site, transition FROM alert_outbox ORDER BY id")
    assert ("room-07", "opened") in outbox
    assert outbox.count(("room-07", "opened")) == 1  # the site-blind alert only


async def test_a_silent_canary_means_the_path_is_broken(database: str) -> None:
    """The canary's last test.periodic is 5 minutes old: alert; a new one resolves it."""
    await migrated(database)
    canary = ev("test.periodic", at=T0, device="canary", kind="panel")
    await ingest(database, RULES, [canary], now=T0)
    assert await clock(database, RULES, now=T0 + minutes(4)) == 0
    assert await clock(database, RULES, now=T0 + minutes(5)) == 1
    (alert,) = await alerts(database)
    assert (alert.rule, alert.device) == ("canary", "canary")
    again = ev("test.periodic", at=T0 + minutes(6), device="canary", kind="panel")
    await ingest(database, RULES, [again], now=T0 + minutes(6))
    assert await clock(database, RULES, now=T0 + minutes(6)) == 1
    assert [a.state for a in await alerts(database)] == ["resolved"]


async def test_an_inventoried_device_that_never_reports(database: str) -> None:
    """Inventoried an hour ago and silent since: one low alert; its first event resolves it."""
    await migrated(database)
    await rows(
        database,
        "INSERT INTO devices (site, device, kind, inventoried, inventoried_at) VALUES "
        "('room-07', 'lock-9', 'door_lock', true, %s), "
        "('room-07', 'lock-8', 'door_lock', true, %s) RETURNING 1",
        [T0, T0 + minutes(30)],
    )
    assert await clock(database, RULES, now=T0 + minutes(60)) == 1
    assert [(a.rule, a.device) for a in await alerts(database)] == [("never-reported", "lock-9")]
    await ingest(database, RULES, [ev("door.opened", at=T0 + minutes(61), device="lock-9")], now=T0)
    assert await clock(database, RULES, now=T0 + minutes(62)) == 1
    assert [a.state for a in await alerts(database)] == ["resolved"]


RELAY = rules("""rules:
  - name: relay-stalled
    kind: absence
    of: relay
    grace_s: 60
    severity: high
""")


async def test_a_stalled_relay_is_itself_an_alert(database: str) -> None:
    """A transition undelivered for 60 s opens `relay-stalled` for its site; once
    delivered, the alert resolves."""
    await migrated(database)
    await ingest(database, RULES, [ev("device.offline", at=T0, device="lock-1")], now=T0)
    [(written,)] = await rows(database, "SELECT created_at FROM alert_outbox")
    assert await clock(database, RELAY, now=written + minutes(0.9)) == 0
    assert await clock(database, RELAY, now=written + minutes(1)) == 1
    stalled = [a for a in await alerts(database) if a.rule == "relay-stalled"]
    assert [(a.site, a.device, a.state) for a in stalled] == [("room-07", None, "open")]
    await rows(database, "UPDATE alert_outbox SET delivered_at = now() RETURNING 1")
    assert await clock(database, RELAY, now=written + minutes(2)) == 1
    assert [a.state for a in await alerts(database) if a.rule == "relay-stalled"] == ["resolved"]
