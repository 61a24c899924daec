"""What the agent's tests share: config builders, a plain MQTT watcher, waiting helpers."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

import aiomqtt

import wire
from agent import AgentConfig

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path
    from types import TracebackType

    from tests.harness import MqttEndpoint

SITE = "room-07"
DOOR = "door-0042"
PANIC = "panic-0031"
DOOR_TOKEN = "door-token-0123456789"
PANIC_TOKEN = "panic-token-0123456789"
DEADLINE_S = 5.0


def devices() -> list[dict[str, Any]]:
    """Two HTTP devices of different kinds, as they appear in a config file."""
    return [
        {
            "id": DOOR,
            "kind": "door_lock",
            "driver": "http",
            "token": DOOR_TOKEN,
            "checkin_s": 300,
            "label": "Block 3 entrance",
        },
        {
            "id": PANIC,
            "kind": "panic_alarm",
            "driver": "http",
            "token": PANIC_TOKEN,
            "checkin_s": 3600,
        },
    ]


def make_config(
    tmp_path: Path,
    *,
    mqtt: dict[str, Any] | None = None,
    http: dict[str, Any] | None = None,
    outbox: dict[str, Any] | None = None,
    **top: Any,
) -> AgentConfig:
    """A valid config for site `SITE` with the two devices; sections overridable."""
    data: dict[str, Any] = {
        "site": SITE,
        "mqtt": {"host": "127.0.0.1", **(mqtt or {})},
        "outbox": {"path": str(tmp_path / "outbox.sqlite3"), **(outbox or {})},
        "http": {"port": 0, **(http or {})},
        "devices": devices(),
        **top,
    }
    return AgentConfig.model_validate(data)


def mqtt_section(
    endpoint: MqttEndpoint,
    prefix: str,
    *,
    protocol: str = "3.1.1",
    **more: Any,
) -> dict[str, Any]:
    """The `mqtt` section for the test broker, this test's prefix and a client id of its own."""
    section: dict[str, Any] = {
        "host": endpoint.host,
        "port": endpoint.port,
        "protocol": protocol,
        "client_id": f"shouwang-agent-test-{uuid.uuid4().hex[:12]}",
        "topic_prefix": prefix,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.5,
        "timeout_s": 5,
        **more,
    }
    if endpoint.username is not None:
        section["username"] = endpoint.username
    if endpoint.password is not None:
        section["password"] = endpoint.password
    return section


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, *, within_s: float = DEADLINE_S
) -> None:
    """Wait until `check()` is true, polling briefly; fail naming `what` at the deadline."""
    deadline = time.monotonic() + within_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within_s} s: {what}")
        await asyncio.sleep(0.01)


@dataclass(frozen=True, slots=True)
class Seen:
    """One message a watcher received."""

    topic: str
    payload: bytes
    retain: bool


class Watcher:
    """A plain MQTT client that records everything published under some filters."""

    def __init__(self, endpoint: MqttEndpoint, *filters: str) -> None:
        self._client = aiomqtt.Client(
            endpoint.host,
            endpoint.port,
            username=endpoint.username,
            password=endpoint.password,
            identifier=f"watcher-{uuid.uuid4().hex[:12]}",
        )
        self._filters = filters
        self._reader: asyncio.Task[None] | None = None
        self._grew = asyncio.Event()
        self.seen: list[Seen] = []

    async def __aenter__(self) -> Self:
        await self._client.__aenter__()
        for topic_filter in self._filters:
            await self._client.subscribe(topic_filter, qos=1)
        self._reader = asyncio.create_task(self._read(), name="watcher")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._client.__aexit__(exc_type, exc, tb)

    async def _read(self) -> None:
        async for message in self._client.messages:
            payload = message.payload
            assert isinstance(payload, bytes)
            self.seen.append(Seen(message.topic.value, payload, message.retain))
            self._grew.set()

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish as this client (QoS 1)."""
        await self._client.publish(topic, payload, qos=1, retain=retain)

    def matching(self, predicate: Callable[[Seen], bool]) -> list[Seen]:
        """Every message so far for which `predicate` holds, in arrival order."""
        return [seen for seen in self.seen if predicate(seen)]

    async def wait_for(
        self, predicate: Callable[[Seen], bool], what: str, *, count: int = 1
    ) -> list[Seen]:
        """Wait until `count` messages match `predicate`; return all that match."""
        deadline = time.monotonic() + DEADLINE_S
        while len(found := self.matching(predicate)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"not within {DEADLINE_S} s: {what}; seen {self.seen!r}")
            self._grew.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._grew.wait()
        return found


def on(topic: str) -> Callable[[Seen], bool]:
    """Matches messages on `topic`."""
    return lambda seen: seen.topic == topic


def status_is(
    topic: str, state: wire.Presence, reason: str | None = None
) -> Callable[[Seen], bool]:
    """Matches statuses on `topic` in `state` (and with `reason`, if given)."""

    def check(seen: Seen) -> bool:
        if seen.topic != topic or not seen.payload:
            return False
        status = wire.decode_status(seen.payload)
        return status.state is state and (reason is None or status.reason == reason)

    return check


async def clear_retained(endpoint: MqttEndpoint, *topics: str) -> None:
    """Remove the retained messages a test left on the shared broker."""
    async with aiomqtt.Client(
        endpoint.host,
        endpoint.port,
        username=endpoint.username,
        password=endpoint.password,
        identifier=f"cleaner-{uuid.uuid4().hex[:12]}",
    ) as client:
        for topic in topics:
            await client.publish(topic, b"", qos=1, retain=True)
