"""`GET /api/v1/alerts/stream`: alert transitions live, as Server-Sent Events.

Each event is one row of the alert outbox of the caller's sites: `id:` the outbox id to
resume after (the row's own id when it came in order, else an earlier row's:
`hub.storage.feed`), `event: alert`, `data:` the transition's JSON
(`wire.AlertTransition`, as the relay publishes it). A client resumes with the
`Last-Event-ID` header (browsers send it on reconnection) or `?last_event_id=`: nothing
after it is lost, and transitions sent out of `(xact, id)` order may come again (drop
repeats by `alert_id` and `revision`); without either, the stream starts now. Rows come
as they commit, whatever else runs on the server, and none committed late is skipped.

Bounds, per API process (`StreamLimits`): at most `max_streams` streams (503 with
`Retry-After` beyond); they share ONE listening connection (LISTEN
`shouwang_alert_outbox`, opened with the first stream, closed with the last) that wakes
them all; each stream reads with a pool connection for the length of one read only, so
an idle stream holds no database connection. Each stream also reads every `poll_s`
without a wake-up (a lost notification, the listener reconnecting), sends a keep-alive
comment after `keepalive_s` of silence, and checks its token again every `reverify_s`:
a revoked token's stream ends there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final, cast

import psycopg
from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from fastapi.sse import format_sse_event

from hub.api.auth import Viewer, presented_token, session_alive
from hub.api.common import pool
from hub.storage.feed import FeedReader
from hub.storage.tokens import verify_token

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from psycopg_pool import AsyncConnectionPool
    from starlette.types import Receive, Scope, Send


__all__ = ["CHANNEL", "StreamLimits", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["alerts"])

CHANNEL: Final = "shouwang_alert_outbox"
"""Notified (migration 0008) at the commit of every statement that queued transitions."""

_BATCH: Final = 500
_KEEPALIVE: Final = b": keep-alive\n\n"


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """How many streams an API process serves and how each one paces itself; an app
    takes its own from `app.state.stream_limits` if set."""

    max_streams: int = 100
    poll_s: float = 2.0
    keepalive_s: float = 15.0
    reverify_s: float = 30.0
    retry_after_s: int = 5


class _Listener:
    """The one LISTEN connection of an app's streams, alive while any stream is."""

    def __init__(self, conninfo: str, limits: StreamLimits) -> None:
        self._conninfo = conninfo
        self._limits = limits
        self._waiters: set[asyncio.Event] = set()
        self._task: asyncio.Task[None] | None = None

    def join(self) -> asyncio.Event | None:
        """A wake-up for one more stream; None when `max_streams` are already open."""
        if len(self._waiters) >= self._limits.max_streams:
            return None
        wake = asyncio.Event()
        self._waiters.add(wake)
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="alert-stream-listener")
        return wake

    def leave(self, wake: asyncio.Event) -> None:
        """Forget `wake`; the last stream out closes the listening connection."""
        self._waiters.discard(wake)
        if not self._waiters and self._task is not None:
            self._task.cancel()
            self._task = None

    def _wake_all(self) -> None:
        for wake in self._waiters:
            wake.set()

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, application_name="shouwang-alert-stream"
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    # Whatever came while no one listened: every stream reads once.
                    self._wake_all()
                    async for _ in conn.notifies():
                        self._wake_all()
            except psycopg.Error as exc:
                # The streams go on polling meanwhile.
                logger.warning("alert stream listener: %s; listening again soon", exc)
                await asyncio.sleep(self._limits.poll_s)


def _limits(request: Request) -> StreamLimits:
    return cast("StreamLimits", getattr(request.app.state, "stream_limits", StreamLimits()))


def _listener(request: Request) -> _Listener:
    state = request.app.state
    listener = getattr(state, "alert_stream_listener", None)
    if listener is None:
        conninfo = pool(request).conninfo
        if not isinstance(conninfo, str):  # the app's pool is made from a URL
            message = f"the pool's conninfo is a {type(conninfo).__name__}, not a str"
            raise TypeError(message)
        listener = _Listener(conninfo, _limits(request))
        state.alert_stream_listener = listener
    return cast("_Listener", listener)


class _AlertStream(StreamingResponse):
    """An event stream that gives its slot back however it ends (done, disconnected,
    failed), even if its body never started.

    Not FastAPI's `EventSourceResponse`: as a route's `response_class`, that one makes
    FastAPI run the route as a generator, and this route must answer 503 before any
    stream starts.
    """

    media_type = "text/event-stream"

    def __init__(self, body: AsyncIterator[bytes], release: Any) -> None:
        super().__init__(body, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


@dataclass(slots=True)
class _Reader:
    """One stream's state: whose it is, where it stands, when it last spoke."""

    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]]
    token: str
    sites: list[str] | None
    feed: FeedReader
    limits: StreamLimits
    wake: asyncio.Event
    alive: Callable[[], bool] = lambda: True
    """False once the console session the stream came with has ended."""

    async def events(self) -> AsyncIterator[bytes]:
        """The stream's bytes: events as rows come, keep-alives in the silences, until
        the token is no longer valid (or the client goes, which cancels it)."""
        limits = self.limits
        spoke = verified = time.monotonic()
        while True:
            self.wake.clear()
            async with self.pool.connection() as conn:
                rows = await self.feed.read(conn, self.sites, _BATCH)
            for row in rows:
                data = row.payload.decode("utf-8")
                yield format_sse_event(data_str=data, event="alert", id=str(row.resume_id))
                spoke = time.monotonic()
            if self.feed.more:
                continue
            if time.monotonic() - verified >= limits.reverify_s:
                if not await self._still_valid():
                    yield b": the token is no longer valid\n\n"
                    return
                verified = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), limits.poll_s)
            if time.monotonic() - spoke >= limits.keepalive_s:
                yield _KEEPALIVE
                spoke = time.monotonic()

    async def _still_valid(self) -> bool:
        """Whether the stream's token still verifies (not revoked), and its console
        session, if it came with one, is still open."""
        if not self.alive():
            return False
        async with self.pool.connection() as conn:
            return await verify_token(conn, self.token) is not None


@router.get(
    "/api/v1/alerts/stream",
    response_class=_AlertStream,
    status_code=status.HTTP_200_OK,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`id: <outbox id to resume after>`, `event: alert`, "
            "`data: <transition JSON>`",
        },
        503: {"description": "this API process already serves its maximum of streams"},
    },
)
async def alert_stream(
    request: Request,
    caller: Viewer,
    *,
    last_event_id: Annotated[
        int | None,
        Query(ge=0, description="resume after this event id (as `Last-Event-ID`)"),
    ] = None,
    last_event_id_header: Annotated[
        int | None,
        Header(alias="Last-Event-ID", ge=0, description="resume after this event id"),
    ] = None,
) -> StreamingResponse:
    """Alert transitions of the caller's sites as they are written (Server-Sent Events),
    from now, or after `Last-Event-ID`."""
    resume = last_event_id_header if last_event_id_header is not None else last_event_id
    async with pool(request).connection() as conn:
        feed = await FeedReader.start(conn, resume)
    listener = _listener(request)
    wake = listener.join()
    if wake is None:
        limits = _limits(request)
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"this hub already serves {limits.max_streams} alert streams",
            headers={"Retry-After": str(limits.retry_after_s)},
        )
    reader = _Reader(
        pool=pool(request),
        token=presented_token(request),
        sites=caller.scope.site_list(),
        feed=feed,
        limits=_limits(request),
        wake=wake,
        alive=lambda: session_alive(request),
    )
    return _AlertStream(reader.events(), lambda: listener.leave(wake))
