"""The memory of recent sequences, so that a retransmitted frame makes one event.

A panel that hears no ACK sends the same frame again (same account, receiver, line and
sequence). The receiver remembers each frame it stored for `window_s` (10 minutes by
default), with a digest of its data: the same key with the same digest is a
retransmission (acknowledged, not stored again); the same key with other data is a new
message (a panel that restarted its sequence) and is stored.

The memory is a dict for lookups, written behind to a small SQLite file of its own
(WAL, `synchronous=NORMAL`) on a thread of its own: a frame's entry is in the dict
before its ACK is sent and in the file a few milliseconds later, a batch per
transaction, so the ACK never waits for a second commit. A stop writes everything
first. What a crash or a power cut can cost is the last few milliseconds of entries:
a retransmission of one of those frames after the restart is stored again (a second
event, never a lost one). It is bounded: entries older than the window are
forgotten, and past `max_entries` the oldest.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Final, NamedTuple, Self, TypeVar

from agent.errors import DriverError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from types import TracebackType

__all__ = ["SeqKey", "SequenceMemory"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_PRUNE_EVERY: Final = 1000  # writes between two prunes of the file
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS seen (
    account TEXT NOT NULL,
    receiver TEXT NOT NULL,
    line TEXT NOT NULL,
    seq TEXT NOT NULL,
    digest TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (account, receiver, line, seq)
) WITHOUT ROWID
"""


class SeqKey(NamedTuple):
    """What identifies a frame across retransmissions."""

    account: str
    receiver: str
    line: str
    seq: str


class SequenceMemory:
    """Recent (account, receiver, line, sequence) → data digest, kept across restarts."""

    def __init__(self, path: Path, *, window_s: float, max_entries: int) -> None:
        self._path = path
        self._window_s = window_s
        self._max = max_entries
        self._seen: OrderedDict[SeqKey, tuple[str, float]] = OrderedDict()
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None  # used on the executor's thread only
        self._writes = 0
        self._unwritten: list[tuple[SeqKey, str, float]] = []
        self._writer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sia-memory")
        try:
            rows = await self._call(self._open, time.time() - self._window_s)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        for account, receiver, line, seq, digest, at in rows:
            self._seen[SeqKey(account, receiver, line, seq)] = (digest, at)
        logger.info("sia: %d recent sequences remembered from %s", len(self._seen), self._path)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._writer is not None:
            await asyncio.wait({self._writer})  # what is remembered is written first
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._close)
        finally:
            executor.shutdown(wait=False)

    def __len__(self) -> int:
        return len(self._seen)

    def is_retransmission(self, key: SeqKey, digest: str) -> bool:
        """Whether a frame with `key` and this data was stored within the window."""
        found = self._seen.get(key)
        if found is None:
            return False
        seen_digest, at = found
        return seen_digest == digest and time.time() - at <= self._window_s

    def remember(self, key: SeqKey, digest: str) -> None:
        """Remember that the frame `key` with data `digest` is stored (now); written behind."""
        now = time.time()
        self._seen.pop(key, None)
        self._seen[key] = (digest, now)
        horizon = now - self._window_s
        while self._seen:
            oldest = next(iter(self._seen.values()))
            if len(self._seen) <= self._max and oldest[1] >= horizon:
                break
            self._seen.popitem(last=False)
        self._unwritten.append((key, digest, now))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_behind(), name="sia:memory-writer")

    async def _write_behind(self) -> None:
        """Write what is remembered, a batch per transaction, until nothing is left."""
        while self._unwritten:
            batch, self._unwritten = self._unwritten, []
            try:
                await self._call(self._write, batch)
            except (sqlite3.Error, DriverError) as exc:
                # The events are stored; only a retransmission after a restart could be
                # stored twice.
                logger.error("sia: cannot write the sequence memory %s: %s", self._path, exc)  # noqa: TRY400

    # Everything below runs on the memory's thread.

    async def _call(self, function: Callable[..., _T], *args: object) -> _T:
        if self._executor is None:
            raise DriverError(f"the sequence memory {self._path} is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _open(self, horizon: float) -> list[tuple[str, str, str, str, str, float]]:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, isolation_level=None)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute(_SCHEMA)
            db.execute("DELETE FROM seen WHERE at < ?", (horizon,))
            rows = db.execute(
                "SELECT account, receiver, line, seq, digest, at FROM seen ORDER BY at"
            ).fetchall()
        except (OSError, sqlite3.Error) as exc:
            raise DriverError(f"sia: cannot open the sequence memory {self._path}: {exc}") from exc
        self._db = db
        return rows[-self._max :]

    def _close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()

    def _write(self, batch: list[tuple[SeqKey, str, float]]) -> None:
        if self._db is None:
            raise DriverError(f"the sequence memory {self._path} is not open")
        self._db.execute("BEGIN")  # one transaction for the batch (autocommit otherwise)
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO seen VALUES (?, ?, ?, ?, ?, ?)",
                [(*key, digest, at) for key, digest, at in batch],
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        at = batch[-1][2]
        before, self._writes = self._writes, self._writes + len(batch)
        if before // _PRUNE_EVERY != self._writes // _PRUNE_EVERY:
            self._db.execute("DELETE FROM seen WHERE at < ?", (at - self._window_s,))
            self._db.execute(
                "DELETE FROM seen WHERE at < (SELECT at FROM seen ORDER BY at DESC"
                " LIMIT 1 OFFSET ?)",
                (self._max,),
            )
