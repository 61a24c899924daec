"""Escalation on a controllable clock: unacknowledged past the deadline, one step up,
notified again, recorded; acknowledging stops it."""

import psycopg
import pytest

from hub.storage.lifecycle import acknowledge
from tests.hub.rules.support import T0, alerts, clock, ev, ingest, migrated, minutes, rules
from tests.hub.support import rows

pytestmark = pytest.mark.integration

RULES = rules("""rules:
  - name: forced
    kind: immediate
    match: {types: [door.forced]}
    severity: medium
    escalate_after_s: 120
""")


async def test_unacknowledged_alerts_climb_one_step_per_deadline(database: str) -> None:
    """Medium at T0, high at T0+2 min, critical at T0+4 min, critical again at T0+6 min."""
    await migrated(database)
    await ingest(database, RULES, [ev("door.forced", at=T0)], now=T0)
    assert await clock(database, RULES, now=T0 + minutes(1.9)) == 0
    severities = []
    for step in (2, 4, 6):
        assert await clock(database, RULES, now=T0 + minutes(step)) == 1
        severities.append((await alerts(database))[0].severity)
    assert severities == ["high", "critical", "critical"]
    audit = await rows(
        database, "SELECT transition, severity, actor, note FROM alert_audit ORDER BY id"
    )
    assert [(t, s) for t, s, _, _ in audit] == [
        ("opened", "medium"),
        ("escalated", "high"),
        ("escalated", "critical"),
        ("escalated", "critical"),
    ]
    assert audit[1][2] == "rule:forced"
    assert "escalation 1" in audit[1][3]
    outbox = await rows(database, "SELECT transition FROM alert_outbox ORDER BY id")
    assert [t for (t,) in outbox] == ["opened", "escalated", "escalated", "escalated"]


async def test_acknowledging_stops_escalation(database: str) -> None:
    """An alert acknowledged before its deadline is never escalated."""
    await migrated(database)
    await ingest(database, RULES, [ev("door.forced", at=T0)], now=T0)
    [(alert_id,)] = await rows(database, "SELECT alert_id FROM alerts")
    async with await psycopg.AsyncConnection.connect(database) as conn, conn.cursor() as cur:
        acked = await acknowledge(cur, alert_id, actor="token:abc", note="on my way", sites=None)
        await conn.commit()
    assert acked is not None
    assert acked.state == "acknowledged"
    assert await clock(database, RULES, now=T0 + minutes(10)) == 0
    assert (await alerts(database))[0].severity == "medium"
