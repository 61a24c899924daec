"""Keeping events for `storage.retention_days`, with or without TimescaleDB.

With TimescaleDB, `apply_policies` makes the compression and retention policies of
migration 0004 match the configuration at start (TimescaleDB's jobs then do the work).
Without it, `Retention` (task `retention`) deletes expired events every hour in bounded
batches, under an advisory lock so that one hub at a time does it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import psycopg

from hub._loop import BackgroundLoop

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from hub.config import StorageConfig
    from hub.leases import Leases

__all__ = [
    "DELETE_BATCH",
    "RETENTION_LOCK",
    "Retention",
    "apply_policies",
    "delete_expired",
    "is_hypertable",
]

logger = logging.getLogger(__name__)

RETENTION_LOCK: Final = 0x5368_6F75_7265_746E
"""The advisory lock key of event retention: the migration lock's key plus one."""

DELETE_BATCH: Final = 10_000
"""Most events one DELETE removes: short transactions, short locks, bounded WAL bursts."""

_INTERVAL_S: Final = 3600.0

_IS_HYPERTABLE: Final = """
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
   AND to_regclass('timescaledb_information.hypertables') IS NOT NULL
"""

_EVENTS_HYPERTABLE: Final = """
SELECT EXISTS (
    SELECT 1 FROM timescaledb_information.hypertables
    WHERE hypertable_schema = current_schema() AND hypertable_name = 'events'
)
"""

_POLICY_AFTER: Final = """
SELECT (config ->> %s)::interval FROM timescaledb_information.jobs
WHERE proc_name = %s AND hypertable_schema = current_schema() AND hypertable_name = 'events'
"""

# Per policy: its job's procedure, the config key holding its interval, how to remove it
# and how to add it again with a number of days.
_COMPRESSION: Final = (
    "policy_compression",
    "compress_after",
    "SELECT remove_compression_policy('events', if_exists => true)",
    "SELECT add_compression_policy('events', make_interval(days => %s))",
)
_RETENTION: Final = (
    "policy_retention",
    "drop_after",
    "SELECT remove_retention_policy('events', if_exists => true)",
    "SELECT add_retention_policy('events', make_interval(days => %s))",
)

_DELETE_EXPIRED: Final = """
DELETE FROM events WHERE (id, at) IN (
    SELECT id, at FROM events WHERE at < %s ORDER BY at LIMIT %s
)
"""


async def is_hypertable(conn: AsyncConnection[Any]) -> bool:
    """Whether `events` is a TimescaleDB hypertable in this database."""
    cursor = await conn.execute(_IS_HYPERTABLE)
    row = await cursor.fetchone()
    if not (row and row[0]):
        return False
    cursor = await conn.execute(_EVENTS_HYPERTABLE)
    row = await cursor.fetchone()
    return bool(row and row[0])


async def apply_policies(conn: AsyncConnection[Any], config: StorageConfig) -> bool:
    """Make the TimescaleDB policies match `config`; whether `events` is a hypertable.

    Without TimescaleDB, does nothing and returns False. Runs in one transaction under
    `RETENTION_LOCK`, so hubs starting together do not interleave their changes.
    """
    async with conn.transaction():
        if not await is_hypertable(conn):
            return False
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", [RETENTION_LOCK])
        wanted = ((_COMPRESSION, config.compress_after_days), (_RETENTION, config.retention_days))
        for (proc, key, remove, add), days in wanted:
            cursor = await conn.execute(_POLICY_AFTER, [key, proc])
            row = await cursor.fetchone()
            if row is not None and row[0] == timedelta(days=days):
                continue
            await conn.execute(remove)
            await conn.execute(add, [days])
            logger.info("TimescaleDB %s set to %d days", proc, days)
    return True


async def delete_expired(
    conn: AsyncConnection[Any], *, before: datetime, batch: int = DELETE_BATCH
) -> int | None:
    """Delete events with `at` before `before`, `batch` per transaction; how many.

    None if another hub holds `RETENTION_LOCK` (it is deleting them). Each batch is a
    transaction of its own: `conn` must not be inside one.
    """
    deleted = 0
    while True:
        async with conn.transaction():
            cursor = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", [RETENTION_LOCK])
            row = await cursor.fetchone()
            if not (row and row[0]):
                return None
            cursor = await conn.execute(_DELETE_EXPIRED, [before, batch])
            count = cursor.rowcount
        deleted += count
        if count < batch:
            return deleted


class Retention(BackgroundLoop):
    """Deletes events older than `retention_days`, hourly (task `retention`).

    Only for plain PostgreSQL: with TimescaleDB its retention policy drops whole chunks.
    A database error is logged and the next round tries again; nothing is lost by waiting.
    """

    task_name = "retention"

    def __init__(
        self,
        *,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        config: StorageConfig,
        tasks: asyncio.TaskGroup,
        interval_s: float = _INTERVAL_S,
        leases: Leases | None = None,
    ) -> None:
        super().__init__(tasks)
        self._pool = pool
        self._config = config
        self._interval_s = interval_s
        self._leases = leases

    async def run_once(self) -> int | None:
        """One round: the events deleted, or None if another hub holds the lock."""
        before = datetime.now(UTC) - timedelta(days=self._config.retention_days)
        if self._leases is not None and not await self._leases.claim("retention"):
            return None  # another hub leads retention
        async with self._pool.connection() as conn:
            deleted = await delete_expired(conn, before=before)
        if self._leases is not None:
            self._leases.record("retention", held=deleted is not None)
        if deleted:
            logger.info("deleted %d events older than %s", deleted, before.isoformat())
        return deleted

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except psycopg.Error as exc:
                logger.warning("expired events not deleted, will retry: %s", exc)
            await asyncio.sleep(self._interval_s)
