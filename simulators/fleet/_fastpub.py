"""A fast QoS 1 publisher: paho driven from the publishing thread, window kept full.

Measured on this machine (docs/fleet.md): paho publishing QoS 1 from one thread while
`loop_start()` runs the network loop in another reached ~660 messages/s; driving `loop()`
from the publishing thread itself, with the in-flight window kept full, reaches
13,000-18,000/s. `FastPublisher` is that second pattern: `publish` writes at once while
the window has room, and otherwise runs the network loop (reading PUBACKs) until it has.
"""

from __future__ import annotations

import socket
import time
import uuid
from typing import TYPE_CHECKING, Final, Self

from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from simulators.fleet._broker import NODELAY

if TYPE_CHECKING:
    from types import TracebackType

    from paho.mqtt.client import ConnectFlags, DisconnectFlags
    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCode

    from simulators.fleet._broker import Broker

__all__ = ["DEFAULT_WINDOW", "FastPublisher", "PublishError"]

DEFAULT_WINDOW: Final = 100
_CONNECT_S: Final = 10.0


class PublishError(Exception):
    """The broker refused the connection, or the connection was lost while publishing."""


class FastPublisher:
    """One MQTT client publishing QoS 1 from the calling thread (a context manager).

    `acked` counts PUBACKs; `flush` waits until every publish is acknowledged.
    """

    def __init__(
        self, broker: Broker, *, client_id: str | None = None, window: int = DEFAULT_WINDOW
    ) -> None:
        self._broker = broker
        self._window = window
        self._client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"shouwang-fleet-{uuid.uuid4().hex[:12]}",
            clean_session=True,
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        self._client.max_inflight_messages_set(window)
        self._client.max_queued_messages_set(0)
        if broker.username:
            self._client.username_pw_set(broker.username, broker.password)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._connected: ReasonCode | None = None
        self._lost: str | None = None
        self.published = 0
        """QoS 1 publishes handed to the client."""
        self.acked = 0
        """PUBACKs received."""

    def _on_connect(
        self,
        _client: Client,
        _userdata: object,
        _flags: ConnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._connected = reason

    def _on_disconnect(
        self,
        _client: Client,
        _userdata: object,
        _flags: DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._lost = str(reason)

    def _on_publish(
        self,
        _client: Client,
        _userdata: object,
        _mid: int,
        _reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self.acked += 1

    def __enter__(self) -> Self:
        broker = self._broker
        try:
            self._client.connect(broker.host, broker.port, keepalive=60)
        except OSError as exc:
            raise PublishError(f"cannot connect to {broker.url}: {exc}") from exc
        sock = self._client.socket()
        if isinstance(sock, socket.socket):
            for level, option, value in NODELAY:
                sock.setsockopt(level, option, value)
        deadline = time.monotonic() + _CONNECT_S
        while self._connected is None:
            self._loop(0.1)
            if time.monotonic() > deadline:
                raise PublishError(f"no CONNACK from {broker.url} within {_CONNECT_S} s")
        if self._connected.is_failure:
            raise PublishError(f"{broker.url} refused the connection: {self._connected}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._client.disconnect()
        self._client.loop(0.1)

    def _loop(self, timeout: float) -> None:
        code = self._client.loop(timeout)
        if self._lost is not None or code not in (MQTTErrorCode.MQTT_ERR_SUCCESS,):
            raise PublishError(f"connection to {self._broker.url} lost: {self._lost or code}")

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1; runs the network loop first while the window is full."""
        while self.published - self.acked >= self._window:
            self._loop(1.0)
        self._client.publish(topic, payload, qos=1, retain=retain)
        self.published += 1

    def flush(self, within_s: float = 60.0) -> None:
        """Block until every publish so far is acknowledged (`PublishError` after `within_s`)."""
        deadline = time.monotonic() + within_s
        while self.acked < self.published:
            if time.monotonic() > deadline:
                missing = self.published - self.acked
                raise PublishError(f"{missing} publishes not acknowledged within {within_s} s")
            self._loop(0.5)
