"""The hub's ack: which (epoch, seq) it has committed, as ranges of seqs."""

import bisect
import uuid
from collections.abc import Iterable, Iterator
from typing import Annotated, Final

import msgspec

from wire._base import Version, WireStruct
from wire._event import Seq

__all__ = ["MAX_RANGES", "Ack", "AckKey", "SeqRange", "ranges_from_seqs"]

MAX_RANGES: Final = 10_000
"""Ranges per ack. A burst of 30,000 events with every other one shed is 15,000: two acks."""

SeqRange = tuple[Seq, Seq]


class Ack(WireStruct, frozen=True, kw_only=True):
    """Seqs of one epoch that the hub has committed, as inclusive `[first, last]` ranges.

    Ranges are sorted and do not overlap (they may touch); an ack is not cumulative: it
    names exactly what it acks, and seqs outside its ranges say nothing.
    """

    v: Version
    epoch: uuid.UUID
    ranges: Annotated[tuple[SeqRange, ...], msgspec.Meta(min_length=1, max_length=MAX_RANGES)]

    def __post_init__(self) -> None:
        previous = 0
        for index, (first, last) in enumerate(self.ranges):
            if first > last:
                raise ValueError(f"`ranges[{index}]` [{first}, {last}] runs backwards")
            if first <= previous:
                raise ValueError(
                    f"`ranges[{index}]` [{first}, {last}] overlaps or precedes the range "
                    f"before it, ending at {previous}"
                )
            previous = last

    def __contains__(self, seq: object) -> bool:
        """Whether `seq` is acked."""
        if not isinstance(seq, int):
            return False
        index = bisect.bisect_right(self.ranges, seq, key=lambda pair: pair[0]) - 1
        return index >= 0 and seq <= self.ranges[index][1]

    def seqs(self) -> Iterator[int]:
        """Every acked seq, in order."""
        for first, last in self.ranges:
            yield from range(first, last + 1)

    def count(self) -> int:
        """How many seqs the ack covers."""
        return sum(last - first + 1 for first, last in self.ranges)


class AckKey(msgspec.Struct, frozen=True):
    """What an ack needs from an event: decoded alone, the rest of the payload is skipped."""

    epoch: uuid.UUID
    seq: Seq


def ranges_from_seqs(seqs: Iterable[int]) -> tuple[SeqRange, ...]:
    """The fewest sorted, non-overlapping inclusive ranges covering `seqs` exactly.

    Duplicates and order do not matter; a seq below 1 is a `ValueError`.
    """
    ranges: list[SeqRange] = []
    for seq in sorted(set(seqs)):
        if seq < 1:
            raise ValueError(f"seq {seq} is below 1")
        if ranges and ranges[-1][1] == seq - 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return tuple(ranges)
