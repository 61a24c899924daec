"""What the hub tests share: payload builders, a subscriber that waits, polling, SQL."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiomqtt
import psycopg

from tests.harness import MqttEndpoint
from wire import TopicSpace, format_time, new_event_id

SITE = "room-07"
DEVICE = "panic-0031"
EPOCH = uuid.UUID("6e513881-e401-4816-8dcb-32beab38d8b3")
DEFAULT_TIMEOUT = 10.0

_T = TypeVar("_T")


def event(
    *,
    seq: int,
    site: str = SITE,
    device: str = DEVICE,
    kind: str = "panic_alarm",
    type: str = "alarm.panic",  # noqa: A002 - the envelope's field name
    epoch: uuid.UUID = EPOCH,
    at: str | None = None,
    event_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A valid event envelope as a JSON-ready dict (tests break it on purpose)."""
    return {
        "v": 1,
        "id": str(event_id or new_event_id()),
        "site": site,
        "device": device,
        "kind": kind,
        "type": type,
        "at": at or format_time_now(),
        "epoch": str(epoch),
        "seq": seq,
        "source": {"driver": "sia", "account": "0A31", "zone": 3, "code": "PA"},
        "data": {"zone_name": "Counter"} if data is None else data,
    }


def format_time_now() -> str:
    """Now, in the wire's one time format."""
    return format_time(datetime.now(UTC))


def dump(payload: object) -> bytes:
    """Compact JSON bytes, as an agent publishes them."""
    return json.dumps(payload, separators=(",", ":")).encode()


async def eventually(
    probe: Callable[[], Awaitable[_T]],
    *,
    until: Callable[[_T], bool] = bool,
    within_s: float = DEFAULT_TIMEOUT,
    what: str = "the condition",
) -> _T:
    """Poll `probe` until `until(result)` holds; fail after `within_s` seconds."""
    deadline = time.monotonic() + within_s
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            message = f"{what} did not hold within {within_s} s; last value: {result!r}"
            raise AssertionError(message)
        await asyncio.sleep(0.05)


async def rows(url: str, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """All rows of `query` on the database at `url`."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.execute(query.encode(), params)
        return await cursor.fetchall()


def client(endpoint: MqttEndpoint, **options: Any) -> aiomqtt.Client:
    """A plain MQTT client on the shared broker, as an agent or consumer would be."""
    return aiomqtt.Client(
        endpoint.host,
        endpoint.port,
        username=endpoint.username,
        password=endpoint.password,
        **options,
    )


@dataclass
class Inbox:
    """Messages a plain subscriber received, with a way to wait for the next that fits."""

    messages: list[aiomqtt.Message] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def take(
        self,
        topic: str,
        where: Callable[[dict[str, Any]], bool] = lambda _: True,
        within_s: float = DEFAULT_TIMEOUT,
    ) -> dict[str, Any]:
        """The first message on `topic` whose JSON satisfies `where` (removed from the inbox)."""
        async with asyncio.timeout(within_s), self.arrived:
            while True:
                for message in self.messages:
                    if message.topic.value != topic or not isinstance(message.payload, bytes):
                        continue
                    document: dict[str, Any] = json.loads(message.payload)
                    if where(document):
                        self.messages.remove(message)
                        return document
                await self.arrived.wait()

    def on(self, topic: str) -> list[dict[str, Any]]:
        """Every JSON message received so far on `topic`."""
        return [
            json.loads(m.payload)
            for m in self.messages
            if m.topic.value == topic and isinstance(m.payload, bytes) and m.payload
        ]


@asynccontextmanager
async def subscribed(endpoint: MqttEndpoint, *filters: str) -> AsyncIterator[Inbox]:
    """A subscriber to `filters` (QoS 1) collecting into an `Inbox` while the block runs."""
    inbox = Inbox()
    async with client(endpoint) as subscriber:
        for topic_filter in filters:
            await subscriber.subscribe(topic_filter, qos=1)

        async def collect() -> None:
            async for message in subscriber.messages:
                async with inbox.arrived:
                    inbox.messages.append(message)
                    inbox.arrived.notify_all()

        task = asyncio.create_task(collect(), name="test-subscriber")
        try:
            yield inbox
        finally:
            task.cancel()
            await asyncio.wait([task])


async def forget_session(endpoint: MqttEndpoint, client_id: str, space: TopicSpace) -> None:
    """Drop the hub's persistent session and its retained status from the shared broker."""
    async with client(endpoint, identifier=client_id, clean_session=True) as cleaner:
        await cleaner.publish(space.hub_status(), b"", qos=1, retain=True)
