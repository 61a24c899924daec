"""The hub's one connection to the broker: subscribe, receive, publish, acknowledge.

`MqttLink` keeps the connection up (jittered backoff between attempts), with a fixed
client id and a persistent session (MQTT 3.1.1 `clean_session=False`; MQTT 5
`clean_start=False` with a session expiry), so the broker queues QoS 1 messages while the
hub restarts. It sets the hub's LWT and publishes its "birth" message after every
(re)connection.

Messages are acknowledged to the broker (PUBACK) by the hub, after the transaction that
stored them has committed (`ack`), not on receipt: a hub that dies mid-batch leaves the
messages with the broker, which sends them again. aiomqtt 2.5 has no option for this; paho
2.x (underneath) has `manual_ack`, reached through aiomqtt's client. A message is only
acknowledged on the connection that delivered it: after a reconnection the broker
redelivers whatever was not acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub._loop import BackgroundLoop
from hub.backoff import Backoff
from hub.errors import BrokerUnavailable

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable

__all__ = ["LinkSettings", "MqttLink", "Received"]

logger = logging.getLogger(__name__)

_QOS: Final = 1
# aiomqtt warns above 10 concurrent publishes; the hub sends a batch's acks concurrently.
_PENDING_CALLS_WARNING: Final = 10_000
# Nagle's algorithm off. The hub writes a batch's PUBACKs and then an ack PUBLISH, all
# small, while the broker has nothing to send it until those PUBACKs arrive: with Nagle,
# each batch waited for the broker's delayed TCP ACK (up to 40 ms on Linux), which held
# ingest to about half its rate (docs/delivery.md, "Backlog drain benchmark").
_SOCKET_OPTIONS: Final = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


@dataclass(frozen=True, slots=True)
class Received:
    """One message as the broker delivered it, and on which connection."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    retain: bool
    connection: int


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """What the link needs to connect (derived from `MqttConfig` at run time)."""

    host: str
    port: int
    client_id: str
    subscriptions: tuple[str, ...]
    will: tuple[str, bytes]
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    keepalive_s: int = 30
    session_expiry_s: int = 86400
    clean_session: bool = False
    """MQTT 3.1.1 only: start afresh (a member of a share group, docs/scale.md)."""
    receive_maximum: int = 1000
    """MQTT 5 only: most unacknowledged messages the broker may send at once. Messages are
    acknowledged after their commit, so this bounds the hub's inbox; without it the
    broker may send 65,535."""
    timeout_s: float = 10.0
    reconnect_max_s: float = 30.0
    tls: ssl.SSLContext | None = field(default=None, repr=False)


class MqttLink(BackgroundLoop):
    """The connection to the broker, kept up by the task `mqtt` in the hub's task group.

    `birth()` gives the (topic, payload) published retained after every connection.
    """

    # Cancelling leaves `async with client` normally: a DISCONNECT, so no LWT.
    task_name = "mqtt"

    def __init__(
        self,
        settings: LinkSettings,
        *,
        tasks: asyncio.TaskGroup,
        birth: Callable[[], tuple[str, bytes]] | None = None,
    ) -> None:
        self._settings = settings
        super().__init__(tasks)
        self._birth = birth
        self._inbox: asyncio.Queue[Received] = asyncio.Queue()
        self._client: aiomqtt.Client | None = None
        self._connection = 0
        self._up = asyncio.Event()

    @property
    def connected(self) -> bool:
        """Whether the link is connected and subscribed right now."""
        return self._client is not None

    async def wait_connected(self, within_s: float) -> bool:
        """Wait up to `within_s` seconds for the link to be up; whether it is."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_s):
                await self._up.wait()
        return self.connected

    async def receive(self, within_s: float) -> Received | None:
        """The next message, or None if none came within `within_s` seconds."""
        try:
            async with asyncio.timeout(within_s):
                return await self._inbox.get()
        except TimeoutError:
            return None

    def receive_nowait(self) -> Received | None:
        """The next message if one is waiting, else None."""
        try:
            return self._inbox.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def ack(self, message: Received) -> None:
        """Acknowledge `message` to the broker (PUBACK), if its connection is still up."""
        client = self._client
        if client is None or message.connection != self._connection or message.qos == 0:
            return
        # paho's manual ack, which aiomqtt 2.5 does not wrap (see the module docstring).
        client._client.ack(message.mid, message.qos)

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK; `BrokerUnavailable` if down."""
        client = self._client
        if client is None:
            raise BrokerUnavailable(f"cannot publish to {topic}: not connected to the broker")
        try:
            await client.publish(topic, payload, qos=_QOS, retain=retain)
        except aiomqtt.MqttError as exc:
            raise BrokerUnavailable(f"cannot publish to {topic}: {exc}") from exc

    def _client_for_attempt(self) -> aiomqtt.Client:
        """A fresh aiomqtt client with the session, will and credentials set."""
        s = self._settings
        topic, payload = s.will
        will = aiomqtt.Will(topic, payload, qos=_QOS, retain=True)
        if s.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = s.session_expiry_s
            properties.ReceiveMaximum = s.receive_maximum
            client = aiomqtt.Client(
                s.host,
                s.port,
                identifier=s.client_id,
                username=s.username,
                password=s.password,
                protocol=aiomqtt.ProtocolVersion.V5,
                clean_start=False,
                properties=properties,
                will=will,
                keepalive=s.keepalive_s,
                timeout=s.timeout_s,
                socket_options=_SOCKET_OPTIONS,
                tls_context=s.tls,
            )
        else:
            client = aiomqtt.Client(
                s.host,
                s.port,
                identifier=s.client_id,
                username=s.username,
                password=s.password,
                protocol=aiomqtt.ProtocolVersion.V311,
                clean_session=s.clean_session,
                will=will,
                keepalive=s.keepalive_s,
                timeout=s.timeout_s,
                socket_options=_SOCKET_OPTIONS,
                tls_context=s.tls,
            )
        client._client.manual_ack_set(on=True)  # see the module docstring
        client.pending_calls_threshold = _PENDING_CALLS_WARNING
        return client

    async def _session(self, client: aiomqtt.Client) -> None:
        """Subscribe, announce, then pass every message to the inbox until disconnected."""
        await client.subscribe([(f, _QOS) for f in self._settings.subscriptions])
        self._connection += 1
        self._client = client
        self._up.set()
        logger.info(
            "connected to the broker at %s:%d as %s",
            self._settings.host,
            self._settings.port,
            self._settings.client_id,
        )
        if self._birth is not None:
            topic, payload = self._birth()
            await client.publish(topic, payload, qos=_QOS, retain=True)
        connection = self._connection
        async for message in client.messages:
            payload = message.payload
            self._inbox.put_nowait(
                Received(
                    topic=message.topic.value,
                    payload=payload if isinstance(payload, bytes) else str(payload).encode(),
                    qos=message.qos,
                    mid=message.mid,
                    retain=message.retain,
                    connection=connection,
                )
            )

    async def _run(self) -> None:
        backoff = Backoff(initial=0.2, maximum=self._settings.reconnect_max_s)
        while True:
            try:
                async with self._client_for_attempt() as client:
                    backoff.reset()
                    await self._session(client)
            except aiomqtt.MqttError as exc:
                logger.warning(
                    "broker connection to %s:%d lost or refused: %s",
                    self._settings.host,
                    self._settings.port,
                    exc,
                )
            finally:
                self._client = None
                self._up.clear()
            await asyncio.sleep(backoff.next_delay())
