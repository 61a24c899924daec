"""Reading and settling the alert outbox, for the relay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["RELAY_LOCK", "Pending", "claim_relay", "mark_delivered", "pending_transitions"]

RELAY_LOCK: Final = 0x5368_6F75_7761_6E68
"""Advisory lock of the relay: one hub at a time delivers the outbox, in order."""


@dataclass(frozen=True, slots=True)
class Pending:
    """An outbox row not yet delivered."""

    id: int
    site: str
    payload: bytes


async def claim_relay(conn: AsyncConnection[Any]) -> bool:
    """Take the relay's lock for the current transaction; False if another hub holds it."""
    cursor = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", [RELAY_LOCK])
    row = await cursor.fetchone()
    return bool(row and row[0])


async def pending_transitions(conn: AsyncConnection[Any], limit: int) -> list[Pending]:
    """The oldest undelivered transitions, in the order they were written."""
    cursor = await conn.execute(
        "SELECT id, site, payload FROM alert_outbox WHERE delivered_at IS NULL "
        "ORDER BY id LIMIT %s",
        [limit],
    )
    return [Pending(id=i, site=s, payload=bytes(p)) for i, s, p in await cursor.fetchall()]


async def mark_delivered(conn: AsyncConnection[Any], ids: list[int]) -> None:
    """Stamp the rows `ids` as delivered."""
    if ids:
        await conn.execute("UPDATE alert_outbox SET delivered_at = now() WHERE id = ANY(%s)", [ids])
