"""The live alert stream (SSE) over a real uvicorn server: what it sends, to whom, from
where it resumes, late commits, and its bounds."""

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn

from hub.api import create_app
from hub.api.stream import StreamLimits
from hub.config import DatabaseConfig
from hub.storage.alerts import Raise, raise_alert, record_transition
from hub.storage.lifecycle import acknowledge, resolve
from hub.storage.tokens import revoke_token
from tests.harness import scratch_database
from tests.hub.api.alert_support import AT, migrated, open_alert
from tests.hub.api.support import token
from tests.hub.support import eventually, rows
from wire import Transition

pytestmark = pytest.mark.integration

_WAIT_S = 10.0


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the test runner keeps its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def served(url: str, limits: StreamLimits | None = None) -> AsyncIterator[str]:
    """The API over `url` served by uvicorn on a free local port; its base URL."""
    app = create_app(DatabaseConfig.model_validate({"url": url}))
    app.state.stream_limits = limits or StreamLimits(poll_s=0.5)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = _Server(uvicorn.Config(app, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: asyncio.sleep(0, server.started), what="uvicorn started")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, _WAIT_S)
        sock.close()


class Stream:
    """The events of one open SSE response, one at a time."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self) -> dict[str, str]:
        """The next event's fields (`comment` for a comment); fails after a while."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(_WAIT_S):
            async for line in self._lines:
                if not line:
                    if fields:
                        return fields
                    continue
                name, _, value = line.partition(":")
                fields[name or "comment"] = value.strip()
        raise EOFError

    async def alert(self) -> tuple[int, dict[str, Any]]:
        """The next alert event, skipping comments: (its id, its data)."""
        while True:
            fields = await self.next()
            if "comment" not in fields:
                assert fields["event"] == "alert", fields
                return int(fields["id"]), json.loads(fields["data"])


