"""The durable outbox: every event is written here before its device hears "yes".

One SQLite database (WAL, `synchronous=FULL`: a commit is on disk when it returns)
holds the events until the hub acks them, and the outbox's identity: its `epoch`, a
UUID made when the database is created, and the last `seq` handed out. `append` gives a
driver's draft its id, `at`, epoch and seq and commits it; `delete` removes exactly the
acked (epoch, seq) it holds. Only then may the device be answered.

Group commit: appends queue up while a transaction is on disk and the next transaction
takes them all (at most `MAX_BATCH`), so a burst of devices costs one fsync, not one each.
Bounds per lane (`agent._lanes`): when P1 or P2 is full, the oldest P2 events are shed,
then the oldest P1 (counted per lane in `meta`, so the counts survive a restart); P0 is
never shed. Depth, bytes and shed counts are kept in memory: `stats()` costs nothing.

SQLite calls block, so they run on one thread of the outbox's own, which owns the one
connection; the event loop awaits them. The schema is versioned (`agent._outbox_schema`).

Errors: `agent.errors.OutboxError` when the database cannot be opened, read or written
(nothing is stored by a failed `append`); `agent.errors.EventShed` when the outbox is
full and the incoming event itself was shed; `wire.WireError` when a draft cannot make a
valid event (too large, say), also with nothing stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Self, TypeVar

import wire
from agent._lanes import DEFAULT_BOUNDS, Bounds, Tally, givers
from agent._outbox_schema import SCHEMA_VERSION, create_or_migrate
from agent.errors import EventShed, OutboxError
from wire import EventType, Kind, Lane

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
    from pathlib import Path
    from types import TracebackType

__all__ = ["MAX_BATCH", "SCHEMA_VERSION", "Bounds", "Draft", "Entry", "JsonScalar", "Outbox"]

logger = logging.getLogger(__name__)

MAX_BATCH: Final = 1000
"""The most appends one transaction carries."""
_IN_CHUNK: Final = 500  # seqs per `IN (...)`: under SQLite's 999-parameter floor

_T = TypeVar("_T")
JsonScalar = str | int | float | bool | None
_Outcome = wire.Event | EventShed | wire.WireError


@dataclass(frozen=True, slots=True)
class Draft:
    """An event as a driver has it: the outbox adds id, `at`, epoch and seq.

    `device_time` is when the device says it happened; the `at` rule decides whether it
    is used (`wire.resolve_at`). `source` must name the `driver`.
    """

    device: str
    kind: Kind
    type: EventType
    source: Mapping[str, JsonScalar] = field(default_factory=dict)
    data: Mapping[str, object] = field(default_factory=dict)
    device_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """An event waiting for the hub's ack: its seq, lane, topic fields and encoded bytes."""

    seq: int
    lane: Lane
    kind: Kind
    device: str
    payload: bytes


