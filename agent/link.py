"""The MQTT link: the agent's one connection to the broker, kept up for ever.

On every (re)connect, in this order: the retained status `online` (the LWT, set at
CONNECT, is the same status saying `offline`), the retained inventory of configured
devices, the subscription to the site's `ack` topic, then every event waiting in the
outbox, P0 first, then by seq. After that, events are published as they are appended;
each ack deletes exactly the (epoch, seq) it names from the outbox; the status is
renewed every `status_interval_s`, and at once when `degraded` changes. Given a state
board, it also publishes each device's state retained (`agent._state_publisher`): the
whole board on every connect, then each change.

Pacing (`docs/delivery.md`): at most `max_inflight` QoS 1 publishes await their PUBACK
at once (fewer if an MQTT 5 broker's receive-maximum says so); at most `max_unacked`
events are published and not yet acked by the hub, past which only P0 goes out until
acks come. An event not acked is published again after `resend_initial_s`, then after
twice that, up to `resend_max_s`, with the same bytes (same id, `at`, epoch, seq).
A clean shutdown publishes `offline` (reason "shutdown") before disconnecting, since a
clean DISCONNECT discards the LWT.

Losing the broker is never an error: the link reconnects with jittered exponential
backoff. A malformed ack is logged and ignored. Anything else (the outbox failing)
ends the link with that error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Self

import aiomqtt

import wire
from agent._backoff import Backoff
from agent._state_publisher import publish_states
from agent._tls import tls_context
from agent._unacked import Unacked
from wire import DriverState, Lane, Presence

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Mapping, Sequence
    from types import TracebackType

    from paho.mqtt.client import Client as PahoClient
    from paho.mqtt.client import ConnectFlags
    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCode

    from agent.config import AgentConfig
    from agent.outbox import Entry, Outbox
    from agent.state import StateBoard

__all__ = ["PAGE_SIZE", "Link", "client_id_for"]

logger = logging.getLogger(__name__)

PAGE_SIZE: Final = 100
"""Events read from the outbox and published concurrently at a time."""
_SHUTDOWN_S: Final = 5.0
_STATUS_CHECK_S: Final = 1.0  # how often `degraded` is looked at (changes go out at once)
_MAX_REASON: Final = 200
_PROTOCOLS: Final = {"3.1.1": aiomqtt.ProtocolVersion.V311, "5": aiomqtt.ProtocolVersion.V5}
# Nagle's algorithm off: with it, a small packet (a PUBLISH, a PUBACK) written while an
# earlier one is unacknowledged waits for the broker's delayed TCP ACK, up to 40 ms on
# Linux, whenever the window is full and nothing else is being written. It held a
# backlog drain to under half its rate (docs/delivery.md, "Backlog drain benchmark").
_SOCKET_OPTIONS: Final = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


def client_id_for(config: AgentConfig) -> str:
    """The link's fixed MQTT client id: configured, or `shouwang-agent-{site}`."""
    return config.mqtt.client_id or f"shouwang-agent-{config.site}"


class _Stopping(Exception):  # noqa: N818 - a signal between tasks, never seen outside
    """Raised inside a session's task group to end it for a clean shutdown."""


