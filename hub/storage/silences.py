"""Silences: alerts they cover are stored and audited but not notified.

A silence covers an alert when each of its non-NULL `site`, `device` and `rule` equals
the alert's, and the alert's time lies in `[starts_at, ends_at)`. `site` NULL covers
every site (only an all-sites token may make or see such a silence); `device` needs a
`site` (device ids are unique per site only). A silence is never deleted: ending it
early sets `ends_at` to now, so the record of what was muted, when and why stays.

Scope: every read and write takes `scope`, the caller's sites (None: all); a silence is
within it when its site is one of them (a NULL site only when `scope` is None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from psycopg import sql
from psycopg.rows import class_row

from hub.storage.alerts import new_alert_id

if TYPE_CHECKING:
    import uuid
    from datetime import datetime

    from psycopg import AsyncConnection, AsyncCursor

    from hub.storage.queries import Position

__all__ = [
    "NewSilence",
    "SilenceRecord",
    "active_silence",
    "create_silence",
    "end_silence",
    "get_silence",
    "list_silences",
]

_COLUMNS: Final = sql.SQL(
    "silence_id, site, device, rule, starts_at, ends_at, created_by, reason, created_at, "
    "(starts_at <= now() AND now() < ends_at) AS active"
)


@dataclass(frozen=True, slots=True)
class NewSilence:
    """A silence to create; `starts_at` None means now."""

    site: str | None
    device: str | None
    rule: str | None
    starts_at: datetime | None
    ends_at: datetime
    reason: str
    created_by: str


@dataclass(frozen=True, slots=True)
class SilenceRecord:
    """A silence as stored; `active`: it covers alerts right now."""

    silence_id: uuid.UUID
    site: str | None
    device: str | None
    rule: str | None
    starts_at: datetime
    ends_at: datetime
    created_by: str
    reason: str
    created_at: datetime
    active: bool


def _in_scope(scope: list[str] | None) -> list[sql.Composable]:
    # `site = ANY(...)` is never true for a NULL site: all-sites silences stay hidden.
    return [] if scope is None else [sql.SQL("site = ANY({}::text[])").format(scope)]


def _where(conditions: list[sql.Composable]) -> sql.Composed:
    if not conditions:
        return sql.Composed([])
    return sql.SQL("WHERE ") + sql.SQL(" AND ").join(conditions)


async def _one(conn: AsyncConnection[Any], query: sql.Composed) -> SilenceRecord | None:
    async with conn.cursor(row_factory=class_row(SilenceRecord)) as cur:
        await cur.execute(query)
        return await cur.fetchone()


async def create_silence(conn: AsyncConnection[Any], new: NewSilence) -> SilenceRecord:
    """Store `new` (its id: a fresh UUIDv7) and return it as stored."""
    query = sql.SQL(
        "INSERT INTO silences (silence_id, site, device, rule, starts_at, ends_at, "
        "created_by, reason) VALUES ({id}, {site}, {device}, {rule}, "
        "COALESCE({starts}::timestamptz, now()), {ends}, {by}, {reason}) RETURNING {cols}"
    ).format(
        id=new_alert_id(),
        site=new.site,
        device=new.device,
        rule=new.rule,
        starts=new.starts_at,
        ends=new.ends_at,
        by=new.created_by,
        reason=new.reason,
        cols=_COLUMNS,
    )
    created = await _one(conn, query)
    if created is None:
        message = "INSERT … RETURNING of a silence returned no row"
        raise RuntimeError(message)
    return created


async def get_silence(
    conn: AsyncConnection[Any], silence_id: uuid.UUID, scope: list[str] | None
) -> SilenceRecord | None:
    """The silence `silence_id` if it is within `scope`."""
    conditions = [sql.SQL("silence_id = {}").format(silence_id), *_in_scope(scope)]
    return await _one(
        conn, sql.SQL("SELECT {} FROM silences {}").format(_COLUMNS, _where(conditions))
    )


async def list_silences(
    conn: AsyncConnection[Any],
    scope: list[str] | None,
    *,
    include_expired: bool,
    after: Position | None,
    limit: int,
) -> list[SilenceRecord]:
    """Up to `limit` silences within `scope`, newest first by (`created_at`, id), after
    `after` if given; those not yet ended only (current or scheduled) unless
    `include_expired`."""
    conditions = _in_scope(scope)
    if not include_expired:
        conditions.append(sql.SQL("ends_at > now()"))
    if after is not None:
        conditions.append(sql.SQL("(created_at, silence_id) < ({}, {})").format(after.at, after.id))
    query = sql.SQL(
        "SELECT {} FROM silences {} ORDER BY created_at DESC, silence_id DESC LIMIT {}"
    ).format(_COLUMNS, _where(conditions), sql.Literal(limit))
    async with conn.cursor(row_factory=class_row(SilenceRecord)) as cur:
        await cur.execute(query)
        return await cur.fetchall()


async def end_silence(
    conn: AsyncConnection[Any], silence_id: uuid.UUID, scope: list[str] | None
) -> SilenceRecord | None:
    """End the silence `silence_id` (within `scope`) now and return it; one already
    ended is returned unchanged. None if there is no such silence.

    A scheduled silence (not started yet) ends as it starts: its `starts_at` moves to
    just before now, so the stored interval stays non-empty and covers nothing ahead.
    """
    conditions = [
        sql.SQL("silence_id = {}").format(silence_id),
        sql.SQL("ends_at > now()"),
        *_in_scope(scope),
    ]
    ended = await _one(
        conn,
        sql.SQL(
            "UPDATE silences SET ends_at = now(), "
            "starts_at = LEAST(starts_at, now() - interval '1 microsecond') {} RETURNING {}"
        ).format(_where(conditions), _COLUMNS),
    )
    return ended if ended is not None else await get_silence(conn, silence_id, scope)


# The oldest-created silence first (then by id): the same alert at the same time always
# names the same silence, whichever hub asks.
_ACTIVE: Final = """
SELECT silence_id FROM silences
WHERE starts_at <= %(at)s AND %(at)s < ends_at
  AND (site IS NULL OR site = %(site)s)
  AND (device IS NULL OR device = %(device)s)
  AND (rule IS NULL OR rule = %(rule)s)
ORDER BY created_at, silence_id
LIMIT 1
"""


async def active_silence(
    cur: AsyncCursor[Any], *, rule: str, site: str, device: str | None, at: datetime
) -> uuid.UUID | None:
    """The id of the silence that covers an alert of `rule` for `site`/`device` at `at`
    (the oldest-created, if several do); None if none does.

    A silence naming a device never covers a site-wide alert (`device` None).
    """
    await cur.execute(_ACTIVE, {"at": at, "site": site, "device": device, "rule": rule})
    row = await cur.fetchone()
    return None if row is None else row[0]