class Outbox:
    """The outbox at `path` for `site`, as an async context manager (opens and closes it).

    `bounds` limits what P1 and P2 may hold (P0 is never refused for space).
    """

    def __init__(
        self,
        path: Path,
        *,
        site: str,
        lock_timeout_s: float = 5.0,
        bounds: Bounds = DEFAULT_BOUNDS,
    ) -> None:
        self._path = path
        self._site = site
        self._lock_timeout_s = lock_timeout_s
        self._bounds = bounds
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None  # used on the executor's thread only
        self._epoch: uuid.UUID | None = None
        self._last_seq = 0
        # Replaced whole (never mutated in place) by the outbox's thread after each commit,
        # so the event loop always reads a consistent one.
        self._tally = Tally()
        self._last_shed_at: datetime | None = None
        self._grew = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: list[tuple[Draft, asyncio.Future[wire.Event]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.append_transactions = 0
        """Transactions that stored appends (fewer than appends: group commit)."""

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        try:
            await self._call(self._open)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        logger.info(
            "outbox %s open: site=%s epoch=%s last_seq=%d",
            self._path,
            self._site,
            self._epoch,
            self._last_seq,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._writer is not None:
            # Appends already queued are committed (their devices are waiting for a yes).
            await asyncio.wait({self._writer})
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._close)
        finally:
            executor.shutdown(wait=False)

    @property
    def epoch(self) -> uuid.UUID:
        """The epoch every event of this outbox carries (made with the database)."""
        if self._epoch is None:
            raise OutboxError(f"outbox {self._path} is not open")
        return self._epoch

    @property
    def last_seq(self) -> int:
        """The seq of the last event appended (0 before the first)."""
        return self._last_seq

    @property
    def last_shed_at(self) -> datetime | None:
        """When an event was last shed (kept across restarts), or None if none ever was."""
        return self._last_shed_at

    async def append(self, draft: Draft) -> wire.Event:
        """Make `draft` an event and store it durably; it is on disk when this returns.

        Concurrent appends share one transaction (group commit). Raises `EventShed` when
        the outbox is full and this event was shed instead of stored.
        """
        if self._executor is None:
            raise OutboxError(f"outbox {self._path} is not open")
        future: asyncio.Future[wire.Event] = asyncio.get_running_loop().create_future()
        self._queue.append((draft, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued(), name="outbox:writer")
        return await future

    async def pending(
        self, lane: Lane | None = None, *, after: int = 0, limit: int | None = None
    ) -> list[Entry]:
        """Events not acked yet with seq > `after` (of `lane`, if given), in (lane, seq) order."""
        return await self._call(self._pending, lane, after, limit)

    async def entries(self, seqs: Iterable[int]) -> list[Entry]:
        """The events of `seqs` still held (not acked, not shed), in (lane, seq) order."""
        return await self._call(self._entries, tuple(seqs))

    async def delete(self, epoch: uuid.UUID, ranges: Iterable[tuple[int, int]]) -> int:
        """Delete exactly the held events of `epoch` in the inclusive `ranges`; how many.

        Seqs it does not hold, and any other epoch, are ignored (an ack names what the
        hub committed, which may include events already deleted).
        """
        return await self._call(self._delete, epoch, tuple(ranges))

    def stats(self) -> wire.LaneSet:
        """Depth, bytes and shed count per lane, for the agent status (kept in memory)."""
        if self._executor is None:
            raise OutboxError(f"outbox {self._path} is not open")
        return self._tally.lanes()

    async def wait_beyond(self, seq: int) -> None:
        """Return once an event with a seq above `seq` has been appended."""
        while self._last_seq <= seq:
            self._grew.clear()
            await self._grew.wait()

    async def _write_queued(self) -> None:
        """Commit every queued append, a batch per transaction, until the queue is empty."""
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                outcomes = await self._call(self._append_batch, [draft for draft, _ in batch])
            except OutboxError as exc:
                outcomes = [exc] * len(batch)
            except BaseException:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(OutboxError(f"outbox {self._path} was closed"))
                raise
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # its caller gave up waiting; the event is stored anyway
                    continue
                if isinstance(outcome, wire.Event):
                    future.set_result(outcome)
                else:
                    future.set_exception(outcome)

    # Everything below runs on the outbox's thread.

    async def _call(self, function: Callable[..., _T], *args: object) -> _T:
        if self._executor is None:
            raise OutboxError(f"outbox {self._path} is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise OutboxError(f"outbox {self._path} is not open")
        return self._db

    def _open(self) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, timeout=self._lock_timeout_s, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise OutboxError(f"cannot open outbox {self._path}: {exc}") from exc
        try:
            self._db = db
            self._prepare(db)
        except sqlite3.Error as exc:
            self._close()
            raise OutboxError(f"cannot open outbox {self._path}: {exc}") from exc
        except BaseException:
            self._close()
            raise

    def _prepare(self, db: sqlite3.Connection) -> None:
        (mode,) = db.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode != "wal":
            raise OutboxError(f"outbox {self._path} cannot use WAL (journal mode {mode!r})")
        db.execute("PRAGMA synchronous = FULL")
        with _transaction(db):
            found = create_or_migrate(
                db,
                self._path,
                epoch=str(uuid.uuid4()),
                site=self._site,
                now=wire.format_time(datetime.now(UTC)),
            )
            epoch, site, last_seq, *shed, last_shed_at = db.execute(
                "SELECT epoch, site, last_seq, shed_p0, shed_p1, shed_p2, last_shed_at FROM meta"
            ).fetchone()
            rows = db.execute(
                "SELECT lane, COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM events GROUP BY lane"
            ).fetchall()
        if site != self._site:
            raise OutboxError(
                f"outbox {self._path} belongs to site {site!r}, not {self._site!r}; "
                "its events would go out under the wrong site: move it aside"
            )
        if found not in (0, SCHEMA_VERSION):
            logger.info(
                "outbox %s migrated from schema version %d to %d", self._path, found, SCHEMA_VERSION
            )
        tally = Tally(shed=list(shed))
        for lane, depth, size in rows:
            tally.depth[lane], tally.size[lane] = depth, size
        self._tally = tally
        self._epoch, self._last_seq = uuid.UUID(epoch), last_seq
        self._last_shed_at = None if last_shed_at is None else wire.parse_time(last_shed_at)

    def _close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()

    def _append_batch(self, drafts: Sequence[Draft]) -> list[_Outcome | OutboxError]:
        """Store `drafts` in one transaction; per draft, its event or why it is not stored."""
        db = self._connection()
        now = datetime.now(UTC)
        tally = self._tally.copy()
        outcomes: list[_Outcome | OutboxError] = []
        try:
            with _transaction(db):
                (last_seq,) = db.execute("SELECT last_seq FROM meta").fetchone()
                for draft in drafts:
                    outcome = self._store(db, tally, draft, last_seq + 1, now)
                    if isinstance(outcome, wire.Event):
                        last_seq = outcome.seq
                    outcomes.append(outcome)
                shed_now = tally.shed != self._tally.shed
                db.execute(
                    "UPDATE meta SET last_seq = ?, shed_p0 = ?, shed_p1 = ?, shed_p2 = ?,"
                    " last_shed_at = CASE WHEN ? THEN ? ELSE last_shed_at END",
                    (last_seq, *tally.shed, shed_now, wire.format_time(now)),
                )
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot write to outbox {self._path}: {exc}") from exc
        if shed_now:
            self._last_shed_at = now
            logger.warning(
                "outbox %s full: shed so far p1=%d p2=%d", self._path, tally.shed[1], tally.shed[2]
            )
        self._tally = tally
        self.append_transactions += 1
        if last_seq != self._last_seq:
            self._last_seq = last_seq
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._grew.set)
        return outcomes

    def _store(
        self, db: sqlite3.Connection, tally: Tally, draft: Draft, seq: int, now: datetime
    ) -> _Outcome:
        """Insert one draft as event `seq`, making room first; or why it was not stored."""
        resolved = wire.resolve_at(draft.device_time, now)
        source = dict(draft.source)
        if resolved.device_at is not None:
            source["device_at"] = resolved.device_at
        event = wire.Event(
            v=wire.VERSION,
            id=wire.new_event_id(),
            site=self._site,
            device=draft.device,
            kind=draft.kind,
            type=draft.type,
            at=resolved.at,
            epoch=self.epoch,
            seq=seq,
            source=source,
            data=dict(draft.data),
        )
        try:
            payload = wire.encode(event)  # refuses what the hub would dead-letter
        except wire.WireError as exc:
            return exc
        lane, size = event.lane, len(payload)
        if not self._make_room(db, tally, lane, size):
            tally.shed[lane] += 1
            return EventShed(lane, size)
        db.execute(
            "INSERT INTO events (seq, lane, kind, device, id, payload) VALUES (?, ?, ?, ?, ?, ?)",
            (seq, int(lane), event.kind, event.device, str(event.id), payload),
        )
        tally.add(lane, size)
        return event

    def _make_room(self, db: sqlite3.Connection, tally: Tally, lane: Lane, size: int) -> bool:
        """Shed the oldest events of the lanes that give way until `size` bytes of `lane`
        fit; False when they cannot (the incoming event is then shed). P0 always fits.
        """
        while (lanes := givers(self._bounds, tally, lane, size)) is not None:
            victim = next((giver for giver in lanes if tally.depth[giver] > 0), None)
            if victim is None:
                return lane is Lane.P0
            (shed_size,) = db.execute(
                "DELETE FROM events WHERE seq ="
                " (SELECT MIN(seq) FROM events WHERE lane = ?) RETURNING LENGTH(payload)",
                (int(victim),),
            ).fetchone()
            tally.remove(victim, shed_size)
            tally.shed[victim] += 1
        return True

    def _pending(self, lane: Lane | None, after: int, limit: int | None) -> list[Entry]:
        query = "SELECT seq, lane, kind, device, payload FROM events WHERE seq > ?"
        parameters: list[int] = [after]
        if lane is not None:
            query += " AND lane = ?"
            parameters.append(int(lane))
        query += " ORDER BY lane, seq"
        if limit is not None:
            query += " LIMIT ?"
            parameters.append(limit)
        return self._select(query, parameters)

    def _entries(self, seqs: tuple[int, ...]) -> list[Entry]:
        found: list[Entry] = []
        for start in range(0, len(seqs), _IN_CHUNK):
            chunk = seqs[start : start + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            found += self._select(
                f"SELECT seq, lane, kind, device, payload FROM events WHERE seq IN ({marks})",  # noqa: S608 - only "?" marks
                list(chunk),
            )
        return sorted(found, key=lambda entry: (entry.lane, entry.seq))

    def _select(self, query: str, parameters: list[int]) -> list[Entry]:
        try:
            rows = self._connection().execute(query, parameters).fetchall()
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot read outbox {self._path}: {exc}") from exc
        return [
            Entry(seq, Lane(lane), Kind(kind), device, payload)
            for seq, lane, kind, device, payload in rows
        ]

    def _delete(self, epoch: uuid.UUID, ranges: tuple[tuple[int, int], ...]) -> int:
        if epoch != self.epoch:
            return 0
        db = self._connection()
        tally = self._tally.copy()
        deleted = 0
        try:
            with _transaction(db):
                for first, last in ranges:
                    gone = db.execute(
                        "DELETE FROM events WHERE seq BETWEEN ? AND ?"
                        " RETURNING lane, LENGTH(payload)",
                        (first, last),
                    ).fetchall()
                    for lane, size in gone:
                        tally.remove(Lane(lane), size)
                    deleted += len(gone)
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot remove acked events in outbox {self._path}: {exc}") from exc
        self._tally = tally
        return deleted


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """`BEGIN IMMEDIATE` ... `COMMIT`; `ROLLBACK` if anything fails, the commit included."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