class Link:
    """The agent's MQTT link, as an async context manager: connected (and reconnecting)
    from entry until exit, which says `offline` and disconnects cleanly.

    `drivers` reports each driver's health for the status; `started_at` is when the
    agent process started; `states`, if given, is the board of device states to publish;
    `publishers` are more tasks to run on every connection with its client (the camera
    snapshots' publisher); one failing ends the connection like any other link task.
    """

    def __init__(
        self,
        config: AgentConfig,
        outbox: Outbox,
        *,
        version: str,
        started_at: datetime,
        drivers: Callable[[], Mapping[str, wire.DriverHealth]] = dict,
        states: StateBoard | None = None,
        publishers: Sequence[Callable[[aiomqtt.Client], Coroutine[Any, Any, None]]] = (),
    ) -> None:
        self._config = config
        self._mqtt = config.mqtt
        self._outbox = outbox
        self._version = version
        self._started_at = wire.format_time(started_at)
        self._drivers = drivers
        self._states = states
        self._publishers = tuple(publishers)
        self._topics = wire.TopicSpace(config.mqtt.topic_prefix)
        self._tls = None if config.mqtt.tls is None else tls_context(config.mqtt.tls)
        self._backoff = Backoff(config.mqtt.reconnect_min_s, config.mqtt.reconnect_max_s)
        self._stop = asyncio.Event()
        self._tasks: asyncio.TaskGroup | None = None
        self._runner: asyncio.Task[None] | None = None
        self._failures = 0
        delivery = config.delivery
        self._unacked = Unacked(delivery.resend_initial_s, delivery.resend_max_s)
        self._acked = asyncio.Event()  # set when acks free room under max_unacked
        self._tracking = asyncio.Event()  # set when an event starts its resend timer
        self._window = asyncio.Semaphore(delivery.max_inflight)
        self._receive_maximum: int | None = None
        self._published_degraded: bool | None = None
        self.connections = 0
        """How many times the link has connected (for the curious: logs and tests)."""
        self.inflight = 0
        """QoS 1 publishes of events now awaiting their PUBACK."""
        self.peak_inflight = 0
        """The most publishes of events that ever awaited their PUBACK at once."""
        self.resent = 0
        """Events published again because no ack came in time."""

    @property
    def unacked(self) -> int:
        """Events published on this connection and not acked by the hub yet."""
        return len(self._unacked)

    async def __aenter__(self) -> Self:
        self._stop.clear()
        self._tasks = asyncio.TaskGroup()
        await self._tasks.__aenter__()
        self._runner = self._tasks.create_task(self._run(), name=f"link:{self._config.site}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tasks, runner = self._tasks, self._runner
        if tasks is None or runner is None:
            return
        self._tasks = self._runner = None
        self._stop.set()
        # Give a session time to say offline (or a connect attempt time to end); then cancel.
        _, pending = await asyncio.wait({runner}, timeout=_SHUTDOWN_S + self._mqtt.timeout_s)
        for task in pending:
            task.cancel()
        await tasks.__aexit__(exc_type, exc, tb)

    # The reconnect loop.

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self._session()
            except* (aiomqtt.MqttError, OSError) as group:
                reason = "; ".join(str(error) or type(error).__name__ for error in group.exceptions)
                logger.warning(
                    "mqtt link to %s:%d down: %s", self._mqtt.host, self._mqtt.port, reason
                )
            if self._stop.is_set():
                return
            delay = self._backoff.delay(self._failures)
            self._failures += 1
            logger.info("mqtt link: reconnecting in %.2f s (attempt %d)", delay, self._failures)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stop.wait()

    def _client(self, will: bytes) -> aiomqtt.Client:
        mqtt, site = self._mqtt, self._config.site
        protocol = _PROTOCOLS[mqtt.protocol]
        client = aiomqtt.Client(
            mqtt.host,
            mqtt.port,
            username=mqtt.username or site,
            password=None if mqtt.password is None else mqtt.password.get_secret_value(),
            identifier=client_id_for(self._config),
            protocol=protocol,
            will=aiomqtt.Will(self._topics.status(site), will, qos=1, retain=True),
            # Every reconnect resends all that is pending, so no broker session is kept.
            clean_session=True if protocol is aiomqtt.ProtocolVersion.V311 else None,
            keepalive=mqtt.keepalive_s,
            timeout=mqtt.timeout_s,
            max_inflight_messages=self._config.delivery.max_inflight,
            socket_options=_SOCKET_OPTIONS,
            tls_context=self._tls,
        )
        # A full window is the plan, not a concern: aiomqtt would warn past 10 by default.
        client.pending_calls_threshold = self._config.delivery.max_inflight + 10
        self._receive_maximum = None
        paho = client._client

        def on_connect(
            paho: PahoClient,
            userdata: object,
            flags: ConnectFlags,
            reason_code: ReasonCode,
            properties: Properties | None = None,
        ) -> None:
            # aiomqtt drops the CONNACK's properties; an MQTT 5 broker's receive-maximum
            # caps our window.
            self._receive_maximum = getattr(properties, "ReceiveMaximum", None)
            client._on_connect(paho, userdata, flags, reason_code, properties)

        paho.on_connect = on_connect
        return client

    async def _session(self) -> None:
        """One connection, from CONNECT to its loss (an error) or a clean shutdown."""
        lanes = self._outbox.stats()
        will = self._status(Presence.OFFLINE, "connection lost", lanes)
        async with self._client(wire.encode(will)) as client:
            self._failures = 0
            self.connections += 1
            # Everything pending is published again on this connection: timers restart.
            self._unacked.clear()
            window = min(self._config.delivery.max_inflight, self._receive_maximum or 65535)
            self._window = asyncio.Semaphore(window)
            logger.info(
                "mqtt link up: %s:%d as %s (MQTT %s, window %d)",
                self._mqtt.host,
                self._mqtt.port,
                client.identifier,
                self._mqtt.protocol,
                window,
            )
            await self._publish_status(client, Presence.ONLINE)
            await client.publish(
                self._topics.inventory(self._config.site),
                wire.encode(self._inventory()),
                qos=1,
                retain=True,
            )
            await client.subscribe(self._topics.ack(self._config.site), qos=1)
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._take_acks(client), name="link:acks")
                    tasks.create_task(self._send_events(client), name="link:events")
                    tasks.create_task(self._resend(client), name="link:resend")
                    tasks.create_task(self._renew_status(client), name="link:status")
                    tasks.create_task(self._until_stopped(), name="link:stop")
                    if self._states is not None:
                        site = self._config.site
                        states = publish_states(client, self._states, self._topics, site)
                        tasks.create_task(states, name="link:states")
                    for n, publisher in enumerate(self._publishers):
                        tasks.create_task(publisher(client), name=f"link:publisher:{n}")
            except* _Stopping:
                await self._say_offline(client, self._status(Presence.OFFLINE, "shutdown"))
            except* (aiomqtt.MqttError, OSError):
                raise  # the connection is gone: the broker publishes the LWT
            except* Exception as group:
                # Leaving disconnects cleanly, which discards the LWT: say offline first,
                # or the retained status would say a failed agent is online.
                reason = f"agent failure: {group.exceptions[0]}"[:_MAX_REASON]
                await self._say_offline(client, self._status(Presence.OFFLINE, reason, lanes))
                raise

    async def _say_offline(self, client: aiomqtt.Client, status: wire.AgentStatus) -> None:
        """Publish an offline status before a clean disconnect; log if the broker is gone."""
        try:
            await client.publish(
                self._topics.status(self._config.site), wire.encode(status), qos=1, retain=True
            )
        except aiomqtt.MqttError as exc:
            logger.warning("mqtt link: could not say offline before leaving: %s", exc)
        else:
            logger.info("mqtt link: said offline (%s), disconnecting", status.reason)

    async def _until_stopped(self) -> None:
        await self._stop.wait()
        raise _Stopping

    # What a session does.

    async def _send_events(self, client: aiomqtt.Client) -> None:
        """Publish everything pending, then each new event as it is appended.

        `after[lane]` is the highest seq of that lane published in this session. Pages
        are taken P0 first and the search restarts at P0 after each page, so a new alarm
        overtakes a backlog of motion events. At `max_unacked`, only P0 is searched until
        acks free room (an alarm is never held back by a backlog).
        """
        after = dict.fromkeys(Lane, 0)
        async with asyncio.TaskGroup() as publishing:
            while True:
                target = self._outbox.last_seq
                room = self._config.delivery.max_unacked - len(self._unacked)
                if page := await self._next_page(after, room):
                    await self._publish_page(client, page, publishing)
                    after[page[-1].lane] = page[-1].seq
                    continue
                # Every event up to `target` of the lanes searched was committed before
                # the pages were read: none is left behind.
                if room > 0:
                    after = {lane: max(seq, target) for lane, seq in after.items()}
                    await self._outbox.wait_beyond(target)
                else:
                    after[Lane.P0] = max(after[Lane.P0], target)
                    await self._room_or_growth(target)

    async def _room_or_growth(self, target: int) -> None:
        """Wait until acks free room under `max_unacked` or an event past `target` comes."""
        self._acked.clear()
        if len(self._unacked) < self._config.delivery.max_unacked:
            return  # acks came while the last page was being read
        waiters = {
            asyncio.create_task(self._acked.wait(), name="link:room"),
            asyncio.create_task(self._outbox.wait_beyond(target), name="link:growth"),
        }
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def _next_page(self, after: dict[Lane, int], room: int) -> list[Entry]:
        for lane in Lane:
            if lane is not Lane.P0 and room <= 0:
                break
            limit = PAGE_SIZE if lane is Lane.P0 else min(PAGE_SIZE, room)
            page = await self._outbox.pending(lane, after=after[lane], limit=limit)
            if page:
                return page
        return []

    async def _publish_page(
        self, client: aiomqtt.Client, page: list[Entry], publishing: asyncio.TaskGroup
    ) -> None:
        """Start publishing `page` in order; returns once every event holds a window slot.

        It does not wait for the PUBACKs: the next page is read while this one is in
        flight, so the window stays full during a backlog drain instead of emptying at
        every page.
        """
        for entry in page:  # tracked before publishing: an ack may beat the PUBACK
            self._unacked.sent(entry.lane, entry.seq)
        self._tracking.set()
        window = self._window
        for entry in page:
            await window.acquire()
            publishing.create_task(self._publish_holding(client, entry, window))
        logger.debug("mqtt link: publishing seq %d..%d", page[0].seq, page[-1].seq)

    async def _publish_entries(self, client: aiomqtt.Client, entries: list[Entry]) -> None:
        async with asyncio.TaskGroup() as tasks:
            for entry in entries:
                tasks.create_task(self._publish_entry(client, entry))

    async def _publish_entry(self, client: aiomqtt.Client, entry: Entry) -> None:
        """One QoS 1 publish, within the in-flight window until its PUBACK."""
        window = self._window
        await window.acquire()
        await self._publish_holding(client, entry, window)

    async def _publish_holding(
        self, client: aiomqtt.Client, entry: Entry, window: asyncio.Semaphore
    ) -> None:
        """One QoS 1 publish holding a slot of `window`, which its PUBACK frees."""
        topic = self._topics.events(self._config.site, entry.kind, entry.device)
        self.inflight += 1
        self.peak_inflight = max(self.peak_inflight, self.inflight)
        try:
            await client.publish(topic, entry.payload, qos=1)
        finally:
            self.inflight -= 1
            window.release()

    async def _resend(self, client: aiomqtt.Client) -> None:
        """Publish again, P0 first, every event whose resend timer ran out unacked."""
        while True:
            due_at = self._unacked.next_due()
            if due_at is None or due_at > time.monotonic():
                self._tracking.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(None if due_at is None else _loop_time(due_at)):
                        await self._tracking.wait()
                continue
            seqs = self._unacked.take_due()
            for start in range(0, len(seqs), PAGE_SIZE):
                chunk = seqs[start : start + PAGE_SIZE]
                entries = await self._outbox.entries(chunk)
                held = {entry.seq for entry in entries}
                self._unacked.forget(seq for seq in chunk if seq not in held)  # shed or acked
                if entries:
                    await self._publish_entries(client, entries)
                    self.resent += len(entries)
                    logger.info("mqtt link: resent %d unacked events", len(entries))

    async def _take_acks(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            await self._take_ack(message)

    async def _take_ack(self, message: aiomqtt.Message) -> None:
        try:
            topic = self._topics.parse(message.topic.value)
        except wire.TopicError as exc:
            logger.warning("mqtt link: ignoring a message on an unexpected topic: %s", exc)
            return
        match topic, message.payload:
            case wire.AckTopic(site=self._config.site), bytes() | bytearray() as payload:
                try:
                    ack = wire.decode_ack(bytes(payload))
                except wire.PayloadError as exc:
                    logger.warning("mqtt link: ignoring a malformed ack: %s", exc)
                    return
            case _:
                logger.warning("mqtt link: ignoring a message on %s", message.topic.value)
                return
        deleted = await self._outbox.delete(ack.epoch, ack.ranges)
        if ack.epoch == self._outbox.epoch and self._unacked.acked(ack.ranges):
            self._acked.set()
        if ack.epoch != self._outbox.epoch:
            logger.info(
                "mqtt link: ignoring an ack for epoch %s (ours: %s)", ack.epoch, self._outbox.epoch
            )
        else:
            logger.debug("mqtt link: ack of %d seqs deleted %d events", ack.count(), deleted)

    async def _renew_status(self, client: aiomqtt.Client) -> None:
        """Renew the status every `status_interval_s`, and at once when `degraded` changes."""
        renew_at = time.monotonic() + self._config.status_interval_s
        while True:
            await asyncio.sleep(_STATUS_CHECK_S)
            if (
                time.monotonic() >= renew_at
                or self._degraded(self._drivers()) != self._published_degraded
            ):
                await self._publish_status(client, Presence.ONLINE)
                renew_at = time.monotonic() + self._config.status_interval_s

    async def _publish_status(
        self, client: aiomqtt.Client, state: Presence, reason: str | None = None
    ) -> None:
        status = self._status(state, reason)
        await client.publish(
            self._topics.status(self._config.site), wire.encode(status), qos=1, retain=True
        )
        self._published_degraded = status.degraded

    # Payloads.

    def _degraded(self, drivers: Mapping[str, wire.DriverHealth]) -> bool:
        """A driver is not ok, or the outbox shed an event within `degraded_hold_s`."""
        shed_at = self._outbox.last_shed_at
        hold = self._config.delivery.degraded_hold_s
        recently_shed = shed_at is not None and (
            (datetime.now(UTC) - shed_at).total_seconds() < hold
        )
        return recently_shed or any(
            health.state is not DriverState.OK for health in drivers.values()
        )

    def _status(
        self, state: Presence, reason: str | None, lanes: wire.LaneSet | None = None
    ) -> wire.AgentStatus:
        """The agent's status now; `lanes` read from the outbox unless given."""
        drivers = dict(self._drivers())
        return wire.AgentStatus(
            v=wire.VERSION,
            site=self._config.site,
            state=state,
            reason=reason,
            version=self._version,
            started_at=self._started_at,
            clock=wire.format_time(datetime.now(UTC)),
            epoch=self._outbox.epoch,
            degraded=self._degraded(drivers),
            lanes=self._outbox.stats() if lanes is None else lanes,
            drivers=drivers,
        )

    def _inventory(self) -> wire.Inventory:
        return wire.Inventory(
            v=wire.VERSION,
            site=self._config.site,
            at=wire.format_time(datetime.now(UTC)),
            devices=tuple(
                wire.InventoryDevice(
                    id=device.id, kind=device.kind, checkin_s=device.checkin_s, label=device.label
                )
                for device in self._config.devices
            ),
        )


def _loop_time(monotonic_at: float) -> float:
    """A `time.monotonic()` instant on the running loop's clock."""
    return asyncio.get_running_loop().time() + (monotonic_at - time.monotonic())
