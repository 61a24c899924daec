"""The webhook relay's queue: fan-out, expiry, claims and the record of each attempt.

The relay (`hub.notify.webhooks`) fans each new `alert_outbox` row out into one
`webhook_messages` row per matching endpoint (under `WEBHOOK_FANOUT_LOCK`, in outbox
order), claims due messages with `FOR UPDATE SKIP LOCKED` and a lease, and records every
attempt in `webhook_attempts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from hub.storage.webhooks import disable_endpoint
from wire import Severity

if TYPE_CHECKING:
    import uuid
    from collections.abc import Mapping
    from datetime import datetime

    from psycopg import AsyncConnection

__all__ = [
    "WEBHOOK_FANOUT_LOCK",
    "Attempt",
    "Outgoing",
    "claim_fanout",
    "claim_messages",
    "due_messages",
    "expire_messages",
    "fan_out",
    "record_attempt",
]

WEBHOOK_FANOUT_LOCK: Final = 0x5368_6F75_7761_6E69
"""Advisory lock of the fan-out: one hub at a time, so messages appear in outbox order."""


async def claim_fanout(conn: AsyncConnection[Any]) -> bool:
    """Take the fan-out's lock for the current transaction; False if another hub has it."""
    cursor = await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", [WEBHOOK_FANOUT_LOCK])
    row = await cursor.fetchone()
    return bool(row and row[0])


# The transition's own severity (from its payload) is what `min_severity` compares.
_FAN_OUT: Final = """
WITH batch AS (
    SELECT id, alert_id, revision, site,
           convert_from(payload, 'UTF8')::jsonb ->> 'severity' AS severity
    FROM alert_outbox WHERE webhooks_at IS NULL ORDER BY id LIMIT %(limit)s
), queued AS (
    INSERT INTO webhook_messages (endpoint_id, outbox_id, alert_id, revision, expires_at)
    SELECT e.id, b.id, b.alert_id, b.revision, now() + %(window)s * interval '1 second'
    FROM batch b JOIN webhook_endpoints e ON e.enabled
        AND (e.all_sites OR b.site = ANY (e.sites))
        AND (e.min_severity IS NULL OR array_position(%(order)s, b.severity)
             <= array_position(%(order)s, e.min_severity))
    ORDER BY b.id
    ON CONFLICT (endpoint_id, outbox_id) DO NOTHING
)
UPDATE alert_outbox SET webhooks_at = now() WHERE id IN (SELECT id FROM batch)
"""


async def fan_out(conn: AsyncConnection[Any], limit: int, window_s: float) -> int:
    """Queue up to `limit` new transitions for their endpoints (call under
    `claim_fanout`); how many outbox rows were handled."""
    cursor = await conn.execute(
        _FAN_OUT.encode(), {"limit": limit, "window": window_s, "order": [*map(str, Severity)]}
    )
    return cursor.rowcount


async def expire_messages(conn: AsyncConnection[Any]) -> int:
    """Mark failed the pending messages whose retry window is over (none in flight)."""
    cursor = await conn.execute(
        "UPDATE webhook_messages SET state = 'failed', settled_at = now() "
        "WHERE state = 'pending' AND expires_at <= now() AND next_attempt_at <= now()"
    )
    return cursor.rowcount


# Due: pending, its time come, its endpoint enabled, and no earlier revision of the same
# alert still pending for that endpoint (per-alert order). Per endpoint, at most `per`
# minus what this hub already has in flight to it, so a busy endpoint cannot fill the page.
_DUE: Final = """
WITH busy AS (
    SELECT * FROM unnest(%(busy_ids)s::uuid[], %(busy_counts)s::int[]) AS b (endpoint_id, n)
)
SELECT id, endpoint_id FROM (
    SELECT m.id, m.endpoint_id, m.next_attempt_at,
           row_number() OVER (PARTITION BY m.endpoint_id ORDER BY m.next_attempt_at, m.id) AS n
    FROM webhook_messages m JOIN webhook_endpoints e ON e.id = m.endpoint_id AND e.enabled
    WHERE m.state = 'pending' AND m.next_attempt_at <= now() AND m.expires_at > now()
      AND NOT EXISTS (
          SELECT 1 FROM webhook_messages p
          WHERE p.endpoint_id = m.endpoint_id AND p.alert_id = m.alert_id
            AND p.state = 'pending' AND p.revision < m.revision)
) due
WHERE n <= %(per)s - coalesce((SELECT b.n FROM busy b WHERE b.endpoint_id = due.endpoint_id), 0)
ORDER BY next_attempt_at, id LIMIT %(limit)s
"""


