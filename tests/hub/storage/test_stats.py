"""Event counts per bucket on plain PostgreSQL (date_bin), checked against direct counts."""

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from hub.storage import BUCKETS, Bucket, EventCount, event_counts, has_aggregates
from tests.hub.storage.support import direct, migrated, spread, store

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 22, 58, 30, tzinfo=UTC)


async def counts(url: str, bucket: Bucket, **filters: Any) -> list[EventCount]:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        return await event_counts(conn, bucket=bucket, **filters)


@pytest.fixture
async def stored(database: str) -> str:
    """A migrated database holding 600 events."""
    await migrated(database)
    await store(database, spread(600, T0))
    return database


@pytest.mark.parametrize("bucket", ["1m", "1h", "1d"])
async def test_counts_equal_a_direct_count(stored: str, bucket: Bucket) -> None:
    """Without aggregates, every bucket width gives exactly the direct per-bucket counts."""
    async with await psycopg.AsyncConnection.connect(stored) as conn:
        assert not await has_aggregates(conn)
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=3)
    result = await counts(stored, bucket, start=start, end=end)
    assert result == await direct(stored, bucket)
    assert sum(c.count for c in result) == 600


async def test_filters_and_scope(stored: str) -> None:
    """The site scope, and the site, kind and type filters, narrow like a WHERE clause."""
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=3)
    scoped = await counts(stored, "1h", start=start, end=end, sites={"room-07", "room-09"})
    assert scoped == await direct(stored, "1h", "site = ANY(%s)", [["room-07", "room-09"]])
    narrowed = await counts(stored, "1h", start=start, end=end, sites={"room-07"}, kind="door_lock")
    assert narrowed == await direct(stored, "1h", "site = 'room-07' AND kind = 'door_lock'")
    typed = await counts(stored, "1d", start=start, end=end, site="room-08", type_="door.opened")
    assert typed == await direct(stored, "1d", "site = 'room-08'")
    assert await counts(stored, "1h", start=start, end=end, sites=set()) == []


async def test_a_bucket_counts_whole_when_its_start_is_in_range(stored: str) -> None:
    """Buckets whose start lies in [start, end) are counted whole; the others not at all."""
    start = T0 + timedelta(hours=3, minutes=20)  # inside a bucket: it starts before `start`
    end = T0 + timedelta(hours=20)
    result = await counts(stored, "1h", start=start, end=end)
    first, last = _hour_after(start), _hour_after(end)
    assert result == [c for c in await direct(stored, "1h") if first <= c.bucket_start < last]
    assert {c.bucket_start for c in result} >= {first, last - BUCKETS["1h"]}


def _hour_after(instant: datetime) -> datetime:
    floor = instant.replace(minute=0, second=0, microsecond=0)
    return floor if floor == instant else floor + timedelta(hours=1)
