"""Camera snapshots: one JPEG per event, stored with it, read by the API, kept for a while.

`insert_snapshots` writes a batch inside ingest's transaction (the first copy of an
event's snapshot wins); `read_snapshot` returns one within the caller's site scope;
`SnapshotRetention` (task `snapshot-retention`) deletes those older than
`storage.snapshot_retention_days`, hourly, in bounded batches, under
`SNAPSHOT_RETENTION_LOCK` so that one hub at a time does it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import psycopg

from hub._loop import BackgroundLoop

if TYPE_CHECKING:
    import uuid
    from collections.abc import Collection, Sequence

    from psycopg import AsyncConnection, AsyncCursor
    from psycopg_pool import AsyncConnectionPool

    from hub.inbound import Snapshot
    from hub.leases import Leases

__all__ = [
    "DELETE_BATCH",
    "SNAPSHOT_RETENTION_LOCK",
    "SnapshotRetention",
    "delete_expired_snapshots",
    "insert_snapshots",
    "read_snapshot",
]

logger = logging.getLogger(__name__)

DELETE_BATCH: Final = 1_000
"""Most snapshots one DELETE removes (up to 256 MiB of rows): short transactions."""
_INTERVAL_S: Final = 3600.0

SNAPSHOT_RETENTION_LOCK: Final = 0x5368_6F75_736E_6170
"""Advisory lock of a snapshot retention round: one hub at a time deletes."""

_INSERT: Final = """
INSERT INTO snapshots (event_id, site, kind, device, jpeg)
SELECT * FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::bytea[])
ON CONFLICT (event_id) DO NOTHING
"""

_READ: Final = """
SELECT jpeg FROM snapshots WHERE event_id = %s AND (%s::text[] IS NULL OR site = ANY(%s))
"""

_DELETE_EXPIRED: Final = """
DELETE FROM snapshots WHERE event_id IN (
    SELECT event_id FROM snapshots WHERE received_at < %s ORDER BY received_at LIMIT %s
)
"""


async def insert_snapshots(cur: AsyncCursor[Any], snapshots: Sequence[Snapshot]) -> None:
    """Store a batch of snapshots; an event's snapshot already stored is left as it is."""
    if not snapshots:
        return
    unique = {s.event_id: s for s in reversed(snapshots)}  # the first copy of each wins
    rows = sorted(unique.values(), key=lambda s: s.event_id)
    await cur.execute(
        _INSERT,
        [
            [s.event_id for s in rows],
            [s.site for s in rows],
            [s.kind for s in rows],
            [s.device for s in rows],
            [s.jpeg for s in rows],
        ],
    )


async def read_snapshot(
    conn: AsyncConnection[Any], event_id: uuid.UUID, sites: Collection[str] | None
) -> bytes | None:
    """The JPEG of `event_id`, if stored and of one of `sites` (None: every site)."""
    scope = None if sites is None else list(sites)
    cursor = await conn.execute(_READ, [event_id, scope, scope])
    row = await cursor.fetchone()
    return None if row is None else bytes(row[0])


async def delete_expired_snapshots(
    conn: AsyncConnection[Any], *, before: datetime, batch: int = DELETE_BATCH
) -> int | None:
    """Delete snapshots received before `before`, `batch` per transaction; how many.

    None if another hub holds `SNAPSHOT_RETENTION_LOCK` (it is deleting them).
    """
    deleted = 0
    while True:
        async with conn.transaction():
            lock = "SELECT pg_try_advisory_xact_lock(%s)"
            row = await (await conn.execute(lock, [SNAPSHOT_RETENTION_LOCK])).fetchone()
            if not (row and row[0]):
                return None
            cursor = await conn.execute(_DELETE_EXPIRED, [before, batch])
            count = cursor.rowcount
        deleted += count
        if count < batch:
            return deleted


class SnapshotRetention(BackgroundLoop):
    """Deletes snapshots older than `retention_days`, hourly (task `snapshot-retention`)."""

    task_name = "snapshot-retention"

    def __init__(
        self,
        *,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        retention_days: int,
        tasks: asyncio.TaskGroup,
        leases: Leases | None = None,
    ) -> None:
        super().__init__(tasks)
        self._pool = pool
        self._keep = timedelta(days=retention_days)
        self._leases = leases

    async def _run(self) -> None:
        while True:
            try:
                deleted = None
                if self._leases is None or await self._leases.claim("snapshot-retention"):
                    async with self._pool.connection() as conn:
                        before = datetime.now(UTC) - self._keep
                        deleted = await delete_expired_snapshots(conn, before=before)
                if self._leases is not None:
                    self._leases.record("snapshot-retention", held=deleted is not None)
                if deleted:
                    logger.info("snapshot retention: deleted %d snapshots", deleted)
            except (psycopg.Error, OSError) as exc:
                # The database is down: the next hour tries again; nothing is lost by waiting.
                logger.warning("snapshot retention: %s", exc)
            await asyncio.sleep(_INTERVAL_S)