async def due_messages(
    conn: AsyncConnection[Any], limit: int, per_endpoint: int, busy: Mapping[uuid.UUID, int]
) -> list[tuple[int, uuid.UUID]]:
    """(message id, endpoint id) of messages ready to send, oldest due first; `busy` is
    how many requests are already in flight per endpoint."""
    params = {
        "limit": limit,
        "per": per_endpoint,
        "busy_ids": list(busy),
        "busy_counts": list(busy.values()),
    }
    cursor = await conn.execute(_DUE.encode(), params)
    return [(i, e) for i, e in await cursor.fetchall()]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A claimed message: what to send, where, signed with which secrets."""

    id: int
    endpoint_id: uuid.UUID
    alert_id: uuid.UUID
    revision: int
    attempt: int
    expires_at: datetime
    payload: bytes
    url: str
    secrets: tuple[str, ...]

    @property
    def webhook_id(self) -> str:
        """The `webhook-id`: one per transition, the same on every attempt."""
        return f"msg_{self.alert_id.hex}_{self.revision}"


_CLAIM: Final = """
WITH claimed AS (
    UPDATE webhook_messages m SET attempts = m.attempts + 1,
        next_attempt_at = now() + %(lease)s * interval '1 second'
    WHERE m.id IN (
        SELECT id FROM webhook_messages
        WHERE id = ANY (%(ids)s) AND state = 'pending' AND next_attempt_at <= now()
        FOR UPDATE SKIP LOCKED)
    RETURNING m.id, m.endpoint_id, m.outbox_id, m.alert_id, m.revision, m.attempts,
        m.expires_at
)
SELECT c.id, c.endpoint_id, c.alert_id, c.revision, c.attempts, c.expires_at, o.payload,
    e.url, e.secret, CASE WHEN e.previous_expires_at > now() THEN e.previous_secret END
FROM claimed c
JOIN alert_outbox o ON o.id = c.outbox_id
JOIN webhook_endpoints e ON e.id = c.endpoint_id AND e.enabled
ORDER BY c.id
"""


async def claim_messages(
    conn: AsyncConnection[Any], ids: list[int], lease_s: float
) -> list[Outgoing]:
    """Lease the messages `ids` that are still due for `lease_s` (longer than an attempt
    can last) and count the attempt; another hub skips them meanwhile."""
    if not ids:
        return []
    cursor = await conn.execute(_CLAIM.encode(), {"ids": ids, "lease": lease_s})
    claimed = []
    for (
        i,
        endpoint,
        alert,
        revision,
        attempt,
        expires,
        payload,
        url,
        secret,
        old,
    ) in await cursor.fetchall():
        signing = (secret,) if old is None else (secret, old)
        claimed.append(
            Outgoing(i, endpoint, alert, revision, attempt, expires, bytes(payload), url, signing)
        )
    return claimed


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one attempt went, and what follows for its message."""

    message_id: int
    endpoint_id: uuid.UUID
    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: int
    excerpt: str | None
    outcome: str
    """`delivered`, `failed`, `retry` (at `retry_at`) or `gone` (disable the endpoint)."""
    retry_at: datetime | None = None


async def record_attempt(conn: AsyncConnection[Any], attempt: Attempt) -> None:
    """Log `attempt` and settle or reschedule its message accordingly."""
    await conn.execute(
        "INSERT INTO webhook_attempts (message_id, endpoint_id, attempt, status_code, "
        "error, duration_ms, response_excerpt) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [
            attempt.message_id,
            attempt.endpoint_id,
            attempt.attempt,
            attempt.status_code,
            None if attempt.error is None else attempt.error[:1024],
            attempt.duration_ms,
            attempt.excerpt,
        ],
    )
    match attempt.outcome:
        case "delivered" | "failed":
            await conn.execute(
                "UPDATE webhook_messages SET state = %s, settled_at = now() WHERE id = %s",
                [attempt.outcome, attempt.message_id],
            )
        case "gone":
            await conn.execute(
                "UPDATE webhook_messages SET next_attempt_at = now() WHERE id = %s",
                [attempt.message_id],
            )
            await disable_endpoint(conn, attempt.endpoint_id, "the receiver answered 410 Gone")
        case _:
            await conn.execute(
                "UPDATE webhook_messages SET next_attempt_at = %s WHERE id = %s",
                [attempt.retry_at, attempt.message_id],
            )
