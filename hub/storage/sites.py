"""Reads for the API: sites with their device counts, and devices a page at a time.

As in `queries`, `scope` (the sites a caller may see, None: all) is a condition of each
query. Devices are listed by `(site, device)`, their key, with keyset pagination.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from psycopg import sql
from psycopg.rows import class_row

if TYPE_CHECKING:
    import uuid
    from datetime import datetime

    from psycopg import AsyncConnection

__all__ = [
    "DeviceFilter",
    "DeviceKey",
    "DeviceRecord",
    "SiteRecord",
    "get_device",
    "get_site",
    "list_devices",
    "list_sites",
]


@dataclass(frozen=True, slots=True)
class SiteRecord:
    """One monitoring room: its agent's last status and how many devices it has."""

    site: str
    state: str | None
    status: dict[str, Any] | None
    last_status_at: datetime | None
    inventory_at: datetime | None
    inventory_count: int | None
    first_seen: datetime
    devices: int
    online: int
    offline: int


@dataclass(frozen=True, slots=True)
class DeviceKey:
    """A device's key, and where a page of devices ended."""

    site: str
    device: str


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    """Which devices to list; `stale_since`: not heard from since then (or never)."""

    scope: list[str] | None = None
    site: str | None = None
    kind: str | None = None
    state: Literal["online", "offline"] | None = None
    stale_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One device as the hub knows it."""

    site: str
    device: str
    kind: str
    label: str | None
    checkin_s: int | None
    inventoried: bool
    first_seen: datetime | None
    last_seen: datetime | None
    last_event_id: uuid.UUID | None
    last_type: str | None
    last_state: dict[str, Any] | None
    state_at: datetime | None
    online: bool | None
    online_at: datetime | None


_SITES: Final = sql.SQL("""
SELECT s.site, s.state, s.status, s.last_status_at, s.inventory_at, s.inventory_count,
       s.first_seen,
       count(d.device)::int AS devices,
       count(d.device) FILTER (WHERE d.online)::int AS online,
       count(d.device) FILTER (WHERE NOT d.online)::int AS offline
FROM sites s LEFT JOIN devices d ON d.site = s.site
{where}
GROUP BY s.site
ORDER BY s.site
""")

_DEVICE_COLUMNS: Final = sql.SQL(
    "site, device, kind, label, checkin_s, inventoried, first_seen, last_seen, "
    "last_event_id, last_type, last_state, state_at, online, online_at"
)


def _in_scope(column: str, scope: list[str] | None) -> list[sql.Composable]:
    if scope is None:
        return []
    return [sql.SQL("{} = ANY({}::text[])").format(sql.SQL(column), scope)]


def _where(conditions: list[sql.Composable]) -> sql.Composable:
    if not conditions:
        return sql.SQL("")
    return sql.SQL("WHERE ") + sql.SQL(" AND ").join(conditions)


async def list_sites(conn: AsyncConnection[Any], scope: list[str] | None) -> list[SiteRecord]:
    """Every site within `scope`, by id (a city has ~1,000: one answer, no pages)."""
    query = _SITES.format(where=_where(_in_scope("s.site", scope)))
    async with conn.cursor(row_factory=class_row(SiteRecord)) as cur:
        await cur.execute(query)
        return await cur.fetchall()


async def get_site(
    conn: AsyncConnection[Any], site: str, scope: list[str] | None
) -> SiteRecord | None:
    """The site `site` if it exists within `scope`."""
    conditions = [sql.SQL("s.site = {}").format(site), *_in_scope("s.site", scope)]
    async with conn.cursor(row_factory=class_row(SiteRecord)) as cur:
        await cur.execute(_SITES.format(where=_where(conditions)))
        return await cur.fetchone()


async def list_devices(
    conn: AsyncConnection[Any], where: DeviceFilter, after: DeviceKey | None, limit: int
) -> list[DeviceRecord]:
    """Up to `limit` devices matching `where`, by (site, device), after `after` if given."""
    conditions = _in_scope("site", where.scope)
    if where.site is not None:
        conditions.append(sql.SQL("site = {}").format(where.site))
    if where.kind is not None:
        conditions.append(sql.SQL("kind = {}").format(where.kind))
    match where.state:
        case "online":
            conditions.append(sql.SQL("online"))
        case "offline":
            conditions.append(sql.SQL("NOT online"))
        case None:
            pass
    if where.stale_since is not None:
        conditions.append(
            sql.SQL("(last_seen IS NULL OR last_seen < {})").format(where.stale_since)
        )
    if after is not None:
        conditions.append(sql.SQL("(site, device) > ({}, {})").format(after.site, after.device))
    query = sql.SQL("SELECT {cols} FROM devices {where} ORDER BY site, device LIMIT {n}").format(
        cols=_DEVICE_COLUMNS, where=_where(conditions), n=sql.Literal(limit)
    )
    async with conn.cursor(row_factory=class_row(DeviceRecord)) as cur:
        await cur.execute(query)
        return await cur.fetchall()


async def get_device(
    conn: AsyncConnection[Any], key: DeviceKey, scope: list[str] | None
) -> DeviceRecord | None:
    """The device `key` if it exists within `scope`."""
    conditions = [
        sql.SQL("site = {} AND device = {}").format(key.site, key.device),
        *_in_scope("site", scope),
    ]
    query = sql.SQL("SELECT {cols} FROM devices {where}").format(
        cols=_DEVICE_COLUMNS, where=_where(conditions)
    )
    async with conn.cursor(row_factory=class_row(DeviceRecord)) as cur:
        await cur.execute(query)
        return await cur.fetchone()
