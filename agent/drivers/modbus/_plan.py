"""Read planning: a controller's inputs in as few Modbus requests as its map allows.

`plan_reads` is pure: the inputs' addresses are grouped by table, sorted, and joined into
one read while the next address is at most `gap` unused addresses past the current read
and the read stays within Modbus's limits (2000 bits, 125 registers). `Snapshot` holds
what the reads returned and answers each input's bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from agent.drivers.modbus.config import InputConfig, Table

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = ["MAX_BITS", "MAX_REGISTERS", "Read", "ReadError", "Snapshot", "plan_reads"]

MAX_BITS: Final = 2000
"""The most coils or discrete inputs one request may read (Modbus application protocol)."""
MAX_REGISTERS: Final = 125
"""The most registers one request may read."""


class ReadError(Exception):
    """A controller's answer that cannot be used (an exception code, a short answer)."""


@dataclass(frozen=True, slots=True, order=True)
class Read:
    """One request: `count` addresses of `table` from `start`."""

    table: Table
    start: int
    count: int

    @property
    def end(self) -> int:
        """The first address after the read."""
        return self.start + self.count

    def covers(self, table: Table, address: int) -> bool:
        """Whether `address` of `table` is in this read."""
        return table is self.table and self.start <= address < self.end


def limit_of(table: Table) -> int:
    """The most addresses of `table` one request may read."""
    return MAX_BITS if table.is_bits else MAX_REGISTERS


def plan_reads(points: Iterable[tuple[Table, int]], *, gap: int = 0) -> tuple[Read, ...]:
    """The fewest reads covering every `(table, address)` in `points`, in table order.

    Two addresses share a read when at most `gap` unused addresses lie between them and the
    read stays within the table's limit. Duplicates are read once.
    """
    if gap < 0:
        raise ValueError(f"gap must be >= 0, got {gap}")
    by_table: dict[Table, set[int]] = {}
    for table, address in points:
        if not 0 <= address <= 0xFFFF:
            raise ValueError(f"address {address} is outside 0..65535")
        by_table.setdefault(table, set()).add(address)
    reads: list[Read] = []
    for table in Table:
        addresses = sorted(by_table.get(table, ()))
        if addresses:
            reads.extend(_coalesce(table, addresses, gap))
    return tuple(reads)


def _coalesce(table: Table, addresses: Sequence[int], gap: int) -> list[Read]:
    limit = limit_of(table)
    reads: list[Read] = []
    start = end = addresses[0]  # `end` is the last address in the read (inclusive)
    for address in addresses[1:]:
        if address - end - 1 <= gap and address - start + 1 <= limit:
            end = address
        else:
            reads.append(Read(table, start, end - start + 1))
            start = end = address
    reads.append(Read(table, start, end - start + 1))
    return reads


class Snapshot:
    """The values one poll read: per read, its bits or registers."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[Read, Sequence[int] | Sequence[bool]]) -> None:
        for read, got in values.items():
            if len(got) < read.count:
                message = (
                    f"{read.table.value} {read.start}+{read.count}: "
                    f"answer has {len(got)} values, expected {read.count}"
                )
                raise ReadError(message)
        self._values = values

    def bit(self, point: InputConfig) -> bool:
        """The value of `point` (inverted if it says so)."""
        for read, got in self._values.items():
            if read.covers(point.table, point.address):
                raw = got[point.address - read.start]
                break
        else:
            raise ReadError(f"{point.table.value} {point.address} was not read")
        if point.table.is_bits or point.bit is None:
            value = bool(raw)
        else:
            value = bool((int(raw) >> point.bit) & 1)
        return value != point.invert
