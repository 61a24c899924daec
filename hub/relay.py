"""The relay: publishes alert transitions from the outbox to `{site}/alerts`, in order.

It runs after every commit that wrote a transition (`wake`) and every `poll_s` anyway,
so a transition written just before a crash goes out after the restart. Delivery is
at-least-once: a row is stamped delivered only after the broker's PUBACK, and a crash in
between sends it again (consumers drop repeats by `(alert_id, revision)`). Under the
relay's advisory lock one hub at a time delivers, which keeps the order when several
hubs share the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final

import psycopg

from hub._loop import BackgroundLoop
from hub.backoff import Backoff
from hub.errors import BrokerUnavailable
from hub.storage import claim_relay, mark_delivered, pending_transitions

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from hub.health import Liveness
    from hub.leases import Leases
    from hub.metrics import HubMetrics
    from hub.mqtt import MqttLink
    from wire import TopicSpace

__all__ = ["Relay"]

logger = logging.getLogger(__name__)

POLL_S: Final = 5.0
BATCH: Final = 100


class Relay(BackgroundLoop):
    """Delivers the alert outbox (task `relay`)."""

    task_name = "relay"

    def __init__(
        self,
        *,
        pool: AsyncConnectionPool[AsyncConnection[object]],
        link: MqttLink,
        space: TopicSpace,
        liveness: Liveness,
        metrics: HubMetrics,
        tasks: asyncio.TaskGroup,
        poll_s: float = POLL_S,
        leases: Leases | None = None,
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._link = link
        self._space = space
        self._liveness = liveness
        super().__init__(tasks)
        self._poll_s = poll_s
        self._leases = leases
        self._wake = asyncio.Event()
        self.delivered = 0

    def wake(self) -> None:
        """Deliver now: a commit has just written transitions."""
        self._wake.set()

    async def _deliver_some(self, *, woken: bool = False) -> int:
        """Deliver up to `BATCH` pending rows in one transaction; how many went out.

        The periodic sweep is the leading hub's (`leases`); a hub woken by its own commit
        delivers at once, under the same transaction lock, so an alert does not wait for
        the leader's next poll.
        """
        failure: BrokerUnavailable | None = None
        published: list[int] = []
        leading = self._leases is None or woken or await self._leases.claim("relay")
        if not leading:
            return 0  # another hub leads the relay
        async with self._pool.connection() as conn, conn.transaction():
            held = await claim_relay(conn)
            if self._leases is not None:
                self._leases.record("relay", held=held)
            if not held:
                return 0  # another hub's relay is delivering
            for row in await pending_transitions(conn, BATCH):
                try:
                    await self._link.publish(self._space.alerts(row.site), row.payload)
                except BrokerUnavailable as exc:
                    failure = exc
                    break
                published.append(row.id)
            # Stamp what the broker took, even if the rest failed: fewer repeats.
            await mark_delivered(conn, published)
        self.delivered += len(published)
        self._metrics.delivered(len(published))
        if failure is not None:
            raise failure
        return len(published)

    async def _run(self) -> None:
        backoff = Backoff(initial=0.5, maximum=self._poll_s)
        self._liveness.beat("started")
        self._wake.set()  # deliver what a previous run left behind, at once
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._wake.wait()
            woken = self._wake.is_set()
            self._wake.clear()
            try:
                while await self._deliver_some(woken=woken) == BATCH:
                    pass
            except (psycopg.Error, BrokerUnavailable) as exc:
                self._liveness.trouble(f"outbox not delivered: {exc}")
                logger.warning("alert outbox not delivered, will retry: %s", exc)
                await asyncio.sleep(backoff.next_delay())
                self._wake.set()
                continue
            backoff.reset()
            self._liveness.beat()
