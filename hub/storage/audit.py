"""Reads of the alert audit trail (`alert_audit`, append-only) and of who acted.

`hub.storage.alerts` writes the trail, one row per transition, in the transaction that
made it; this module only reads it back for the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from psycopg.rows import class_row

if TYPE_CHECKING:
    import uuid
    from datetime import datetime

    from psycopg import AsyncConnection

__all__ = ["MAX_ACTOR", "AuditRecord", "actor_of", "list_audit"]

MAX_ACTOR: Final = 128
"""An actor is carried as the transition's `by` (`wire.ShortText`: 1..128 characters)."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One transition of one alert, as it was recorded."""

    revision: int
    transition: str
    severity: str
    actor: str
    note: str | None
    notified: bool
    at: datetime


async def list_audit(conn: AsyncConnection[Any], alert_id: uuid.UUID) -> list[AuditRecord]:
    """Every recorded transition of `alert_id`, in revision order (oldest first)."""
    async with conn.cursor(row_factory=class_row(AuditRecord)) as cur:
        await cur.execute(
            "SELECT revision, transition, severity, actor, note, notified, at "
            "FROM alert_audit WHERE alert_id = %s ORDER BY revision",
            [alert_id],
        )
        return await cur.fetchall()


async def actor_of(conn: AsyncConnection[Any], token_id: str) -> str:
    """How the audit trail names the holder of token `token_id`: `token:<id>`, followed
    by ` (<label>)` when the token has a label, cut to `MAX_ACTOR` characters."""
    cursor = await conn.execute("SELECT label FROM api_tokens WHERE id = %s", [token_id])
    row = await cursor.fetchone()
    label = None if row is None else row[0]
    actor = f"token:{token_id}" if not label else f"token:{token_id} ({label})"
    return actor[:MAX_ACTOR]