@asynccontextmanager
async def stream(
    base: str, bearer: str, headers: dict[str, str] | None = None, **params: Any
) -> AsyncIterator[Stream]:
    """An open stream from `base` as `bearer`."""
    async with (
        httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {bearer}"}) as http,
        http.stream("GET", "/api/v1/alerts/stream", headers=headers, params=params) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Stream(response)


async def _act(url: str, step: str, alert_id: uuid.UUID) -> None:
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.cursor() as cur:
        if step == "ack":
            await acknowledge(cur, alert_id, actor="token:t", note=None, sites=None)
        else:
            await resolve(cur, alert_id, actor="token:t", note="done", sites=None)
        await conn.commit()


async def test_a_stream_sends_transitions_made_after_it_opened_of_its_sites_only(
    database: str,
) -> None:
    """Transitions made before connecting are not sent; later ones are, as `id` (the
    outbox id), `event: alert`, `data` (the transition); a site's token never sees
    another site's."""
    url = await migrated(database)
    await open_alert(url, device="before")
    async with (
        served(url) as base,
        stream(base, await token(url, sites=["room-01"])) as mine,
        stream(base, await token(url)) as everyone,
    ):
        elsewhere = await open_alert(url, site="room-02")
        here = await open_alert(url, site="room-01")
        await _act(url, "ack", here)
        first_id, first = await mine.alert()
        _, second = await mine.alert()
        seen = [(await everyone.alert())[1]["alert_id"] for _ in range(3)]
    [(outbox_id,)] = await rows(
        url, "SELECT id FROM alert_outbox WHERE alert_id = %s AND revision = 1", [here]
    )
    # The row's own id, or (another transaction was running) an earlier row's.
    assert first_id <= outbox_id
    assert (first["alert_id"], first["transition"], first["site"]) == (
        str(here),
        "opened",
        "room-01",
    )
    assert (second["transition"], second["revision"], second["by"]) == (
        "acknowledged",
        2,
        "token:t",
    )
    assert seen == [str(elsewhere), str(here), str(here)]


async def _until(live: Stream, alert_id: uuid.UUID) -> list[tuple[str, int]]:
    """The transitions `live` sends up to the first of `alert_id`, as (alert, revision)."""
    seen: list[tuple[str, int]] = []
    while not seen or seen[-1][0] != str(alert_id):
        _, body = await live.alert()
        seen.append((body["alert_id"], body["revision"]))
    return seen


async def test_a_stream_resumes_after_last_event_id_without_loss(database: str) -> None:
    """Reconnecting with `Last-Event-ID` (or `?last_event_id=`) sends the transitions
    after that event, including those made while disconnected (with nothing else
    running, exactly those: the event ids are then the rows' own)."""
    url = await migrated(database)
    viewer = await token(url)
    async with served(url) as base:
        async with stream(base, viewer) as live:
            alert_id = await open_alert(url)
            opened, _ = await live.alert()
            await _act(url, "ack", alert_id)
            acked, _ = await live.alert()
        await _act(url, "resolve", alert_id)
        async with stream(base, viewer, headers={"Last-Event-ID": str(acked)}) as again:
            later = await open_alert(url, device="later")
            after_acked = await _until(again, later)
        async with stream(base, viewer, last_event_id=opened) as replay:
            after_opened = await _until(replay, later)
    made = [(str(alert_id), 2), (str(alert_id), 3), (str(later), 1)]
    assert set(made[1:]) <= set(after_acked)
    assert set(made) <= set(after_opened)
    if acked > opened:  # sent in order (nothing else was running): nothing repeats
        assert (after_acked, after_opened) == (made[1:], made)


async def _opening(conn: psycopg.AsyncConnection[Any], device: str) -> None:
    """Open an alert of room-01/`device` in `conn`'s transaction, uncommitted."""
    async with conn.cursor() as cur:
        what = Raise(
            rule="panic",
            severity="critical",
            site="room-01",
            device=device,
            first_at=AT,
            last_at=AT,
            events=(uuid.uuid4(),),
        )
        alert = await raise_alert(cur, what, now=AT)
        await record_transition(cur, alert, Transition.OPENED, actor="rule:panic")


async def test_a_row_committed_late_with_a_smaller_id_is_still_sent(database: str) -> None:
    """A transition whose outbox id is smaller than one already committed is sent once its
    transaction commits: whether its transaction began first, or got its id later."""
    url = await migrated(database)
    async with (
        served(url, StreamLimits(poll_s=0.1)) as base,
        stream(base, await token(url)) as live,
        await psycopg.AsyncConnection.connect(url) as slow,
        await psycopg.AsyncConnection.connect(url) as fast,
    ):
        # The slow transaction writes first (smaller outbox id) and commits last.
        await _opening(slow, "slow-1")
        await _opening(fast, "fast-1")
        await fast.commit()
        await asyncio.sleep(0.5)  # rounds of the stream (woken, and polling) in between
        await slow.commit()
        first = [(await live.alert())[1]["device"] for _ in range(2)]
        # Now the transaction that commits first began first (its xid is older), so its
        # row is sent before the smaller id of the one still running.
        await fast.execute("SELECT pg_current_xact_id()")
        await slow.execute("SELECT pg_current_xact_id()")
        await _opening(slow, "slow-2")
        await _opening(fast, "fast-2")
        await fast.commit()
        fast_two = (await live.alert())[1]["device"]
        await slow.commit()
        slow_two = (await live.alert())[1]["device"]
    ids = dict(
        await rows(url, "SELECT a.device, o.id FROM alert_outbox o JOIN alerts a USING (alert_id)")
    )
    assert ids["slow-1"] < ids["fast-1"]
    assert ids["slow-2"] < ids["fast-2"]
    assert sorted(first) == ["fast-1", "slow-1"]
    assert (fast_two, slow_two) == ("fast-2", "slow-2")


async def _drain(live: Stream) -> str:
    """Read `live` until it ends; its last comment. Fails if it does not end in time."""
    last = ""
    while True:
        try:
            last = (await live.next()).get("comment", last)
        except EOFError:
            return last


async def _listeners(url: str) -> int:
    found = await rows(
        url,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = 'shouwang-alert-stream'",
    )
    return int(found[0][0])


async def test_streams_are_bounded_kept_alive_and_end_with_their_token(database: str) -> None:
    """Past `max_streams` a stream is a 503; an idle stream gets keep-alive comments; a
    revoked token's stream ends; the last stream out closes the listening connection."""
    url = await migrated(database)
    bearer = await token(url)
    limits = StreamLimits(max_streams=1, poll_s=0.1, keepalive_s=0.2, reverify_s=0.3)
    async with served(url, limits) as base:
        async with stream(base, bearer) as first:
            assert "comment" in await first.next()
            async with httpx.AsyncClient(base_url=base) as http:
                refused = await http.get(
                    "/api/v1/alerts/stream", headers={"Authorization": f"Bearer {bearer}"}
                )
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "5"
            assert await _listeners(url) == 1
        await eventually(lambda: _listeners(url), until=lambda n: n == 0, what="listener closed")
        async with stream(base, bearer) as second:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                assert await revoke_token(conn, bearer.split("_")[1])
            assert "no longer valid" in await _drain(second)


@pytest.mark.parametrize("where", ["another database", "the same database"])
async def test_a_transaction_of_someone_else_does_not_hold_up_the_stream(
    database: str, database_url: str, where: str
) -> None:
    """A transaction holding an xid elsewhere on the server (another database, or ours,
    never writing the outbox) does not delay a transition: it is sent within 2 s."""
    url = await migrated(database)
    with scratch_database(database_url) as other:
        async with (
            served(url, StreamLimits(poll_s=0.5)) as base,
            stream(base, await token(url)) as live,
            await psycopg.AsyncConnection.connect(
                other if where == "another database" else url
            ) as holder,
        ):
            await holder.execute("SELECT pg_current_xact_id()")  # holds an xid, open
            alert_id = await open_alert(url)
            async with asyncio.timeout(2.0):
                _, body = await live.alert()
            assert body["alert_id"] == str(alert_id)
