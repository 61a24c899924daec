"""The alert outbox read as a feed by live readers (the SSE stream), resumable and
gap-free, and never held up by transactions that are not writing it.

Outbox ids come from a sequence, so they are allocated in one order and committed in
another: a reader that remembered only "the last id I passed" would skip a row whose
transaction committed after a row with a larger id was read. So rows are placed in
`(xact, id)` order (`xact`: the writing transaction's id, migration 0008), and a reader
keeps two things (`FeedReader`), for which this holds after every read: **the rows it
has delivered (or left out, as older than its start) are those at or before `P`, and
those above `P` whose transaction `D` sees as ended** (`pg_visible_in_snapshot(xact,
D)`):

- `P`, its **position** `(xact, id)`;
- `D`, its **delivered-through snapshot**, a `pg_snapshot` (`xmin:xmax:running xids`,
  as long as the number of transactions running then: no set of ids to bound).

A read takes, in one statement, hence one snapshot `S` (`H` its `pg_snapshot_xmin`, the
**horizon**), the rows above `P` that `S` sees (committed) and `D` does not. Then:

- Nothing is delivered twice: a row read is above `P` and unseen by `D`; afterwards it
  is at or before the new `P` or seen by the new `D` (below).
- The invariant holds again: `D` is older than `S`, so of the rows above `P` what it
  sees `S` sees; with the rows just read, every row above `P` that `S` sees has been
  delivered, and `D` becomes `S`. Every transaction older than `H` has ended, so
  every row that will ever sit below `(H, 0)` is one `S` sees, and a row written later
  sits above it: `P` becomes `(H, 0)` (or stays, if higher).
- Nothing is skipped: a row not delivered is, by the invariant, above `P` and unseen
  by `D`. Once its transaction commits, the next read's snapshot sees it and reads it.
  A late commit with a smaller id or a smaller `xact` is only a row above `P`.
- Nothing waits for a transaction that does not write the outbox, wherever it runs
  (another database, a report, a TimescaleDB job): it only keeps `H`, so `P`, back,
  which costs each read a pass over the rows above `P` already delivered, filtered
  out.

A reader that starts now takes the snapshot of now as `D0` and its horizon as `P0`:
what is committed already is not for it (counted as delivered), all the rest is. A
reader that starts after a row starts at `P0 = position_after(row)` having delivered
nothing above it: `D0 = P0.xact:P0.xact:` sees no transaction at or above `P0.xact`,
where every row above `P0` sits.

A read is bounded (`limit`). Cut short below the horizon, `P` moves to the last row
read (every row up to it was below `H`, seen by `S`, so delivered). Cut short above it,
`P` moves to `(H, 0)` and the reader goes on from the last row read, taking only rows
that `S` sees (`pending`) until it has them all; then `D` becomes `S`. Rows come in
commit-visibility order: at each read, the ended transactions' rows in `(xact, id)`
order, then the rows above the horizon already committed.

Resuming: each row is handed out with a `resume_id`, the greatest outbox row (of any
site) at or before `P` once the row is delivered: the row's own id when it was below
the horizon, else an earlier one. Every row not yet delivered sits above it, and
`position_after(resume_id)` is its place, so a client resuming from the last one it
received loses nothing; the rows delivered above `P` come again (at-least-once across
reconnects; consumers drop repeats by `alert_id` and `revision`).

Rejected alternatives: remembering the ids delivered above `P` (a set to bound, with a
fallback to waiting when it overflows) does what `D` does with more state; a horizon
over the transactions that wrote the outbox only (those holding a lock on
`alert_outbox`) is unsound, since a transaction may hold its xid long before it writes
its first outbox row, whose `xact` is that older xid. Read on the primary: a standby's
snapshots may not list the running transactions where `pg_snapshot` looks for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["FeedPosition", "FeedReader", "FeedRow", "position_after"]


@dataclass(frozen=True, slots=True, order=True)
class FeedPosition:
    """A place in the feed, `(xact, id)`; ordered as the feed is."""

    xact: int
    id: int


@dataclass(frozen=True, slots=True)
class FeedRow:
    """One outbox row: its id, its place, its site, the transition's JSON, and the id a
    client resumes from once it has this row (`FeedReader`)."""

    id: int
    position: FeedPosition
    site: str
    payload: bytes
    resume_id: int


async def _text(conn: AsyncConnection[Any], query: str, params: list[Any]) -> str:
    cursor = await conn.execute(query, params)
    row = await cursor.fetchone()
    if row is None or row[0] is None:
        message = f"{query!r} returned no value"
        raise RuntimeError(message)
    return str(row[0])


async def position_after(conn: AsyncConnection[Any], row_id: int) -> FeedPosition:
    """The place of a reader that has passed the row `row_id`. If there is no such row
    (not from this database), a place before every row with a larger id, and every
    row still to commit: nothing after it is lost, some rows may come again."""
    cursor = await conn.execute("SELECT xact::text FROM alert_outbox WHERE id = %s", [row_id])
    row = await cursor.fetchone()
    if row is not None:
        return FeedPosition(xact=int(row[0]), id=row_id)
    lowest = await _text(
        conn,
        "SELECT LEAST(min(xact), pg_snapshot_xmin(pg_current_snapshot()))::text "
        "FROM alert_outbox WHERE id > %s",
        [row_id],
    )
    return FeedPosition(xact=int(lowest), id=0)


# The greatest row (of any site) before a place: what a client resumes from.
_BEFORE: Final = """
SELECT xact::text, id FROM alert_outbox WHERE (xact, id) <= (%s::text::xid8, %s)
ORDER BY xact DESC, id DESC LIMIT 1
"""

# One snapshot for all of it: the snapshot's text, the greatest row below its horizon,
# and the rows above the scan's start that `seen` does not see (and `within` does).
_READ: Final = """
SELECT snap.s::text, below.xact::text, below.id, o.id, o.xact::text, o.site, o.payload
FROM (SELECT pg_current_snapshot() AS s) AS snap
LEFT JOIN LATERAL (
    SELECT xact, id FROM alert_outbox WHERE xact < pg_snapshot_xmin(snap.s)
    ORDER BY xact DESC, id DESC LIMIT 1
) AS below ON true
LEFT JOIN LATERAL (
    SELECT id, xact, site, payload FROM alert_outbox
    WHERE (xact, id) > (%(xact)s::text::xid8, %(id)s)
      AND NOT pg_visible_in_snapshot(xact, %(seen)s::pg_snapshot)
      AND (%(within)s::pg_snapshot IS NULL
           OR pg_visible_in_snapshot(xact, %(within)s::pg_snapshot))
      AND (%(sites)s::text[] IS NULL OR site = ANY(%(sites)s::text[]))
    ORDER BY xact, id
    LIMIT %(limit)s
) AS o ON true
ORDER BY o.xact, o.id
"""


def _xmin(snapshot: str) -> int:
    return int(snapshot.partition(":")[0])


@dataclass(slots=True)
class FeedReader:
    """One reader's place in the feed (see the module docstring); `read` moves it."""

    position: FeedPosition
    """`P`: every row at or before it has been delivered."""
    seen: str
    """`D`: every row above `P` of a transaction ended in this snapshot was delivered."""
    resume: FeedPosition
    """The greatest row at or before `P` (its id is what a client resumes from)."""
    pending: tuple[FeedPosition, str] | None = None
    """A read cut short above the horizon: where it stopped, and its snapshot."""
    more: bool = False
    """Whether the last read was cut short (read again at once)."""

    @classmethod
    async def start(cls, conn: AsyncConnection[Any], after: int | None) -> FeedReader:
        """A reader from now (`after` None: what is committed now is not for it) or
        after the row `after` (`position_after`)."""
        if after is None:
            seen = await _text(conn, "SELECT pg_current_snapshot()::text", [])
            position = FeedPosition(_xmin(seen), 0)
        else:
            position = await position_after(conn, after)
            # No transaction at or above `P.xact` has ended in it: nothing above `P`.
            seen = f"{position.xact}:{position.xact}:"
        cursor = await conn.execute(_BEFORE, [str(position.xact), position.id])
        row = await cursor.fetchone()
        resume = FeedPosition(0, 0) if row is None else FeedPosition(int(row[0]), row[1])
        return cls(position=position, seen=seen, resume=resume)

    async def read(
        self, conn: AsyncConnection[Any], sites: list[str] | None, limit: int
    ) -> list[FeedRow]:
        """Up to `limit` rows of `sites` (None: all) not delivered yet and committed
        now, in feed order; each with the id to resume from once it is received."""
        start, within = self.pending if self.pending is not None else (self.position, None)
        cursor = await conn.execute(
            _READ,
            {
                "xact": str(start.xact),
                "id": start.id,
                "seen": self.seen,
                "within": within,
                "sites": sites,
                "limit": limit,
            },
        )
        found = await cursor.fetchall()
        snapshot = within if within is not None else str(found[0][0])
        horizon = FeedPosition(_xmin(str(found[0][0])), 0)
        below = None if found[0][1] is None else FeedPosition(int(found[0][1]), found[0][2])
        rows: list[FeedRow] = []
        for _, _, _, ident, xact, site, payload in found:
            if ident is None:
                continue
            place = FeedPosition(int(xact), ident)
            if within is None and place < horizon:
                # An ended transaction's row: every row up to it has been delivered.
                self.position = self.resume = place
            elif within is None:
                self._advance(horizon, below)
            rows.append(FeedRow(ident, place, site, bytes(payload), self.resume.id))
        self.more = len(rows) == limit
        if not self.more:
            # Every row above `P` that `snapshot` sees has been delivered.
            if within is None:
                self._advance(horizon, below)
            self.seen, self.pending = snapshot, None
        elif within is not None or rows[-1].position > horizon:
            # Cut short above the horizon: go on from there, with this snapshot's rows.
            self.pending = (rows[-1].position, snapshot)
        return rows

    def _advance(self, horizon: FeedPosition, below: FeedPosition | None) -> None:
        """Move `P` to `horizon` (every row below it has been delivered), and the resume
        point to `below`, the greatest row below it."""
        self.position = max(self.position, horizon)
        if below is not None and self.resume < below < self.position:
            self.resume = below
