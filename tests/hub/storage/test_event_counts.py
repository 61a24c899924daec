"""The hourly counts table on plain PostgreSQL (0006): exact under resends, deletes, backfill."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from hub.storage import EventCount, delete_expired, event_counts, known_migrations
from tests.hub.storage.support import direct, migrated, spread, store
from tests.hub.support import rows

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 22, 58, 30, tzinfo=UTC)
START, END = T0 - timedelta(days=1), T0 + timedelta(days=3)


async def hourly(url: str) -> list[EventCount]:
    """The 1h counts `event_counts` gives over every stored event."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return await event_counts(conn, bucket="1h", start=START, end=END)


async def table(url: str) -> list[tuple[object, ...]]:
    """The raw rows of event_counts_hourly, in key order."""
    return await rows(url, "SELECT * FROM event_counts_hourly ORDER BY site, bucket, kind, type")


async def test_counts_are_kept_by_inserts(database: str) -> None:
    """Events written in several batches are counted per hour exactly as a direct count."""
    await migrated(database)
    events = spread(900, T0)
    for first in range(0, 900, 250):
        await store(database, events[first : first + 250])
    assert await hourly(database) == await direct(database, "1h")
    assert sum(int(str(row[-1])) for row in await table(database)) == 900


async def test_resent_events_are_not_counted_twice(database: str) -> None:
    """Events the database already holds (ON CONFLICT DO NOTHING) add nothing to the counts."""
    await migrated(database)
    events = spread(300, T0)
    await store(database, events)
    before = await table(database)
    assert await store(database, [*events[:150], *events[:150]]) == []
    assert await table(database) == before


async def test_deleted_events_leave_the_counts(database: str) -> None:
    """Retention's deletes lower the counts; an hour left empty has no row at all."""
    await migrated(database)
    await store(database, spread(600, T0))
    cutoff = T0 + timedelta(hours=20, minutes=30)  # inside an hour: that hour keeps a part
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        assert await delete_expired(conn, before=cutoff, batch=97)
    assert await hourly(database) == await direct(database, "1h")
    [(earliest,)] = await rows(database, "SELECT min(bucket) FROM event_counts_hourly")
    assert earliest == cutoff.replace(minute=0, second=0)


async def test_the_migration_counts_events_stored_before_it(database: str) -> None:
    """Migration 0006 counts the events an older schema already held (data-preserving)."""
    older = [m for m in known_migrations() if m.version < 6]
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in older:
            await conn.execute(migration.sql.encode("utf-8"))
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                [migration.version, migration.name, migration.checksum],
            )
        events = spread(400, T0)
        await conn.execute(
            "INSERT INTO events (id, at, site, device, kind, type, lane, epoch, seq, source, "
            "data) SELECT * FROM unnest(%s::uuid[], %s::timestamptz[], %s::text[], %s::text[], "
            "%s::text[], %s::text[], %s::smallint[], %s::uuid[], %s::bigint[], %s::jsonb[], "
            "%s::jsonb[])",
            [
                [e.id for e in events],
                [e.at for e in events],
                [e.site for e in events],
                [e.device for e in events],
                [e.kind.value for e in events],
                [e.type.value for e in events],
                [int(e.lane) for e in events],
                [e.epoch for e in events],
                [e.seq for e in events],
                ["{}" for _ in events],
                ["{}" for _ in events],
            ],
        )
    await migrated(database)
    assert await hourly(database) == await direct(database, "1h")
    await store(database, spread(50, T0 + timedelta(days=1)))
    assert await hourly(database) == await direct(database, "1h")
