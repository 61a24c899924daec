"""Ingest: from the broker into PostgreSQL in batches, then acks, in that order.

One loop (task `ingest`) takes messages from the link in batches (up to `batch_max`, at
most `batch_wait_ms` after the first, or earlier once none came for `batch_quiet_ms`),
classifies each with `wire` (`hub.inbound`), and stores the whole batch in ONE
transaction: events (insert-on-conflict-do-nothing), dead letters, devices, states,
inventories, agent statuses, and the alert transitions the rules raise on the new events
(with their outbox rows). Only after COMMIT does it

1. acknowledge the batch's messages to the broker (MQTT PUBACK, see `hub.mqtt`),
2. publish the agents' acks, `{"v":1,"epoch":E,"ranges":[...]}` on `{site}/ack`, for
   every event of the batch (duplicates included: they are stored) and every dead
   letter whose epoch and seq could be read,
3. wake the relay if transitions were written.

A per-site rate cap (`hub.ratecap`, `ingest.site_rate_per_s` and `site_burst`) comes
first: a site's non-P0 events and dead letters beyond it are acknowledged to the broker
(which is done with them) but neither stored nor acked to the agent, which keeps them and
resends them later; they are counted. P0 events are never capped. So an agent flooding
the hub costs it a decode per message, not a row, and the other sites' events go on.

If the database is unreachable, the batch is retried with backoff, unacknowledged, for as
long as it takes; the broker holds the rest (its in-flight window is full of messages the
hub has not acknowledged) and the agents keep their outboxes. If the database refuses a
row (a DataError: PostgreSQL's jsonb cannot hold `\\u0000`), the batch is written again
one message at a time and the refused message becomes a dead letter: one bad message
never blocks the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import psycopg

from hub._loop import BackgroundLoop
from hub.backoff import Backoff
from hub.errors import BrokerUnavailable
from hub.inbound import DeadLetter, Inbound, ack_key, classify, refused_by_storage
from hub.ratecap import SiteRateCap
from hub.rules import Rules, run_rules
from hub.storage import write_inbound
from wire import MAX_RANGES, Ack, Event, Lane, encode, ranges_from_seqs

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from hub.config import IngestConfig
    from hub.health import Health
    from hub.metrics import HubMetrics
    from hub.mqtt import MqttLink, Received
    from wire import TopicSpace

__all__ = ["Ingest", "IngestStats"]

logger = logging.getLogger(__name__)

TICK_S: Final = 1.0
"""Longest the loop waits for a first message before going round (and beating) anyway."""


@dataclass(slots=True)
class IngestStats:
    """Counters since the hub started."""

    messages: int = 0
    batches: int = 0
    events_new: int = 0
    events_duplicate: int = 0
    dead_letters: int = 0
    transitions: int = 0
    acks_published: int = 0
    acks_unsent: int = 0
    retries: int = 0
    capped: int = 0

    def summary(self) -> str:
        """One line for the hub status and logs."""
        return (
            f"{self.events_new} events stored, {self.events_duplicate} duplicates, "
            f"{self.dead_letters} dead letters, {self.acks_published} acks "
            f"({self.acks_unsent} unsent), {self.retries} retries, {self.capped} capped"
        )


@dataclass(frozen=True, slots=True)
class _Item:
    """A received message and what it turned out to be."""

    received: Received
    inbound: Inbound


def _urgent(item: _Item) -> bool:
    """Whether `item` is a P0 event (it closes the batch it is in)."""
    return isinstance(item.inbound, Event) and item.inbound.lane is Lane.P0


def _cappable_site(inbound: Inbound) -> str | None:
    """The site whose rate cap `inbound` counts against; None if it is never capped.

    P0 events are never capped. States, inventories, statuses and snapshots are not
    either: they are not acked, so the agent would not resend what the cap refused.
    """
    match inbound:
        case Event() if inbound.lane is not Lane.P0:
            return inbound.site
        case DeadLetter() if inbound.ack is not None:
            return inbound.ack.site
        case _:
            return None


@dataclass(frozen=True, slots=True)
class _Committed:
    """What a committed batch held and wrote."""

    items: list[_Item]
    new_events: list[Event]
    transitions: int
    seconds: float = 0.0


class Ingest(BackgroundLoop):
    """The ingest loop (task `ingest`); see the module docstring."""

    # A batch cut short here is neither acked to the broker nor to the agents:
    # the broker redelivers it to the next session, the agents resend it.
    task_name = "ingest"

    def __init__(
        self,
        *,
        link: MqttLink,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        space: TopicSpace,
        config: IngestConfig,
        health: Health,
        metrics: HubMetrics,
        on_transitions: Callable[[], None],
        rules: Rules,
        tasks: asyncio.TaskGroup,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self._link = link
        self._metrics = metrics
        self._pool = pool
        self._space = space
        self._config = config
        self._health = health
        self._on_transitions = on_transitions
        self._rules = rules
        self._acking: asyncio.Task[None] | None = None
        super().__init__(tasks)
        self._connect_timeout_s = connect_timeout_s
        self._cap = SiteRateCap(config.site_rate_per_s, config.site_burst)
        self._capping: set[str] = set()
        self.stats = IngestStats()

    def _item(self, received: Received) -> _Item:
        return _Item(received, classify(self._space, received.topic, received.payload))

    async def _collect(self) -> list[_Item]:
        """The next batch, classified; empty if nothing came for `TICK_S`.

        Once a P0 event (a panic, an intrusion) is in the batch, the batch takes only what
        is already waiting and closes: the P0 does not wait for the batch to fill or for
        the quiet window, which under steady load never comes. A backlog (after an
        outage) still makes full batches: everything in it is already waiting.
        """
        first = await self._link.receive(TICK_S)
        if first is None:
            return []
        batch = [self._item(first)]
        urgent = _urgent(batch[0])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.batch_wait_ms / 1000
        quiet = self._config.batch_quiet_ms / 1000
        while len(batch) < self._config.batch_max:
            message = self._link.receive_nowait()
            if message is None:
                remaining = deadline - loop.time()
                if urgent or remaining <= 0:
                    break
                message = await self._link.receive(min(remaining, quiet))
                if message is None:
                    break
            item = self._item(message)
            batch.append(item)
            urgent = urgent or _urgent(item)
        return batch

    async def _write(
        self, conn: AsyncConnection[Any], inbound: Sequence[Inbound]
    ) -> tuple[list[Event], int]:
        async with conn.cursor() as cur:
            new = await write_inbound(cur, inbound)
            rules = self._rules.current
            return new, await run_rules(cur, new, rules, now=datetime.now(UTC))

    async def _write_isolated(self, conn: AsyncConnection[Any], items: list[_Item]) -> _Committed:
        """Write each message under its own savepoint; dead-letter the ones refused."""
        final: list[_Item] = []
        new_events: list[Event] = []
        transitions = 0
        for item in items:
            kept = item
            try:
                async with conn.transaction():
                    new, written = await self._write(conn, [item.inbound])
            except psycopg.DataError as exc:
                r = item.received
                letter = refused_by_storage(self._space, r.topic, r.payload, str(exc))
                logger.warning("database refused the message on %s: %s", r.topic, exc)
                kept = replace(item, inbound=letter)
                new, written = await self._write(conn, [letter])
            final.append(kept)
            new_events += new
            transitions += written
        return _Committed(final, new_events, transitions)

    async def _transaction(self, items: list[_Item], *, isolate: bool) -> _Committed:
        started = time.perf_counter()
        async with (
            self._pool.connection(timeout=self._connect_timeout_s) as conn,
            conn.transaction(),
        ):
            if isolate:
                committed = await self._write_isolated(conn, items)
            else:
                new, transitions = await self._write(conn, [i.inbound for i in items])
                committed = _Committed(items, new, transitions)
        return replace(committed, seconds=time.perf_counter() - started)

    async def _commit(self, items: list[_Item]) -> _Committed:
        """Store the batch, retrying (unacked) until the database takes it."""
        backoff = Backoff(initial=0.2, maximum=10.0)
        while True:
            try:
                try:
                    return await self._transaction(items, isolate=False)
                except psycopg.DataError as exc:
                    logger.warning(
                        "the database refused a row of a batch of %d (%s): "
                        "writing it one message at a time",
                        len(items),
                        exc,
                    )
                    return await self._transaction(items, isolate=True)
            except psycopg.Error as exc:
                self.stats.retries += 1
                self._metrics.retried()
                detail = f"database unavailable, batch of {len(items)} waiting: {exc}"
                self._health.ingest.trouble(detail)
                logger.warning("batch of %d not stored, will retry: %s", len(items), exc)
                await asyncio.sleep(backoff.next_delay())

    async def _publish_ack(self, site: str, ack: Ack) -> bool:
        try:
            await self._link.publish(self._space.ack(site), encode(ack))
        except BrokerUnavailable as exc:
            # The agent resends what it has no ack for; the resend is acked then.
            logger.warning("ack to %s not sent: %s", site, exc)
            return False
        return True

    async def _send_acks(self, items: Sequence[_Item]) -> None:
        seqs: defaultdict[tuple[str, uuid.UUID], set[int]] = defaultdict(set)
        for item in items:
            key = ack_key(item.inbound)
            if key is not None:
                seqs[key.site, key.epoch].add(key.seq)
        sends = []
        for (site, epoch), numbers in sorted(seqs.items()):
            ranges = ranges_from_seqs(numbers)
            for start in range(0, len(ranges), MAX_RANGES):
                ack = Ack(v=1, epoch=epoch, ranges=ranges[start : start + MAX_RANGES])
                sends.append(self._publish_ack(site, ack))
        results = await asyncio.gather(*sends)
        self.stats.acks_published += sum(results)
        self.stats.acks_unsent += len(results) - sum(results)

    def _count(self, committed: _Committed) -> None:
        stats = self.stats
        stats.messages += len(committed.items)
        stats.batches += 1
        events = sum(isinstance(i.inbound, Event) for i in committed.items)
        duplicates = events - len(committed.new_events)
        stats.events_new += len(committed.new_events)
        stats.events_duplicate += duplicates
        stats.transitions += committed.transitions
        self._metrics.committed(
            seconds=committed.seconds,
            messages=len(committed.items),
            new_events=committed.new_events,
            duplicates=duplicates,
        )
        for item in committed.items:
            if isinstance(item.inbound, DeadLetter):
                stats.dead_letters += 1
                letter = item.inbound
                self._metrics.dead_letter(letter.error)
                logger.warning(
                    "dead letter on %s (site %s): %s", letter.topic, letter.site, letter.reason
                )

    def _within_cap(self, items: list[_Item]) -> list[_Item]:
        """The items the per-site rate cap lets through; the others are counted."""
        taken: list[_Item] = []
        for item in items:
            site = _cappable_site(item.inbound)
            if site is None or self._cap.take(site):
                taken.append(item)
                self._capping.discard(site or "")
                continue
            self.stats.capped += 1
            self._metrics.capped(site)
            if site not in self._capping:
                self._capping.add(site)
                logger.warning(
                    "site %s is over its ingest rate cap: its excess is not acked "
                    "(the agent resends it)",
                    site,
                )
        return taken

    async def _take(self, items: list[_Item]) -> None:
        """Store what the rate cap lets through, then acknowledge and ack it."""
        taken = self._within_cap(items)
        committed = await self._commit(taken) if taken else None
        if committed is not None:
            # The relays first: an alert must not wait for the agents' acks.
            if committed.transitions:
                self._on_transitions()
            self._count(committed)
        # Capped messages too: the broker is done with them, the agent still holds them.
        for item in items:
            self._link.ack(item.received)
        if committed is not None:
            # The agents' acks go out while the next batch is collected and written; at
            # most one batch's acks are in flight, so they cannot pile up.
            if self._acking is not None:
                await self._acking
            self._acking = self._tasks.create_task(
                self._send_acks(committed.items), name="ingest:acks"
            )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await super().__aexit__(exc_type, exc, tb)
        if self._acking is not None:  # not yet sent: the agents resend, the hub re-acks
            self._acking.cancel()
            await asyncio.wait([self._acking])

    async def _run(self) -> None:
        self._health.ingest.beat("started")
        while True:
            items = await self._collect()
            if items:
                await self._take(items)
            self._health.ingest.beat(self.stats.summary())
