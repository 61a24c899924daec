"""The durable outbox: every event is written here before its device hears "yes".

One SQLite database (WAL, `synchronous=FULL`: a commit is on disk when it returns)
holds the events until the hub acks them, and the outbox's identity: its `epoch`, a
UUID made when the database is created, and the last `seq` handed out. `append` gives a
driver's draft its id, `at`, epoch and seq and commits it in one transaction; `delete`
removes exactly the acked (epoch, seq) it holds. Only then may the device be answered.

SQLite calls block, so they run on one thread of the outbox's own, which owns the one
connection; the event loop awaits them. The schema's version is `PRAGMA user_version`.

Errors: `agent.errors.OutboxError` when the database cannot be opened, read or written
(nothing is stored by a failed `append`); `wire.WireError` when a draft cannot make a
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
from agent.errors import OutboxError
from wire import EventType, Kind, Lane

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping
    from pathlib import Path
    from types import TracebackType

__all__ = ["SCHEMA_VERSION", "Draft", "Entry", "JsonScalar", "Outbox"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
_SCHEMA: Final = (
    """CREATE TABLE meta (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        epoch TEXT NOT NULL,
        site TEXT NOT NULL,
        last_seq INTEGER NOT NULL CHECK (last_seq >= 0),
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY CHECK (seq >= 1),
        lane INTEGER NOT NULL,
        kind TEXT NOT NULL,
        device TEXT NOT NULL,
        id TEXT NOT NULL,
        payload BLOB NOT NULL
    )""",
    "CREATE INDEX events_by_lane ON events (lane, seq)",
)

_T = TypeVar("_T")
JsonScalar = str | int | float | bool | None


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
    """The outbox at `path` for `site`, as an async context manager (opens and closes it)."""

    def __init__(self, path: Path, *, site: str, lock_timeout_s: float = 5.0) -> None:
        self._path = path
        self._site = site
        self._lock_timeout_s = lock_timeout_s
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None  # used on the executor's thread only
        self._epoch: uuid.UUID | None = None
        self._last_seq = 0
        self._grew = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

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

    async def append(self, draft: Draft) -> wire.Event:
        """Make `draft` an event and store it durably; it is on disk when this returns."""
        return await self._call(self._append, draft)

    async def pending(
        self, lane: Lane | None = None, *, after: int = 0, limit: int | None = None
    ) -> list[Entry]:
        """Events not acked yet with seq > `after` (of `lane`, if given), in (lane, seq) order."""
        return await self._call(self._pending, lane, after, limit)

    async def delete(self, epoch: uuid.UUID, ranges: Iterable[tuple[int, int]]) -> int:
        """Delete exactly the held events of `epoch` in the inclusive `ranges`; how many.

        Seqs it does not hold, and any other epoch, are ignored (an ack names what the
        hub committed, which may include events already deleted).
        """
        return await self._call(self._delete, epoch, tuple(ranges))

    async def stats(self) -> wire.LaneSet:
        """Depth and bytes waiting per lane, for the agent status (nothing is shed yet)."""
        return await self._call(self._stats)

    async def wait_beyond(self, seq: int) -> None:
        """Return once an event with a seq above `seq` has been appended."""
        while self._last_seq <= seq:
            self._grew.clear()
            await self._grew.wait()

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
            (version,) = db.execute("PRAGMA user_version").fetchone()
            if version == 0:
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute(
                    "INSERT INTO meta (one, epoch, site, last_seq, created_at)"
                    " VALUES (1, ?, ?, 0, ?)",
                    (str(uuid.uuid4()), self._site, wire.format_time(datetime.now(UTC))),
                )
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            elif version != SCHEMA_VERSION:
                raise OutboxError(
                    f"outbox {self._path} has schema version {version}; "
                    f"this agent knows version {SCHEMA_VERSION}"
                )
            epoch, site, last_seq = db.execute("SELECT epoch, site, last_seq FROM meta").fetchone()
        if site != self._site:
            raise OutboxError(
                f"outbox {self._path} belongs to site {site!r}, not {self._site!r}; "
                "its events would go out under the wrong site: move it aside"
            )
        self._epoch, self._last_seq = uuid.UUID(epoch), last_seq

    def _close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()

    def _append(self, draft: Draft) -> wire.Event:
        db = self._connection()
        resolved = wire.resolve_at(draft.device_time, datetime.now(UTC))
        source = dict(draft.source)
        if resolved.device_at is not None:
            source["device_at"] = resolved.device_at
        try:
            with _transaction(db):
                (last_seq,) = db.execute("SELECT last_seq FROM meta").fetchone()
                event = wire.Event(
                    v=wire.VERSION,
                    id=wire.new_event_id(),
                    site=self._site,
                    device=draft.device,
                    kind=draft.kind,
                    type=draft.type,
                    at=resolved.at,
                    epoch=self.epoch,
                    seq=last_seq + 1,
                    source=source,
                    data=dict(draft.data),
                )
                payload = wire.encode(event)  # refuses what the hub would dead-letter
                db.execute(
                    "INSERT INTO events (seq, lane, kind, device, id, payload)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (event.seq, int(event.lane), event.kind, event.device, str(event.id), payload),
                )
                db.execute("UPDATE meta SET last_seq = ?", (event.seq,))
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot write to outbox {self._path}: {exc}") from exc
        self._last_seq = event.seq
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._grew.set)
        return event

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
        deleted = 0
        try:
            with _transaction(db):
                for first, last in ranges:
                    deleted += db.execute(
                        "DELETE FROM events WHERE seq BETWEEN ? AND ?", (first, last)
                    ).rowcount
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot remove acked events in outbox {self._path}: {exc}") from exc
        return deleted

    def _stats(self) -> wire.LaneSet:
        try:
            rows = (
                self._connection()
                .execute(
                    "SELECT lane, COUNT(*), COALESCE(SUM(LENGTH(payload)), 0)"
                    " FROM events GROUP BY lane"
                )
                .fetchall()
            )
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot read outbox {self._path}: {exc}") from exc
        found = {Lane(lane): (depth, size) for lane, depth, size in rows}
        lanes = {
            lane.label: wire.LaneStats(
                depth=found.get(lane, (0, 0))[0], bytes=found.get(lane, (0, 0))[1], shed=0
            )
            for lane in Lane
        }
        return wire.LaneSet(**lanes)


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
