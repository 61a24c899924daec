"""Retention on plain PostgreSQL: expired events deleted in batches, one hub at a time."""

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from hub.config import StorageConfig, parse_config
from hub.errors import ConfigError
from hub.storage import RETENTION_LOCK, Retention, apply_policies, delete_expired
from tests.hub.storage.support import make_event, migrated, store
from tests.hub.support import eventually, rows

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


async def _stored(url: str, ages_days: list[float]) -> None:
    await migrated(url)
    events = [make_event(seq=n, at=NOW - timedelta(days=age)) for n, age in enumerate(ages_days, 1)]
    await store(url, events)


async def test_deletes_only_expired_events_in_batches(database: str) -> None:
    """Events before the cutoff go, batch by batch; younger ones stay."""
    await _stored(database, [200, 190, 181, 181, 181, 179, 10, 0])
    async with await psycopg.AsyncConnection.connect(database) as conn:
        deleted = await delete_expired(conn, before=NOW - timedelta(days=180), batch=2)
    assert deleted == 5
    assert await rows(database, "SELECT seq FROM events ORDER BY seq") == [(6,), (7,), (8,)]


async def test_another_hub_holding_the_lock_skips_the_round(database: str) -> None:
    """While another session holds the retention lock, nothing is deleted (None)."""
    await _stored(database, [200])
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as other:
        await other.execute("SELECT pg_advisory_lock(%s)", [RETENTION_LOCK])
        async with await psycopg.AsyncConnection.connect(database) as conn:
            assert await delete_expired(conn, before=NOW) is None
    assert await rows(database, "SELECT count(*) FROM events") == [(1,)]


async def test_retention_loop_deletes_by_configured_days(database: str) -> None:
    """The `retention` task deletes events older than `retention_days` when it runs."""
    await _stored(database, [40, 31, 29])
    config = StorageConfig(retention_days=30, compress_after_days=7)
    async with (
        AsyncConnectionPool(database, min_size=1, max_size=2, open=False) as pool,
        asyncio.TaskGroup() as tasks,
    ):
        async with pool.connection() as conn:
            assert await apply_policies(conn, config) is False  # plain PostgreSQL
        async with Retention(pool=pool, config=config, tasks=tasks, interval_s=0.05):
            await eventually(
                lambda: rows(database, "SELECT seq FROM events"),
                until=lambda found: found == [(3,)],
                what="expired events deleted",
            )


def test_compression_after_retention_is_refused() -> None:
    """Compressing after events are deleted is a configuration mistake, named as such."""
    with pytest.raises(ConfigError, match="compress_after_days 200 is above retention_days 180"):
        parse_config(
            "storage: {compress_after_days: 200}\n",
            environ={"SHOUWANG_DATABASE_URL": "postgresql://x@localhost/x"},
        )
    assert StorageConfig() == StorageConfig(retention_days=180, compress_after_days=7)
