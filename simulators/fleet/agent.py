"""An emulated agent at the MQTT level: the real v1 contract, without drivers or SQLite.

What it does on every (re)connect, like `agent/link.py`: the retained status `online`
(the LWT, set at CONNECT, is the same status saying `offline`), the retained inventory,
the subscription to its `ack` topic, then every event it still holds, P0 first, then by
seq. Events are emitted into an in-memory outbox (epoch made at start, seq +1 per
event) and kept until the hub's ack names their (epoch, seq); an event not acked is
published again after `resend_initial_s`, then after doubling waits up to
`resend_max_s`, with the same bytes. About `window` QoS 1 publishes await their
PUBACK at once (paho's in-flight window; twice that handed to paho). The status is
renewed every `status_interval_s`.

Faults for scenarios: `cut()` drops the TCP connection without DISCONNECT (the broker
publishes the LWT, as when a link dies) and reconnects after `reconnect_s`;
`hold_down(s)` keeps it down that long. Every outage is logged (`outages`) for the
oracle's expectations. Many agents share one asyncio loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import aiomqtt

import wire
from simulators.fleet._broker import NODELAY
from simulators.fleet.outbox import DRIVER, Counters, Outage, Outbox, Record
from wire import AgentStatus, DriverHealth, DriverState, Inventory, InventoryDevice, Presence

if TYPE_CHECKING:
    import uuid

    from simulators.fleet._broker import Broker
    from simulators.fleet.population import Room
    from simulators.fleet.traffic import Draft

__all__ = ["AgentSettings", "Counters", "FleetAgent", "Outage", "Record"]

logger = logging.getLogger(__name__)
# aiomqtt's own logger: deliberate cuts make it warn "failed to receive on socket" for
# every agent cut; only its errors are worth seeing.
_MQTT_LOGGER: Final = logging.getLogger(f"{__name__}.mqtt")
_MQTT_LOGGER.setLevel(logging.ERROR)

VERSION: Final = "shouwang-fleet/1"
_TICK_S: Final = 0.5  # how often resend deadlines are looked at
# A PUBACK may queue behind thousands of event publishes on a busy fleet: a status or an
# inventory waiting for it is no sign of a dead link (the keepalive tells that).
_SLOW_S: Final = 120.0


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSettings:
    """Timers and pacing of every emulated agent (the real agent's defaults unless said)."""

    resend_initial_s: float = 30.0
    resend_max_s: float = 300.0
    status_interval_s: float = 30.0
    window: int = 20
    """QoS 1 publishes awaiting PUBACK at once, per agent (the real agent allows 100)."""
    reconnect_s: float = 0.5
    """Pause before reconnecting after a drop (the real agent backs off from 0.5 s)."""
    keepalive_s: int = 30

    def __post_init__(self) -> None:
        if not 0 < self.resend_initial_s <= self.resend_max_s:
            raise ValueError(
                f"resend_initial_s {self.resend_initial_s} must be above 0 and at most "
                f"resend_max_s {self.resend_max_s}"
            )
        if not 1 <= self.window <= 1000:
            raise ValueError(f"window must be 1 to 1000, not {self.window}")
        if self.status_interval_s <= 0 or self.reconnect_s < 0:
            message = "status_interval_s must be above 0 and reconnect_s at least 0"
            raise ValueError(message)


class _Cut(Exception):  # noqa: N818 - a signal inside a session, never seen outside
    """Ends a session on purpose (the socket is already gone)."""


class _Stopping(Exception):  # noqa: N818 - a signal inside a session, never seen outside
    """Ends a session for a clean shutdown."""


class FleetAgent:
    """One emulated agent for `room`; `run()` keeps it connected until `stop()`."""

    def __init__(
        self,
        room: Room,
        broker: Broker,
        space: wire.TopicSpace,
        settings: AgentSettings,
        *,
        client_tag: str = "",
    ) -> None:
        self.room = room
        self.site = room.site
        self._broker = broker
        self._space = space
        self._settings = settings
        self._client_id = f"fleet-{self.site}{client_tag}"
        self.outbox = Outbox(self.site, space, settings.resend_initial_s)
        self._started_at = wire.format_time(datetime.now(UTC))
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._mids: set[int] = set()  # event publishes awaiting their PUBACK
        self._inflight = 0
        self._room = asyncio.Event()  # set when PUBACKs free room in the window
        self._client: aiomqtt.Client | None = None
        self._online = False
        self._stop = asyncio.Event()
        self._cut = asyncio.Event()
        self._down_until = 0.0
        self.outages: list[Outage] = []
        self.counters = Counters()

    # The outbox.

    @property
    def epoch(self) -> uuid.UUID:
        """The epoch of this agent's events (one per run)."""
        return self.outbox.epoch

    @property
    def records(self) -> list[Record]:
        """Every event this agent generated."""
        return self.outbox.records

    @property
    def unacked(self) -> int:
        """Events emitted and not acked by the hub yet."""
        return len(self.outbox.pending)

    def emit(self, draft: Draft, now: datetime | None = None) -> Record:
        """Make `draft` an event (id, `at` = now, epoch, next seq), keep it, publish it."""
        record = self.outbox.add(draft, now or datetime.now(UTC))
        self.counters.emitted += 1
        if self._online:
            self._queue.put_nowait(record.seq)
        return record

    # Payloads.

    def _status(self, state: Presence, reason: str | None = None) -> bytes:
        lanes = self.outbox.lanes()
        return wire.encode(
            AgentStatus(
                v=1,
                site=self.site,
                state=state,
                reason=reason,
                version=VERSION,
                started_at=self._started_at,
                clock=wire.format_time(datetime.now(UTC)),
                epoch=self.epoch,
                degraded=False,
                lanes=lanes,
                drivers={DRIVER: DriverHealth(state=DriverState.OK)},
            )
        )

    def _inventory(self) -> bytes:
        devices = tuple(
            InventoryDevice(id=d.id, kind=d.kind, checkin_s=d.checkin_s) for d in self.room.devices
        )
        at = wire.format_time(datetime.now(UTC))
        return wire.encode(Inventory(v=1, site=self.site, at=at, devices=devices))

    # Faults.

    def cut(self, down_s: float = 0.0) -> None:
        """Drop the connection without DISCONNECT (the broker sends the LWT); stay down `down_s`."""
        self._down_until = max(self._down_until, time.monotonic() + down_s)
        client = self._client
        if client is None or not self._online:
            return
        self.counters.cuts += 1
        self._online = False
        self.outages.append(Outage(self.site, datetime.now(UTC)))
        sock = client._client.socket()  # only a dead socket makes the broker send the LWT
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._cut.set()

    # The connection.

    async def stop(self) -> None:
        """Ask `run()` to say `offline` (reason shutdown) and disconnect cleanly."""
        self._stop.set()

    async def run(self) -> None:
        """Stay connected (reconnecting after drops) until `stop()`."""
        while not self._stop.is_set():
            wait = self._down_until - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._stop.wait()
                continue
            try:
                await self._session()
            except* (aiomqtt.MqttError, OSError, _Cut) as group:
                if not self._cut.is_set():
                    reasons = "; ".join(str(e) or type(e).__name__ for e in group.exceptions)
                    logger.warning("fleet agent %s: link down: %s", self.site, reasons)
                    if self._online:
                        self.outages.append(Outage(self.site, datetime.now(UTC)))
            self._online = False
            self._retrieve_disconnect()
            self._client = None
            self._cut.clear()
            if not self._stop.is_set():
                await asyncio.sleep(self._settings.reconnect_s)

    def _retrieve_disconnect(self) -> None:
        """Read the dead connection's disconnect error, which aiomqtt leaves unretrieved
        after a cut (asyncio would log "Future exception was never retrieved")."""
        future = getattr(self._client, "_disconnected", None)
        if isinstance(future, asyncio.Future) and future.done() and not future.cancelled():
            future.exception()

    def _make_client(self) -> aiomqtt.Client:
        b, s = self._broker, self._settings
        will = self._status(Presence.OFFLINE, "connection lost")
        client = aiomqtt.Client(
            b.host,
            b.port,
            username=b.username or self.site,
            password=b.password,
            identifier=self._client_id,
            will=aiomqtt.Will(self._space.status(self.site), will, qos=1, retain=True),
            clean_session=True,
            keepalive=s.keepalive_s,
            timeout=10.0,
            max_inflight_messages=s.window,
            socket_options=NODELAY,
            logger=_MQTT_LOGGER,
        )
        client.pending_calls_threshold = s.window + 10
        return client

    async def _session(self) -> None:
        async with self._make_client() as client:
            self._client = client
            status_topic = self._space.status(self.site)
            online = self._status(Presence.ONLINE)
            await client.publish(status_topic, online, qos=1, retain=True, timeout=_SLOW_S)
            inventory = self._space.inventory(self.site)
            await client.publish(inventory, self._inventory(), qos=1, retain=True, timeout=_SLOW_S)
            await client.subscribe(self._space.ack(self.site), qos=1, timeout=_SLOW_S)
            self.counters.connections += 1
            if self.outages and self.outages[-1].up_at is None:
                self.outages[-1].up_at = datetime.now(UTC)
            self._requeue_all()
            self._mids = set()
            self._inflight = 0
            self._watch_pubacks(client)
            self._online = True
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._receive(client), name=f"acks:{self.site}")
                    tasks.create_task(self._send(client), name=f"send:{self.site}")
                    tasks.create_task(self._resend(), name=f"resend:{self.site}")
                    tasks.create_task(self._renew(client, status_topic), name=f"status:{self.site}")
                    tasks.create_task(self._watch(), name=f"watch:{self.site}")
            except* _Stopping:
                self._online = False
                offline = self._status(Presence.OFFLINE, "shutdown")
                with contextlib.suppress(aiomqtt.MqttError):
                    await client.publish(status_topic, offline, qos=1, retain=True, timeout=5)

    def _requeue_all(self) -> None:
        """Everything pending goes out again at once, P0 first, then by seq."""
        self._queue = asyncio.Queue()
        if self.counters.connections > 1:
            self.counters.republished += len(self.outbox.pending)
        for pending in sorted(self.outbox.pending.values(), key=lambda p: (p.lane, p.seq)):
            pending.due = math.inf
            pending.wait_s = self._settings.resend_initial_s
            self._queue.put_nowait(pending.seq)

    async def _watch(self) -> None:
        stop = asyncio.ensure_future(self._stop.wait())
        cut = asyncio.ensure_future(self._cut.wait())
        try:
            await asyncio.wait({stop, cut}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            cut.cancel()
        if self._cut.is_set():
            raise _Cut
        raise _Stopping

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            try:
                ack = wire.decode_ack(payload if isinstance(payload, bytes) else b"")
            except wire.PayloadError as exc:
                logger.warning("fleet agent %s: malformed ack ignored: %s", self.site, exc)
                continue
            self.counters.acked += self.outbox.on_ack(ack)

    def _watch_pubacks(self, client: aiomqtt.Client) -> None:
        """Count the PUBACKs of event publishes (paho calls back for each, then aiomqtt)."""
        paho = client._client
        inner = paho.on_publish
        mids = self._mids

        def on_publish(*args: Any) -> None:
            mid = args[2]
            if mid in mids:
                mids.discard(mid)
                self._inflight -= 1
                if self._inflight < self._settings.window:
                    self._room.set()
            if inner is not None:
                inner(*args)

        paho.on_publish = on_publish

    async def _send(self, client: aiomqtt.Client) -> None:
        """Hand events to paho, keeping about `window` awaiting their PUBACK.

        Publishing goes straight to paho, not through a task per message: paho's own
        in-flight window sends the next message as soon as a PUBACK frees a slot, in the
        same loop iteration, instead of waking a task for each (that pattern reached
        ~2,000 messages/s over 10 agents; docs/fleet.md).
        """
        paho = client._client
        window = self._settings.window
        queue = self._queue
        while True:
            seq = await queue.get()
            pending = self.outbox.pending.get(seq)
            if pending is None:
                continue  # acked meanwhile
            while self._inflight >= 2 * window:
                self._room.clear()
                await self._room.wait()
            if pending.due != math.inf:
                self.counters.resent += 1
            pending.due = time.monotonic() + pending.wait_s
            info = paho.publish(pending.topic, pending.payload, qos=1)
            if info.rc != 0:
                raise aiomqtt.MqttCodeError(info.rc, "could not publish an event")
            self._mids.add(info.mid)
            self._inflight += 1
            self.counters.published += 1

    async def _resend(self) -> None:
        settings = self._settings
        while True:
            await asyncio.sleep(min(_TICK_S, settings.resend_initial_s / 2))
            now = time.monotonic()
            due = [p for p in self.outbox.pending.values() if p.due <= now]
            due.sort(key=lambda p: (p.lane, p.seq))
            for pending in due:
                pending.wait_s = min(pending.wait_s * 2, settings.resend_max_s)
                pending.due = now + pending.wait_s
                self._queue.put_nowait(pending.seq)

    async def _renew(self, client: aiomqtt.Client, topic: str) -> None:
        while True:
            await asyncio.sleep(self._settings.status_interval_s)
            status = self._status(Presence.ONLINE)
            await client.publish(topic, status, qos=1, retain=True, timeout=_SLOW_S)
