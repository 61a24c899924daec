"""The alert lifecycle in storage: transitions with their audit and outbox rows, atomically,
and which silence covers an alert."""

import uuid
from datetime import timedelta

import psycopg
import pytest

from hub.storage.lifecycle import AlertStateError, acknowledge, resolve
from hub.storage.silences import NewSilence, active_silence, create_silence
from tests.hub.api.alert_support import AT, migrated, open_alert
from tests.hub.support import rows

pytestmark = pytest.mark.integration


async def _trail(url: str, alert_id: uuid.UUID) -> list[tuple[object, ...]]:
    return await rows(
        url,
        "SELECT a.revision, a.transition, a.actor, a.note, o.revision IS NOT NULL "
        "FROM alert_audit a LEFT JOIN alert_outbox o USING (alert_id, revision) "
        "WHERE a.alert_id = %s ORDER BY a.revision",
        [alert_id],
    )


async def test_ack_then_resolve_write_audit_and_outbox_with_revision_plus_one(
    database: str,
) -> None:
    """Each step adds one revision, one audit row and one outbox row, with actor and note."""
    alert_id = await open_alert(await migrated(database))
    async with await psycopg.AsyncConnection.connect(database) as conn, conn.cursor() as cur:
        acked = await acknowledge(cur, alert_id, actor="token:a", note="on it", sites=None)
        resolved = await resolve(cur, alert_id, actor="token:b", note="false alarm", sites=None)
        await conn.commit()
    assert acked is not None
    assert resolved is not None
    assert (acked.state, acked.revision) == ("acknowledged", 2)
    assert (resolved.state, resolved.revision) == ("resolved", 3)
    assert await _trail(database, alert_id) == [
        (1, "opened", "rule:panic", None, True),
        (2, "acknowledged", "token:a", "on it", True),
        (3, "resolved", "token:b", "false alarm", True),
    ]
    stamped = await rows(
        database, "SELECT acked_by, resolved_by FROM alerts WHERE alert_id = %s", [alert_id]
    )
    assert stamped == [("token:a", "token:b")]


async def test_a_rolled_back_step_leaves_no_audit_and_no_outbox_row(database: str) -> None:
    """A transition whose transaction rolls back leaves the alert, audit and outbox as before."""
    alert_id = await open_alert(await migrated(database))
    async with await psycopg.AsyncConnection.connect(database) as conn, conn.cursor() as cur:
        assert await acknowledge(cur, alert_id, actor="token:a", note=None, sites=None)
        await conn.rollback()
    assert await _trail(database, alert_id) == [(1, "opened", "rule:panic", None, True)]
    assert await rows(database, "SELECT state, revision FROM alerts") == [("open", 1)]


async def test_steps_that_do_not_apply_raise_alert_state_error(database: str) -> None:
    """Acknowledging twice, or resolving twice, is an AlertStateError naming the state."""
    alert_id = await open_alert(await migrated(database))
    async with await psycopg.AsyncConnection.connect(database) as conn, conn.cursor() as cur:
        await acknowledge(cur, alert_id, actor="token:a", note=None, sites=None)
        with pytest.raises(AlertStateError, match="is acknowledged"):
            await acknowledge(cur, alert_id, actor="token:a", note=None, sites=None)
        await resolve(cur, alert_id, actor="token:a", note="done", sites=None)
        with pytest.raises(AlertStateError, match="is resolved"):
            await resolve(cur, alert_id, actor="token:a", note="again", sites=None)
        with pytest.raises(AlertStateError, match="is resolved"):
            await acknowledge(cur, alert_id, actor="token:a", note=None, sites=None)


async def test_steps_outside_the_sites_find_no_alert(database: str) -> None:
    """An alert of another site is None for acknowledge and resolve, and stays untouched."""
    alert_id = await open_alert(await migrated(database), site="room-02")
    async with await psycopg.AsyncConnection.connect(database) as conn, conn.cursor() as cur:
        assert await acknowledge(cur, alert_id, actor="t", note=None, sites=["room-01"]) is None
        assert await resolve(cur, alert_id, actor="t", note="n", sites=["room-01"]) is None
        await conn.commit()
    assert await rows(database, "SELECT state, revision FROM alerts") == [("open", 1)]


@pytest.mark.parametrize(
    "statement", ["UPDATE alert_audit SET note = 'x'", "DELETE FROM alert_audit"]
)
async def test_audit_rows_refuse_update_and_delete(database: str, statement: str) -> None:
    """The audit trail is append-only: UPDATE and DELETE raise, the row stays."""
    await open_alert(await migrated(database))
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        await rows(database, statement + " RETURNING 1")
    assert await rows(database, "SELECT count(*), max(note) FROM alert_audit") == [(1, None)]


# (site, device, rule) of a silence, and whether it covers a `panic` alert of
# room-01/panic-1 (the alert of the row "device None" is site-wide: room-01, no device).
_MATCHING = [
    ((None, None, None), True),
    (("room-01", None, None), True),
    (("room-02", None, None), False),
    (("room-01", "panic-1", None), True),
    (("room-01", "panic-2", None), False),
    (("room-01", None, "panic"), True),
    (("room-01", "panic-1", "panic"), True),
    (("room-01", "panic-1", "fire"), False),
    ((None, None, "fire"), False),
]


async def test_a_silence_covers_an_alert_when_each_of_its_fields_matches(database: str) -> None:
    """Each non-NULL site/device/rule of a silence must equal the alert's for it to cover."""
    async with await psycopg.AsyncConnection.connect(await migrated(database)) as conn:
        for (site, device, rule), covers in _MATCHING:
            async with conn.cursor() as cur:
                made = await create_silence(
                    conn,
                    NewSilence(
                        site=site,
                        device=device,
                        rule=rule,
                        starts_at=AT,
                        ends_at=AT + timedelta(hours=1),
                        reason="maintenance",
                        created_by="token:a",
                    ),
                )
                at = AT + timedelta(minutes=5)
                found = await active_silence(
                    cur, rule="panic", site="room-01", device="panic-1", at=at
                )
            assert found == (made.silence_id if covers else None), (site, device, rule)
            await conn.rollback()  # the next row is tried alone


async def test_active_silence_honours_the_interval_and_prefers_the_oldest(database: str) -> None:
    """A silence covers [starts_at, ends_at); of several, the oldest-created one is named;
    one naming a device never covers a site-wide alert."""
    async with (
        await psycopg.AsyncConnection.connect(await migrated(database), autocommit=True) as conn,
        conn.cursor() as cur,
    ):

        async def silence(device: str | None) -> uuid.UUID:
            made = await create_silence(
                conn,
                NewSilence(
                    site="room-01",
                    device=device,
                    rule=None,
                    starts_at=AT,
                    ends_at=AT + timedelta(hours=1),
                    reason="works",
                    created_by="token:a",
                ),
            )
            return made.silence_id

        device_wide = await silence("panic-1")
        site_wide = await silence(None)

        async def covering(at_minutes: float, device: str | None = "panic-1") -> uuid.UUID | None:
            at = AT + timedelta(minutes=at_minutes)
            return await active_silence(cur, rule="panic", site="room-01", device=device, at=at)

        assert await covering(-0.001) is None
        assert await covering(0) == device_wide
        assert await covering(59.99) == device_wide
        assert await covering(60) is None
        assert await covering(10, device=None) == site_wide
