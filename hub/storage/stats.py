"""Event counts per time bucket, site, kind and type.

With TimescaleDB (migration 0004) the counts come from the continuous aggregates
`events_per_minute` and `events_per_hour`. Without it, hours and days come from
`event_counts_hourly`, which triggers on `events` keep exact (migration 0006), and
minutes are computed from `events` with `date_bin`. A day is the sum of its hours. All
paths give the same rows: buckets are aligned to UTC (midnight for days), and a bucket is
counted whole when its start lies in `[start, end)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal

from psycopg import sql

if TYPE_CHECKING:
    from collections.abc import Set as AbstractSet

    from psycopg import AsyncConnection

__all__ = ["BUCKETS", "Bucket", "EventCount", "event_counts", "has_aggregates"]

Bucket = Literal["1m", "1h", "1d"]

BUCKETS: Final[MappingProxyType[Bucket, timedelta]] = MappingProxyType(
    {"1m": timedelta(minutes=1), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
)
"""Each bucket name and its width."""

# time_bucket aligns minutes, hours and days to UTC midnight; so does date_bin from here.
_ORIGIN: Final = datetime(2000, 1, 1, tzinfo=UTC)

# The continuous aggregate each bucket is read from (a day sums 24 hours of one).
_AGGREGATES: Final[MappingProxyType[Bucket, str]] = MappingProxyType(
    {"1m": "events_per_minute", "1h": "events_per_hour", "1d": "events_per_hour"}
)
# Without TimescaleDB: the table of hourly counts, for the buckets it can answer.
_ROLLUPS: Final[MappingProxyType[Bucket, str]] = MappingProxyType(
    {"1h": "event_counts_hourly", "1d": "event_counts_hourly"}
)


@dataclass(frozen=True, slots=True)
class EventCount:
    """How many events of one site, kind and type happened in one bucket."""

    bucket_start: datetime
    site: str
    kind: str
    type: str
    count: int


def _ceil(instant: datetime, width: timedelta) -> datetime:
    """The first bucket start at or after `instant`."""
    steps = -((_ORIGIN - instant) // width)
    return _ORIGIN + steps * width


async def has_aggregates(conn: AsyncConnection[Any]) -> bool:
    """Whether the database has the continuous aggregates of migration 0004."""
    cursor = await conn.execute(
        "SELECT to_regclass('events_per_minute') IS NOT NULL"
        " AND to_regclass('events_per_hour') IS NOT NULL"
    )
    row = await cursor.fetchone()
    return bool(row and row[0])


def _filters(
    time_column: str,
    *,
    sites: AbstractSet[str] | None,
    site: str | None,
    kind: str | None,
    type_: str | None,
) -> tuple[sql.Composed, list[object]]:
    """The WHERE clause (time range first) and its parameters, bar the range's two."""
    column = sql.Identifier(time_column)
    clauses: list[sql.Composable] = [sql.SQL("{} >= %s AND {} < %s").format(column, column)]
    params: list[object] = []
    if sites is not None:
        clauses.append(sql.SQL("site = ANY(%s::text[])"))
        params.append(sorted(sites))
    for name, value in (("site", site), ("kind", kind), ("type", type_)):
        if value is not None:
            clauses.append(sql.SQL("{} = %s").format(sql.Identifier(name)))
            params.append(value)
    return sql.SQL(" AND ").join(clauses), params


_WORK_MEM: Final = sql.SQL("SET LOCAL work_mem = '64MB'")


async def event_counts(
    conn: AsyncConnection[Any],
    *,
    bucket: Bucket,
    start: datetime,
    end: datetime,
    sites: AbstractSet[str] | None = None,
    site: str | None = None,
    kind: str | None = None,
    type_: str | None = None,
) -> list[EventCount]:
    """Counts per bucket, site, kind and type, ordered by bucket then site, kind, type.

    `sites` is the caller's scope (None: every site); `site`, `kind` and `type_` narrow
    further. Only non-zero counts come back. `start` and `end` must be timezone-aware.
    """
    width = BUCKETS[bucket]
    low, high = _ceil(start, width), _ceil(end, width)
    table = _AGGREGATES[bucket] if await has_aggregates(conn) else _ROLLUPS.get(bucket)
    where, params = _filters(
        "at" if table is None else "bucket", sites=sites, site=site, kind=kind, type_=type_
    )
    if table is None:
        query = sql.SQL(
            "SELECT date_bin(%s, at, %s) AS b, site, kind, type, count(*) "
            "FROM events WHERE {} GROUP BY b, site, kind, type ORDER BY b, site, kind, type"
        ).format(where)
    else:
        source = sql.SQL("SELECT bucket, site, kind, type, count FROM {} WHERE {}").format(
            sql.Identifier(table), where
        )
        query = sql.SQL(
            "SELECT date_bin(%s, bucket, %s) AS b, site, kind, type, sum(count)::bigint "
            "FROM ({}) AS a GROUP BY b, site, kind, type ORDER BY b, site, kind, type"
        ).format(source)
    async with conn.transaction():
        # Minute counts from `events` may group ~100,000s of rows: sort them in memory
        # (PostgreSQL's default 4 MB spills them to disk, ~+100 ms at district scale).
        await conn.execute(_WORK_MEM)
        cursor = await conn.execute(query, [width, _ORIGIN, low, high, *params])
        rows = await cursor.fetchall()
    return [EventCount(*row) for row in rows]
