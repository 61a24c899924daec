"""The webhook relay: fans alert transitions out to webhooks and delivers them.

Each round (after every commit that wrote a transition, `wake`, and every `poll_s`):

1. **Fan-out**, under an advisory lock (one hub at a time): new `alert_outbox` rows, in
   id order, become one `webhook_messages` row per enabled endpoint whose sites and
   minimum severity match; the outbox row is stamped `webhooks_at`.
2. **Expiry**: pending messages past their retry window are marked failed.
3. **Dispatch**: due messages are claimed (`FOR UPDATE SKIP LOCKED`, a lease longer than
   an attempt) and sent concurrently, at most `max_in_flight` at once and
   `max_in_flight_per_endpoint` per endpoint, so a dead endpoint cannot hold up the
   others. A message is due only when no earlier revision of its alert is pending for
   its endpoint: per endpoint, an alert's transitions arrive in order.

Delivery is at-least-once: a hub that dies mid-attempt leaves the lease to run out, and
the message is sent again with the same `webhook-id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

import psycopg

from hub._loop import BackgroundLoop
from hub.backoff import Backoff
from hub.notify.destinations import DestinationPolicy
from hub.notify.sender import Outcome, Result, make_client, send
from hub.storage.webhook_queue import (
    Attempt,
    Outgoing,
    claim_fanout,
    claim_messages,
    due_messages,
    expire_messages,
    fan_out,
    record_attempt,
)

if TYPE_CHECKING:
    import uuid

    import httpx
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from hub.config import WebhooksConfig
    from hub.health import Liveness
    from hub.leases import Leases

__all__ = ["WebhookRelay", "policy_of", "retry_delay"]

logger = logging.getLogger(__name__)

FAN_OUT_BATCH: Final = 500
_LEASE_MARGIN_S: Final = 30.0  # DNS (5 s at most), the database, a slow event loop


def retry_delay(attempt: int, initial_s: float, maximum_s: float) -> float:
    """Full jitter: a delay drawn from [0, min(maximum, initial * 2^(attempt-1))]."""
    ceiling = min(maximum_s, initial_s * 2.0 ** min(attempt - 1, 32))
    return random.uniform(0.0, ceiling)  # noqa: S311 - jitter, not cryptography


def policy_of(config: WebhooksConfig) -> DestinationPolicy:
    """The destination rules the configuration sets."""
    return DestinationPolicy(
        allow_networks=tuple(config.allow_networks), allow_http=config.allow_http
    )


class WebhookRelay(BackgroundLoop):
    """Delivers alert transitions to webhooks (task `webhooks`)."""

    task_name = "webhooks"

    def __init__(
        self,
        *,
        pool: AsyncConnectionPool[AsyncConnection[object]],
        config: WebhooksConfig,
        liveness: Liveness,
        tasks: asyncio.TaskGroup,
        leases: Leases | None = None,
    ) -> None:
        super().__init__(tasks)
        self._pool = pool
        self._config = config
        self._policy = policy_of(config)
        self._liveness = liveness
        self._leases = leases
        self._wake = asyncio.Event()
        self._in_flight: Counter[uuid.UUID] = Counter()
        self.attempts = 0
        """Attempts made by this hub since it started (any outcome)."""

    def wake(self) -> None:
        """Look for work now: a commit has just written transitions."""
        self._wake.set()

    @property
    def _lease_s(self) -> float:
        return self._config.total_timeout_s + _LEASE_MARGIN_S

    async def _fan_out(self, *, woken: bool) -> None:
        """Queue every new transition for its endpoints, a batch per transaction.

        The periodic sweep is the leading hub's (`leases`); a woken hub fans out at once,
        under the same transaction lock (as the relay does).
        """
        while True:
            leading = self._leases is None or woken or await self._leases.claim("webhook-fanout")
            if not leading:
                return  # another hub leads the fan-out
            async with self._pool.connection() as conn, conn.transaction():
                held = await claim_fanout(conn)
                if self._leases is not None:
                    self._leases.record("webhook-fanout", held=held)
                if not held:
                    return  # another hub is fanning out
                done = await fan_out(conn, FAN_OUT_BATCH, self._config.retry_window_s)
            if done < FAN_OUT_BATCH:
                return

    async def _claim(self) -> list[Outgoing]:
        """Expire what is too old, then lease what may be sent now."""
        free = self._config.max_in_flight - self._in_flight.total()
        per_endpoint = self._config.max_in_flight_per_endpoint
        async with self._pool.connection() as conn, conn.transaction():
            expired = await expire_messages(conn)
            if expired:
                logger.warning("%d webhook messages failed: retry window over", expired)
            if free <= 0:
                return []
            taken: Counter[uuid.UUID] = Counter()
            ids = []
            busy = dict(self._in_flight)
            for message_id, endpoint in await due_messages(conn, free, per_endpoint, busy):
                if self._in_flight[endpoint] + taken[endpoint] < per_endpoint:
                    taken[endpoint] += 1
                    ids.append(message_id)
            return await claim_messages(conn, ids, self._lease_s)

    def _attempt(self, message: Outgoing, result: Result) -> Attempt:
        """The log row of `result` and what it means for `message`."""
        outcome = result.outcome.value
        retry_at = None
        if result.outcome is Outcome.RETRY:
            delay = retry_delay(
                message.attempt, self._config.backoff_initial_s, self._config.backoff_max_s
            )
            retry_at = datetime.now(UTC) + timedelta(seconds=delay)
            if retry_at >= message.expires_at:  # the window is over: no further attempt
                outcome, retry_at = "failed", None
        return Attempt(
            message_id=message.id,
            endpoint_id=message.endpoint_id,
            attempt=message.attempt,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
            excerpt=result.excerpt,
            outcome=outcome,
            retry_at=retry_at,
        )

    async def _deliver(self, client: httpx.AsyncClient, message: Outgoing) -> None:
        """One attempt and its record; a record that fails is left to the lease."""
        try:
            result = await send(client, message, self._policy, self._config.total_timeout_s)
            self.attempts += 1
            attempt = self._attempt(message, result)
            logger.info(
                "webhook %s to endpoint %s, attempt %d: %s (%s)",
                message.webhook_id,
                message.endpoint_id,
                message.attempt,
                attempt.outcome,
                result.status_code if result.error is None else result.error,
            )
            async with self._pool.connection() as conn, conn.transaction():
                await record_attempt(conn, attempt)
        except psycopg.Error as exc:
            logger.warning(
                "webhook %s: attempt not recorded, retried after its lease: %s",
                message.webhook_id,
                exc,
            )
        finally:
            self._in_flight[message.endpoint_id] -= 1
            if self._in_flight[message.endpoint_id] <= 0:
                del self._in_flight[message.endpoint_id]
            self._wake.set()  # a free slot, and maybe the alert's next revision is due

    async def _round(
        self, client: httpx.AsyncClient, sends: asyncio.TaskGroup, *, woken: bool = True
    ) -> None:
        await self._fan_out(woken=woken)
        for message in await self._claim():
            self._in_flight[message.endpoint_id] += 1
            sends.create_task(self._deliver(client, message), name=f"webhook-{message.id}")

    async def _run(self) -> None:
        backoff = Backoff(initial=0.5, maximum=self._config.poll_s)
        self._liveness.beat("started")
        self._wake.set()  # what a previous run left behind, at once
        async with make_client(self._config) as client, asyncio.TaskGroup() as sends:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._config.poll_s):
                        await self._wake.wait()
                woken = self._wake.is_set()
                self._wake.clear()
                try:
                    await self._round(client, sends, woken=woken)
                except psycopg.Error as exc:
                    self._liveness.trouble(f"webhooks not delivered: {exc}")
                    logger.warning("webhook relay: database error, will retry: %s", exc)
                    await asyncio.sleep(backoff.next_delay())
                    self._wake.set()
                    continue
                backoff.reset()
                self._liveness.beat()
