"""What the webhook tests share: a real HTTP receiver, transitions made by the rules, and
the webhook relay running over a pool of the test's database."""

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from hub.config import WebhooksConfig
from hub.health import Liveness
from hub.notify import WebhookRelay, new_secret
from hub.rules import default_rules, run_rules
from hub.runtime import migrate_database
from hub.storage import write_inbound
from hub.storage.webhooks import NewEndpoint, create_endpoint
from tests.hub.support import SITE, dump, event
from wire import Event, decode_event

FAST: dict[str, Any] = {
    "allow_networks": ["127.0.0.0/8"],
    "allow_http": True,
    "connect_timeout_s": 0.5,
    "read_timeout_s": 0.5,
    "total_timeout_s": 1.0,
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.2,
    "poll_s": 0.1,
}
"""Webhook settings for tests: loopback allowed, plain http, short timeouts and backoff."""


def webhooks_config(**changes: Any) -> WebhooksConfig:
    """`FAST`, with `changes`."""
    return WebhooksConfig.model_validate({**FAST, **changes})


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes


Answer = Callable[[Received], int]


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records every POST and answers `answer(it)`
    (200 by default) with `reply` and `headers`; `stop()` and `start()` take it down and
    bring it back on its port."""

    answer: Answer = lambda _: 200
    reply: str = "thanks"
    headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Where to point a webhook."""
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        got = Received(headers=dict(request.headers), body=await request.read())
        self.received.append(got)
        return web.Response(status=self.answer(got), text=self.reply, headers=self.headers)

    async def start(self) -> None:
        """Listen (on the same port as before, after a `stop`)."""
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            server = site._server
            assert isinstance(server, asyncio.Server)
            self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening: connections are refused until `start`."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@asynccontextmanager
async def receiving(answer: Answer = lambda _: 200) -> AsyncIterator[Receiver]:
    """A started `Receiver`, stopped after the block."""
    receiver = Receiver(answer=answer)
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


@asynccontextmanager
async def silent_port() -> AsyncIterator[int]:
    """A loopback port that accepts connections and never answers (a hung receiver)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def panic(seq: int, *, device: str = "panic-0031", site: str = SITE) -> Event:
    """A panic event, parsed by the contract."""
    return decode_event(dump(event(seq=seq, device=device, site=site)))


async def transitions(url: str, *events: Event) -> None:
    """Store `events` and run the rules on them in one transaction, as ingest does."""
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.cursor() as cur:
        new = await write_inbound(cur, events)
        await run_rules(cur, new, default_rules(), now=datetime.now(UTC))


async def register(
    url: str, target: str, *, sites: list[str] | None = None, min_severity: str | None = None
) -> tuple[uuid.UUID, str]:
    """Migrate, then store an endpoint for `target` (as the API does); its id and secret."""
    await migrate_database(url, wait=False)
    secret = new_secret()
    new = NewEndpoint(
        url=target,
        description="test",
        sites=sites,
        min_severity=min_severity,
        secret=secret,
        created_by="000000000000",
    )
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        endpoint = await create_endpoint(conn, new)
    return endpoint.id, secret


@asynccontextmanager
async def relay(url: str, config: WebhooksConfig | None = None) -> AsyncIterator[WebhookRelay]:
    """A running `WebhookRelay` over a pool of the database at `url`."""
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
        url, min_size=1, max_size=4, open=False
    )
    await pool.open()
    try:
        async with asyncio.TaskGroup() as tasks:
            loop = WebhookRelay(
                pool=pool, config=config or webhooks_config(), liveness=Liveness(), tasks=tasks
            )
            async with loop:
                yield loop
    finally:
        await pool.close()
