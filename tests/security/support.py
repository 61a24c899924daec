"""What the security tests share: a provisioned directory, a broker started on its files,
and a plain MQTT client that records what it receives."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Self

import aiomqtt

from hub.provision import Principal, ProvisionStore

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Sequence
    from pathlib import Path
    from types import TracebackType

SITE_A = "room-a"
SITE_B = "room-b"
CONSUMER_ALL = "ops"
CONSUMER_A = "ops-a"
MAX_PACKET = 4 * 1024 * 1024 + 1024
"""The broker's `max_packet_size`: the contract's largest payload (inventory, 4 MiB)
plus room for the topic and headers."""
QUIET_S = 0.3
DEADLINE_S = 5.0


@dataclass(frozen=True)
class Identities:
    """A provisioning directory with two agents, the hub and two consumers."""

    store: ProvisionStore
    passwords: dict[str, str] = field(repr=False)

    @classmethod
    def create(cls, directory: Path, *, certs: bool = False) -> Identities:
        """Provision every identity the tests use under `directory`."""
        store = ProvisionStore(directory)
        passwords: dict[str, str] = {}
        for principal in (
            Principal.agent(SITE_A),
            Principal.agent(SITE_B),
            Principal.hub(),
            Principal.consumer(CONSUMER_ALL),
            Principal.consumer(CONSUMER_A, (SITE_A,)),
        ):
            issued = store.ensure(principal, cert=certs)
            assert issued.password is not None
            passwords[principal.user] = issued.password
        return cls(store, passwords)

    def broker_config(self) -> list[str]:
        """The Mosquitto lines that enforce these identities."""
        return [
            f"password_file {self.store.passwd_path}",
            f"acl_file {self.store.acl_path}",
            "allow_anonymous false",
            f"max_packet_size {MAX_PACKET}",
        ]


@dataclass(frozen=True, slots=True)
class Seen:
    """One message a client received."""

    topic: str
    payload: bytes


class Client:
    """A plain MQTT client as some identity, recording every message it receives."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        *,
        identifier: str | None = None,
        tls: ssl.SSLContext | None = None,
        timeout_s: float = DEADLINE_S,
    ) -> None:
        self.client = aiomqtt.Client(
            host,
            port,
            username=username,
            password=password,
            identifier=identifier or f"sec-{uuid.uuid4().hex[:12]}",
            tls_context=tls,
            timeout=timeout_s,
        )
        self.seen: list[Seen] = []
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        await self.client.__aenter__()
        self._reader = asyncio.create_task(self._read(), name="security-client")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await self._reader
        with contextlib.suppress(aiomqtt.MqttError):
            await self.client.__aexit__(exc_type, exc, tb)

    async def _read(self) -> None:
        async for message in self.client.messages:
            payload = message.payload
            assert isinstance(payload, bytes)
            self.seen.append(Seen(message.topic.value, payload))

    async def subscribe(self, *filters: str) -> None:
        """Subscribe at QoS 1 (whatever the broker grants or refuses)."""
        for topic_filter in filters:
            await self.client.subscribe(topic_filter, qos=1)

    async def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK."""
        await self.client.publish(topic, payload, qos=1, retain=retain)

    async def wait_for(self, predicate: Callable[[Seen], bool], what: str) -> None:
        """Wait until a received message matches `predicate`; fail naming `what`."""
        deadline = time.monotonic() + DEADLINE_S
        while not any(predicate(s) for s in self.seen):
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {DEADLINE_S} s: {what}; seen {self.seen!r}")
            await asyncio.sleep(0.01)

    def topics(self) -> Sequence[str]:
        """The topics of everything received so far."""
        return [s.topic for s in self.seen]
