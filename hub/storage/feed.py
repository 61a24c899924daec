"""The alert outbox read as a feed by live readers (the SSE stream), resumable and
gap-free.

Outbox ids come from a sequence, so they are allocated in one order and committed in
another: a reader that remembered only "the last id I passed" would skip a row whose
transaction committed after a row with a larger id was read. So a reader walks the
rows in `(xact, id)` order (`xact`: the writing transaction's id, migration 0008) and
only takes rows whose transaction is older than every transaction still running
(`xact < pg_snapshot_xmin(pg_current_snapshot())`). Every transaction older than that
horizon has ended, so its rows are all visible to the read, and every row written
later has an `xact` at or above the horizon, hence after the reader's position: no row
is skipped, none is passed twice. A reader whose position is `(X, I)` has seen exactly
the rows (of its sites) at or before `(X, I)`.

Ids stay what clients see (the SSE `id:`); `position_after` turns one back into a
position.

Cost: without an index on `(xact, id)` a read scans the outbox; see docs/alerting.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["FeedPosition", "FeedRow", "current_position", "position_after", "read_feed"]


@dataclass(frozen=True, slots=True)
class FeedPosition:
    """A reader's place: it has passed every row at or before `(xact, id)`."""

    xact: int
    id: int


@dataclass(frozen=True, slots=True)
class FeedRow:
    """One outbox row: its id, its place, its site and the transition's JSON."""

    id: int
    position: FeedPosition
    site: str
    payload: bytes


async def _text(conn: AsyncConnection[Any], query: str, params: list[Any]) -> str:
    cursor = await conn.execute(query, params)
    row = await cursor.fetchone()
    if row is None or row[0] is None:
        message = f"{query!r} returned no value"
        raise RuntimeError(message)
    return str(row[0])


async def current_position(conn: AsyncConnection[Any]) -> FeedPosition:
    """The place of a reader that starts now: before every row of the transactions
    still running or yet to come, after those of every ended one (a few committed just
    now, behind a running transaction, may come again)."""
    return FeedPosition(
        xact=int(await _text(conn, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text", [])),
        id=0,
    )


async def position_after(conn: AsyncConnection[Any], row_id: int) -> FeedPosition:
    """The place of a reader that has passed the row `row_id`. If there is no such row
    (deleted, or not from this database), a place before every row with a larger id:
    nothing after it is lost, some rows may come again."""
    cursor = await conn.execute("SELECT xact::text FROM alert_outbox WHERE id = %s", [row_id])
    row = await cursor.fetchone()
    if row is not None:
        return FeedPosition(xact=int(row[0]), id=row_id)
    lowest = await _text(
        conn,
        "SELECT COALESCE(min(xact), pg_snapshot_xmin(pg_current_snapshot()))::text "
        "FROM alert_outbox WHERE id > %s",
        [row_id],
    )
    return FeedPosition(xact=int(lowest), id=0)


# The horizon: transactions below it have all ended (see the module docstring).
_READ: Final = """
SELECT id, xact::text, site, payload FROM alert_outbox
WHERE xact < pg_snapshot_xmin(pg_current_snapshot())
  AND (xact, id) > (%(xact)s::text::xid8, %(id)s)
  AND (%(sites)s::text[] IS NULL OR site = ANY(%(sites)s::text[]))
ORDER BY xact, id
LIMIT %(limit)s
"""


async def read_feed(
    conn: AsyncConnection[Any], after: FeedPosition, sites: list[str] | None, limit: int
) -> list[FeedRow]:
    """Up to `limit` rows of `sites` (None: all) past `after`, in feed order, of ended
    transactions only."""
    cursor = await conn.execute(
        _READ, {"xact": str(after.xact), "id": after.id, "sites": sites, "limit": limit}
    )
    return [
        FeedRow(
            id=ident,
            position=FeedPosition(xact=int(xact), id=ident),
            site=site,
            payload=bytes(payload),
        )
        for ident, xact, site, payload in await cursor.fetchall()
    ]
