"""The alert outbox read as a feed (`hub.storage.feed`): nothing skipped, nothing read
twice by one reader, resumable without loss, and never held up by someone else's
transaction, against a real PostgreSQL."""

import random
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import psycopg
import pytest

from hub.storage.alerts import Raise, raise_alert, record_transition
from hub.storage.feed import FeedReader, FeedRow
from tests.harness import scratch_database
from tests.hub.api.alert_support import AT, migrated
from wire import Transition

pytestmark = pytest.mark.integration

Conn = psycopg.AsyncConnection[Any]


async def _write(conn: Conn, device: str) -> None:
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


async def _committed(url: str, device: str) -> int:
    """Open an alert of `device` in a transaction of its own; its outbox id."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await _write(conn, device)
        cursor = await conn.execute("SELECT max(id) FROM alert_outbox")
        row = await cursor.fetchone()
        await conn.commit()
    assert row is not None
    return int(row[0])


async def _start(url: str, after: int | None = None) -> FeedReader:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await FeedReader.start(conn, after)


async def _read(url: str, reader: FeedReader, limit: int = 500) -> list[FeedRow]:
    """What `reader` reads now, its reads cut short included."""
    got: list[FeedRow] = []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while True:
            got += await reader.read(conn, None, limit)
            if not reader.more:
                return got


def _ids(rows: list[FeedRow]) -> list[int]:
    return [row.id for row in rows]


@pytest.fixture
def elsewhere(database_url: str) -> Iterator[str]:
    """Another database on the same server."""
    with ExitStack() as stack:
        yield stack.enter_context(scratch_database(database_url))


async def _hold(url: str) -> Conn:
    """A connection whose open transaction holds an xid, writing nothing."""
    conn = await psycopg.AsyncConnection.connect(url)
    await conn.execute("SELECT pg_current_xact_id()")
    return conn


@pytest.mark.parametrize("where", ["another database", "the same database"])
async def test_a_transaction_holding_an_xid_elsewhere_does_not_hold_up_the_feed(
    database: str, elsewhere: str, where: str
) -> None:
    """Rows committed while a transaction of someone else is open are read at once, and
    once: neither again while it runs, nor when it ends; those committed before the
    reader started, not at all."""
    url = await migrated(database)
    async with await _hold(elsewhere if where == "another database" else url) as holder:
        await _committed(url, "before")
        reader = await _start(url)
        first = await _committed(url, "a")
        assert _ids(await _read(url, reader)) == [first]
        second = await _committed(url, "b")
        assert _ids(await _read(url, reader)) == [second]
        assert await _read(url, reader) == []
        await holder.commit()
    assert await _read(url, reader) == []
    third = await _committed(url, "c")
    assert [(row.id, row.resume_id) for row in await _read(url, reader)] == [(third, third)]


async def test_an_older_transaction_committing_after_a_newer_one_is_not_skipped(
    database: str,
) -> None:
    """A row of a transaction older than rows already read (smaller xact and id) is read
    once it commits, and once."""
    url = await migrated(database)
    reader = await _start(url)
    async with (
        await psycopg.AsyncConnection.connect(url) as slow,
        await psycopg.AsyncConnection.connect(url) as fast,
    ):
        await slow.execute("SELECT pg_current_xact_id()")
        await _write(slow, "slow")
        await _write(fast, "fast")
        await fast.commit()
        fast_rows = await _read(url, reader)
        await slow.commit()
        slow_rows = await _read(url, reader)
    assert len(fast_rows) == len(slow_rows) == 1
    assert slow_rows[0].position < fast_rows[0].position
    assert slow_rows[0].id < fast_rows[0].id
    assert await _read(url, reader) == []


async def test_resuming_from_the_last_resume_id_loses_nothing(
    database: str, elsewhere: str
) -> None:
    """A reader started from the `resume_id` of the last row received reads every row
    not received yet; the rows read above the horizon come again, none other does."""
    url = await migrated(database)
    before = await _committed(url, "before")
    reader = await _start(url)
    async with (
        await _hold(elsewhere) as holder,
        await psycopg.AsyncConnection.connect(url) as slow,
    ):
        await slow.execute("SELECT pg_current_xact_id()")
        await _write(slow, "slow")
        cursor = await slow.execute("SELECT max(id) FROM alert_outbox")
        slow_id = int((await cursor.fetchone() or [0])[0])
        above = await _committed(url, "above")
        [received] = await _read(url, reader)
        assert (received.id, received.resume_id) == (above, before)
        # Disconnected here; the slow transaction commits meanwhile.
        await slow.commit()
        await holder.commit()
    resumed = await _start(url, received.resume_id)
    assert sorted(_ids(await _read(url, resumed))) == sorted([slow_id, above])
    assert _ids(await _read(url, reader)) == [slow_id]
    # Past the horizon a row's resume id is its own: resuming from it repeats nothing.
    newest = await _committed(url, "newest")
    [row] = await _read(url, reader)
    assert (row.id, row.resume_id) == (newest, newest)
    assert await _read(url, await _start(url, row.resume_id)) == []


async def test_a_read_cut_short_above_the_horizon_goes_on_without_loss_or_repeat(
    database: str, elsewhere: str
) -> None:
    """Reads of `limit` rows above the horizon go on where they stopped; a row committed
    in between is read afterwards, and no row twice."""
    url = await migrated(database)
    reader = await _start(url)
    async with await _hold(elsewhere):
        written = [await _committed(url, f"d{n}") for n in range(7)]
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            first = await reader.read(conn, None, 3)
            cut = [reader.more]
            written.append(await _committed(url, "between"))
            second = await reader.read(conn, None, 3)
            third = await reader.read(conn, None, 3)
            cut.append(reader.more)
            fourth = await reader.read(conn, None, 3)
    assert cut == [True, False]
    assert _ids(first + second + third) == written[:7]
    assert _ids(fourth) == written[7:]
    assert await _read(url, reader) == []


async def test_interleaved_writers_are_read_exactly_once_and_resumable(
    database: str, elsewhere: str
) -> None:
    """Writers that take their xids, write and commit in a shuffled order, with a
    foreign transaction open through part of it: a reader reading between the steps, in
    small reads, gets every row exactly once; a reader started from any row's resume id
    gets every row after it."""
    url = await migrated(database)
    shuffle = random.Random(20261127)
    reader = await _start(url)
    got: list[FeedRow] = []
    conns = [await psycopg.AsyncConnection.connect(url) for _ in range(6)]
    holder = await _hold(elsewhere)
    try:
        steps = [(n, step) for n in range(len(conns)) for step in ("xid", "write", "commit")]
        order: list[tuple[int, str]] = []
        pending = {n: ["xid", "write", "commit"] for n in range(len(conns))}
        while pending:
            n = shuffle.choice(sorted(pending))
            order.append((n, pending[n].pop(0)))
            if not pending[n]:
                del pending[n]
        assert len(order) == len(steps)
        for i, (n, step) in enumerate(order):
            if step == "xid":
                await conns[n].execute("SELECT pg_current_xact_id()")
            elif step == "write":
                await _write(conns[n], f"w{n}-a")
                await _write(conns[n], f"w{n}-b")
            else:
                await conns[n].commit()
            if i == len(order) // 2:
                await holder.commit()
            got += await _read(url, reader, limit=2)
    finally:
        for conn in [*conns, holder]:
            await conn.close()
    got += await _read(url, reader, limit=2)
    async with await psycopg.AsyncConnection.connect(url) as conn:
        cursor = await conn.execute("SELECT id FROM alert_outbox")
        every = sorted(int(row[0]) for row in await cursor.fetchall())
    assert sorted(_ids(got)) == every
    for k, row in enumerate(got):
        resumed = _ids(await _read(url, await _start(url, row.resume_id)))
        assert set(_ids(got[k + 1 :])) <= set(resumed), k
        assert len(resumed) == len(set(resumed))
