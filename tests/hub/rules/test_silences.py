"""Silences in the rules engine: an alert opened under a silence is stored, not notified."""

import psycopg
import pytest

from hub.storage.silences import NewSilence, create_silence
from tests.hub.rules.support import T0, alerts, ev, ingest, migrated, minutes, rules, transitions
from tests.hub.support import rows

pytestmark = pytest.mark.integration

RULES = rules("""rules:
  - name: door-forced
    kind: immediate
    match: {types: [door.forced]}
    severity: high
""")


async def silence(url: str, **fields: str | None) -> None:
    """A silence over [T0 - 1 min, T0 + 1 h) matching `fields` (site, device, rule)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await create_silence(
            conn,
            NewSilence(
                site=fields.get("site"),
                device=fields.get("device"),
                rule=fields.get("rule"),
                starts_at=T0 - minutes(1),
                ends_at=T0 + minutes(60),
                reason="maintenance of the east doors",
                created_by="token:test",
            ),
        )


async def test_a_silenced_alert_is_stored_and_audited_but_not_notified(database: str) -> None:
    """Under a silence of (room-07, door-3): its alert is muted, the other door's is not."""
    await migrated(database)
    await silence(database, site="room-07", device="door-3")
    batch = [ev("door.forced", at=T0, device="door-3"), ev("door.forced", at=T0, device="door-4")]
    await ingest(database, RULES, batch, now=T0)
    muted = {a.device: a.muted for a in await alerts(database)}
    assert muted == {"door-3": True, "door-4": False}
    assert await transitions(database) == [
        ("door-forced", "door-3", "opened", False),
        ("door-forced", "door-4", "opened", True),
    ]
    [(silenced,)] = await rows(database, "SELECT count(*) FROM alerts WHERE silence_id IS NOT NULL")
    assert silenced == 1
    outbox = await rows(database, "SELECT count(*) FROM alert_outbox")
    assert outbox == [(1,)]


async def test_a_silence_that_has_ended_mutes_nothing(database: str) -> None:
    """The same silence judged two hours later (it ended): the alert is notified."""
    await migrated(database)
    await silence(database, rule="door-forced")
    later = T0 + minutes(120)
    await ingest(database, RULES, [ev("door.forced", at=later, device="door-3")], now=later)
    assert [a.muted for a in await alerts(database)] == [False]
