"""The link's memory of events published but not yet acked by the hub, and their resends.

In memory only: the outbox's rows are the truth. After a restart or a reconnect the
whole outbox is pending, and publishing it all again rebuilds this. Each event is due
for a resend `initial_s` after its first publish, then after twice that, up to `max_s`.
"""

from __future__ import annotations

import bisect
import heapq
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from wire import Lane

__all__ = ["Unacked"]


@dataclass(slots=True)
class _Record:
    lane: Lane
    delay: float
    due: float


class Unacked:
    """Events published and not acked: seq → lane and resend time, with a due-time heap."""

    def __init__(
        self, initial_s: float, max_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._initial_s = initial_s
        self._max_s = max_s
        self._clock = clock
        self._records: dict[int, _Record] = {}
        self._heap: list[tuple[float, int]] = []  # (due, seq); stale items skipped

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, seq: object) -> bool:
        return seq in self._records

    def clear(self) -> None:
        """Forget everything (a new connection publishes all pending again)."""
        self._records.clear()
        self._heap.clear()

    def sent(self, lane: Lane, seq: int) -> None:
        """Event `seq` was published for the first time: due again after `initial_s`."""
        due = self._clock() + self._initial_s
        self._records[seq] = _Record(lane, self._initial_s, due)
        heapq.heappush(self._heap, (due, seq))

    def forget(self, seqs: Iterable[int]) -> None:
        """Stop tracking `seqs` (the outbox no longer holds them: shed or acked)."""
        for seq in seqs:
            self._records.pop(seq, None)

    def acked(self, ranges: Iterable[tuple[int, int]]) -> int:
        """Drop the seqs in the inclusive `ranges`; how many were tracked."""
        spans = sorted(ranges)
        covered = sum(last - first + 1 for first, last in spans)
        if covered <= 4 * len(self._records):
            gone = [seq for first, last in spans for seq in range(first, last + 1)]
        else:  # a wide ack (say [1, 10^9]): test each tracked seq instead
            starts = [first for first, _ in spans]
            gone = [
                seq
                for seq in self._records
                if (at := bisect.bisect_right(starts, seq) - 1) >= 0 and seq <= spans[at][1]
            ]
        before = len(self._records)
        self.forget(gone)
        return before - len(self._records)

    def next_due(self) -> float | None:
        """The clock time of the next resend, or None when nothing is tracked."""
        while self._heap:
            due, seq = self._heap[0]
            record = self._records.get(seq)
            if record is not None and record.due == due:
                return due
            heapq.heappop(self._heap)
        return None

    def take_due(self) -> list[int]:
        """The seqs due now, P0 first then by seq; each rescheduled with its delay doubled."""
        now = self._clock()
        due: list[tuple[Lane, int]] = []
        while (next_due := self.next_due()) is not None and next_due <= now:
            _, seq = heapq.heappop(self._heap)
            record = self._records[seq]
            record.delay = min(record.delay * 2, self._max_s)
            record.due = now + record.delay
            heapq.heappush(self._heap, (record.due, seq))
            due.append((record.lane, seq))
        return [seq for _, seq in sorted(due)]
