"""The events write path: COPY into a staging table, then insert-on-conflict."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from hub.storage import write_inbound
from tests.hub.storage.support import make_event, migrated, store
from tests.hub.support import rows

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_new_events_stored_and_returned_in_order(database: str) -> None:
    """Every new event is stored with its fields and comes back in batch order."""
    await migrated(database)
    batch = [make_event(seq=n, at=T0 + timedelta(seconds=n)) for n in range(1, 6)]
    assert await store(database, batch) == batch
    stored = await rows(database, "SELECT id, seq, site, kind, type, lane, data FROM events")
    assert sorted(stored, key=lambda r: r[1]) == [
        (e.id, e.seq, e.site, e.kind.value, e.type.value, int(e.lane), e.data) for e in batch
    ]


async def test_duplicates_are_not_new(database: str) -> None:
    """A resent event, or the same event twice in one batch, is stored once, new once."""
    await migrated(database)
    first, second = (make_event(seq=n, at=T0) for n in (1, 2))
    assert await store(database, [first, first]) == [first]
    assert await store(database, [first, second]) == [second]
    assert await rows(database, "SELECT count(*) FROM events") == [(2,)]


async def test_several_batches_in_one_transaction(database: str) -> None:
    """The staging table is empty again after each batch, within one transaction too."""
    await migrated(database)
    first, second = (make_event(seq=n, at=T0) for n in (1, 2))
    async with await psycopg.AsyncConnection.connect(database) as conn, conn.cursor() as cur:
        assert await write_inbound(cur, [first]) == [first]
        assert await write_inbound(cur, [second]) == [second]
        await cur.execute("SELECT count(*) FROM events_staging")
        assert await cur.fetchone() == (0,)
        await conn.commit()
    assert await rows(database, "SELECT count(*) FROM events") == [(2,)]


async def test_refused_row_rolls_back_to_the_savepoint(database: str) -> None:
    """A row jsonb refuses (`\\u0000`) raises a DataError; the transaction goes on."""
    await migrated(database)
    bad = make_event(seq=1, at=T0, data={"zone_name": "bad\u0000name"})
    good = make_event(seq=2, at=T0)
    async with await psycopg.AsyncConnection.connect(database) as conn, conn.cursor() as cur:
        with pytest.raises(psycopg.DataError):
            async with conn.transaction():
                await write_inbound(cur, [good, bad])
        assert await write_inbound(cur, [good]) == [good]
        await conn.commit()
    assert await rows(database, "SELECT seq FROM events") == [(2,)]


async def test_devices_follow_only_new_events(database: str) -> None:
    """Devices and sites are updated in the same transaction, from new events only."""
    await migrated(database)
    old = make_event(seq=1, at=T0)
    await store(database, [old])
    # A replay of the old event after a newer one must not move last_seen back.
    newer = make_event(seq=2, at=T0 + timedelta(minutes=5))
    await store(database, [newer, old])
    devices = await rows(database, "SELECT site, last_seen, last_event_id FROM devices")
    assert devices == [(old.site, T0 + timedelta(minutes=5), newer.id)]
    assert await rows(database, "SELECT site FROM sites") == [(old.site,)]
