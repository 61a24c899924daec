"""Webhook endpoints, as the API manages them, and their delivery log.

The relay's side (fan-out, claims, attempts) is `hub.storage.webhook_queue`. Secrets are
written here and read only there: nothing this module returns carries them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from psycopg import sql
from psycopg.rows import class_row

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from psycopg import AsyncConnection

__all__ = [
    "AttemptRecord",
    "Endpoint",
    "NewEndpoint",
    "create_endpoint",
    "delete_endpoint",
    "disable_endpoint",
    "enable_endpoint",
    "get_endpoint",
    "list_attempts",
    "list_endpoints",
    "rotate_secret",
]

_ENDPOINT_COLUMNS: Final = sql.SQL(
    "id, url, description, all_sites, sites, min_severity, enabled, disabled_at, "
    "disabled_reason, previous_expires_at, created_by, created_at, updated_at"
)
# An endpoint is in a caller's scope when the caller sees every site, or the endpoint
# is limited to sites the caller all sees (an all-sites endpoint needs an all-sites caller).
_IN_SCOPE: Final = sql.SQL(
    "(%(scope)s::text[] IS NULL OR (NOT all_sites AND sites <@ %(scope)s::text[]))"
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A registered webhook, its secrets aside."""

    id: uuid.UUID
    url: str
    description: str | None
    all_sites: bool
    sites: list[str]
    min_severity: str | None
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    previous_expires_at: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    """What registering a webhook stores; `sites` None means every site."""

    url: str
    description: str | None
    sites: list[str] | None
    min_severity: str | None
    secret: str
    created_by: str


async def _one_endpoint(
    conn: AsyncConnection[Any], template: str, params: Mapping[str, object]
) -> Endpoint | None:
    """The endpoint `template` (with `{cols}` and `{scope}`) returns, if any."""
    query = sql.SQL(template).format(cols=_ENDPOINT_COLUMNS, scope=_IN_SCOPE)
    async with conn.cursor(row_factory=class_row(Endpoint)) as cur:
        await cur.execute(query, params)
        return await cur.fetchone()


async def create_endpoint(conn: AsyncConnection[Any], new: NewEndpoint) -> Endpoint:
    """Store a new endpoint, enabled."""
    template = (
        "INSERT INTO webhook_endpoints (id, url, description, all_sites, sites, "
        "min_severity, secret, created_by) VALUES (%(id)s, %(url)s, %(description)s, "
        "%(all)s, %(sites)s, %(min_severity)s, %(secret)s, %(by)s) RETURNING {cols}"
    )
    params: dict[str, object] = {
        "id": uuid.uuid4(),
        "url": new.url,
        "description": new.description,
        "all": new.sites is None,
        "sites": sorted(set(new.sites or ())),
        "min_severity": new.min_severity,
        "secret": new.secret,
        "by": new.created_by,
    }
    found = await _one_endpoint(conn, template, params)
    if found is None:  # INSERT ... RETURNING always returns the row
        message = "storing a webhook endpoint returned no row"
        raise RuntimeError(message)
    return found


async def list_endpoints(conn: AsyncConnection[Any], scope: list[str] | None) -> list[Endpoint]:
    """The endpoints within `scope` (None: every site), oldest first."""
    async with conn.cursor(row_factory=class_row(Endpoint)) as cur:
        await cur.execute(
            sql.SQL(
                "SELECT {cols} FROM webhook_endpoints WHERE {scope} ORDER BY created_at, id"
            ).format(cols=_ENDPOINT_COLUMNS, scope=_IN_SCOPE),
            {"scope": scope},
        )
        return await cur.fetchall()


async def get_endpoint(
    conn: AsyncConnection[Any], endpoint_id: uuid.UUID, scope: list[str] | None
) -> Endpoint | None:
    """One endpoint, if it exists within `scope`."""
    template = "SELECT {cols} FROM webhook_endpoints WHERE id = %(id)s AND {scope}"
    return await _one_endpoint(conn, template, {"id": endpoint_id, "scope": scope})


async def delete_endpoint(
    conn: AsyncConnection[Any], endpoint_id: uuid.UUID, scope: list[str] | None
) -> bool:
    """Delete an endpoint with its messages and log; False if none within `scope`."""
    cursor = await conn.execute(
        sql.SQL("DELETE FROM webhook_endpoints WHERE id = %(id)s AND {scope}").format(
            scope=_IN_SCOPE
        ),
        {"id": endpoint_id, "scope": scope},
    )
    return cursor.rowcount == 1


async def rotate_secret(
    conn: AsyncConnection[Any],
    endpoint_id: uuid.UUID,
    scope: list[str] | None,
    secret: str,
    overlap_s: float,
) -> Endpoint | None:
    """Make `secret` the endpoint's secret; the current one keeps signing for `overlap_s`."""
    template = (
        "UPDATE webhook_endpoints SET previous_secret = secret, secret = %(secret)s, "
        "previous_expires_at = now() + %(overlap)s * interval '1 second', updated_at = now() "
        "WHERE id = %(id)s AND {scope} RETURNING {cols}"
    )
    params = {"id": endpoint_id, "scope": scope, "secret": secret, "overlap": overlap_s}
    return await _one_endpoint(conn, template, params)


async def enable_endpoint(
    conn: AsyncConnection[Any], endpoint_id: uuid.UUID, scope: list[str] | None
) -> Endpoint | None:
    """Enable an endpoint again; its pending messages resume at once."""
    template = (
        "UPDATE webhook_endpoints SET enabled = true, disabled_at = NULL, "
        "disabled_reason = NULL, updated_at = now() WHERE id = %(id)s AND {scope} "
        "RETURNING {cols}"
    )
    found = await _one_endpoint(conn, template, {"id": endpoint_id, "scope": scope})
    if found is not None:
        await conn.execute(
            "UPDATE webhook_messages SET next_attempt_at = now() "
            "WHERE endpoint_id = %s AND state = 'pending' AND next_attempt_at > now()",
            [endpoint_id],
        )
    return found


async def disable_endpoint(conn: AsyncConnection[Any], endpoint_id: uuid.UUID, reason: str) -> None:
    """Stop delivering to an endpoint (a 410 Gone), recording why."""
    await conn.execute(
        "UPDATE webhook_endpoints SET enabled = false, disabled_at = now(), "
        "disabled_reason = %s, updated_at = now() WHERE id = %s AND enabled",
        [reason[:500], endpoint_id],
    )


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One line of an endpoint's delivery log."""

    id: int
    webhook_id: str
    alert_id: uuid.UUID
    revision: int
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    response_excerpt: str | None
    message_state: str


async def list_attempts(
    conn: AsyncConnection[Any], endpoint_id: uuid.UUID, before: int | None, limit: int
) -> list[AttemptRecord]:
    """An endpoint's attempts, newest first, those with ids below `before` if given."""
    async with conn.cursor(row_factory=class_row(AttemptRecord)) as cur:
        await cur.execute(
            "SELECT a.id, 'msg_' || replace(m.alert_id::text, '-', '') || '_' || m.revision "
            "AS webhook_id, m.alert_id, m.revision, a.attempt, a.at, a.status_code, a.error, "
            "a.duration_ms, a.response_excerpt, m.state AS message_state "
            "FROM webhook_attempts a JOIN webhook_messages m ON m.id = a.message_id "
            "WHERE a.endpoint_id = %(id)s AND (%(before)s::bigint IS NULL OR a.id < %(before)s) "
            "ORDER BY a.id DESC LIMIT %(limit)s",
            {"id": endpoint_id, "before": before, "limit": limit},
        )
        return await cur.fetchall()
