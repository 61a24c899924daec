"""Reads for the API: events and alerts, newest first, with keyset pagination.

Every filter has `scope`: the sites a caller may see (None: all). It is a condition of
the query itself, so no listing, page or export can hold a row outside it.

A page ends where the next one starts: the position of its last row, `(at, id)` for
events and `(created_at, alert_id)` for alerts (both immutable), and the next page takes
the rows strictly after it in the same order. Rows written meanwhile never shift a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from psycopg import sql
from psycopg.rows import class_row

if TYPE_CHECKING:
    import uuid
    from datetime import datetime

    from psycopg import AsyncConnection

__all__ = [
    "AlertFilter",
    "AlertRecord",
    "EventFilter",
    "EventRecord",
    "Position",
    "database_answers",
    "get_alert_record",
    "get_event",
    "list_alerts",
    "list_events",
]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the ordering time and id of its last row."""

    at: datetime
    id: uuid.UUID


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to list; `since` is inclusive, `until` exclusive."""

    scope: list[str] | None = None
    site: str | None = None
    device: str | None = None
    kind: str | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One stored event."""

    id: uuid.UUID
    at: datetime
    received_at: datetime
    site: str
    device: str
    kind: str
    type: str
    lane: int
    epoch: uuid.UUID
    seq: int
    source: dict[str, Any]
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts to list; `since` is inclusive, `until` exclusive (both on
    `created_at`); `severities`: any of these (None: every severity)."""

    scope: list[str] | None = None
    site: str | None = None
    state: str | None = None
    severities: list[str] | None = None
    rule: str | None = None
    device: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert as it stands."""

    alert_id: uuid.UUID
    rule: str
    severity: str
    site: str
    device: str | None
    state: str
    revision: int
    count: int
    first_at: datetime
    last_at: datetime
    event_ids: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime
    title: str | None
    acked_by: str | None
    acked_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    escalations: int
    silence_id: uuid.UUID | None
    inhibited_by: uuid.UUID | None
    incident_id: uuid.UUID | None


_EVENT_COLUMNS: Final = sql.SQL(
    "id, at, received_at, site, device, kind, type, lane, epoch, seq, source, data"
)
_ALERT_COLUMNS: Final = sql.SQL(
    "alert_id, rule, severity, site, device, state, revision, count, first_at, last_at, "
    "event_ids, created_at, updated_at, title, acked_by, acked_at, resolved_by, resolved_at, "
    "escalations, silence_id, inhibited_by, incident_id"
)


def _after(time_column: str, id_column: str, position: Position) -> sql.Composed:
    """Rows after `position` in descending (time, id) order. The first term alone is an
    index condition; the row comparison `(t, id) < (..)` would not be on (site, t)."""
    return sql.SQL("{t} <= {at} AND ({t} < {at} OR {i} < {id})").format(
        t=sql.Identifier(time_column),
        i=sql.Identifier(id_column),
        at=sql.Literal(position.at),
        id=sql.Literal(position.id),
    )


async def list_events(
    conn: AsyncConnection[Any], where: EventFilter, after: Position | None, limit: int
) -> list[EventRecord]:
    """Up to `limit` events matching `where`, newest first, after `after` if given."""
    conditions = _in_scope(where.scope)
    for column, value in (
        ("site", where.site),
        ("device", where.device),
        ("kind", where.kind),
        ("type", where.type),
    ):
        if value is not None:
            conditions.append(sql.SQL("{} = {}").format(sql.Identifier(column), value))
    if where.since is not None:
        conditions.append(sql.SQL("at >= {}").format(where.since))
    if where.until is not None:
        conditions.append(sql.SQL("at < {}").format(where.until))
    if after is not None:
        conditions.append(_after("at", "id", after))
    query = sql.SQL("SELECT {cols} FROM events {where} ORDER BY at DESC, id DESC LIMIT {n}").format(
        cols=_EVENT_COLUMNS,
        where=_where(conditions),
        n=sql.Literal(limit),
    )
    async with conn.cursor(row_factory=class_row(EventRecord)) as cur:
        await cur.execute(query)
        return await cur.fetchall()


async def list_alerts(
    conn: AsyncConnection[Any], where: AlertFilter, after: Position | None, limit: int
) -> list[AlertRecord]:
    """Up to `limit` alerts matching `where`, newest first, after `after` if given."""
    conditions = _in_scope(where.scope)
    for column, value in (
        ("site", where.site),
        ("state", where.state),
        ("rule", where.rule),
        ("device", where.device),
    ):
        if value is not None:
            conditions.append(sql.SQL("{} = {}").format(sql.Identifier(column), value))
    if where.severities is not None:
        conditions.append(sql.SQL("severity = ANY({}::text[])").format(where.severities))
    if where.since is not None:
        conditions.append(sql.SQL("created_at >= {}").format(where.since))
    if where.until is not None:
        conditions.append(sql.SQL("created_at < {}").format(where.until))
    if after is not None:
        conditions.append(_after("created_at", "alert_id", after))
    query = sql.SQL(
        "SELECT {cols} FROM alerts {where} ORDER BY created_at DESC, alert_id DESC LIMIT {n}"
    ).format(cols=_ALERT_COLUMNS, where=_where(conditions), n=sql.Literal(limit))
    async with conn.cursor(row_factory=class_row(AlertRecord)) as cur:
        await cur.execute(query)
        return await cur.fetchall()


async def get_alert_record(
    conn: AsyncConnection[Any], alert_id: uuid.UUID, scope: list[str] | None
) -> AlertRecord | None:
    """The alert `alert_id` if it exists within `scope` (None: all sites)."""
    conditions = [sql.SQL("alert_id = {}").format(alert_id), *_in_scope(scope)]
    query = sql.SQL("SELECT {cols} FROM alerts {where}").format(
        cols=_ALERT_COLUMNS, where=_where(conditions)
    )
    async with conn.cursor(row_factory=class_row(AlertRecord)) as cur:
        await cur.execute(query)
        return await cur.fetchone()


async def get_event(
    conn: AsyncConnection[Any], event_id: uuid.UUID, scope: list[str] | None
) -> EventRecord | None:
    """The event `event_id` if it exists within `scope` (None: all sites)."""
    conditions = [sql.SQL("id = {}").format(event_id), *_in_scope(scope)]
    query = sql.SQL("SELECT {cols} FROM events {where} LIMIT 1").format(
        cols=_EVENT_COLUMNS, where=_where(conditions)
    )
    async with conn.cursor(row_factory=class_row(EventRecord)) as cur:
        await cur.execute(query)
        return await cur.fetchone()


def _in_scope(scope: list[str] | None) -> list[sql.Composable]:
    """The condition that keeps rows to the sites of `scope` (none when it is all)."""
    if scope is None:
        return []
    return [sql.SQL("site = ANY({}::text[])").format(scope)]


def _where(conditions: list[sql.Composable]) -> sql.Composable:
    if not conditions:
        return sql.SQL("")
    return sql.SQL("WHERE ") + sql.SQL(" AND ").join(conditions)


async def database_answers(conn: AsyncConnection[Any]) -> bool:
    """Whether the database answers a trivial query on `conn`."""
    cursor = await conn.execute("SELECT 1")
    return await cursor.fetchone() == (1,)
