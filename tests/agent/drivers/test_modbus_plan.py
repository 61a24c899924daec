"""Read planning (pure): a controller's inputs in as few requests as the map allows."""

from __future__ import annotations

import pytest

from agent.drivers.modbus import (
    MAX_BITS,
    MAX_REGISTERS,
    InputConfig,
    Read,
    ReadError,
    Snapshot,
    Table,
    plan_reads,
)
from simulators.door_controller import INPUTS, DoorMap, Layout

DI, COIL, IR, HR = Table.DISCRETE_INPUT, Table.COIL, Table.INPUT_REGISTER, Table.HOLDING_REGISTER


def test_contiguous_addresses_are_one_read() -> None:
    """Addresses next to each other become a single request."""
    assert plan_reads([(DI, 3), (DI, 1), (DI, 2), (DI, 0)]) == (Read(DI, 0, 4),)


def test_gaps_join_within_the_allowed_gap_only() -> None:
    """A gap of at most `gap` unused addresses is read through; a wider one splits."""
    points = [(DI, 0), (DI, 5), (DI, 20)]
    assert plan_reads(points, gap=4) == (Read(DI, 0, 6), Read(DI, 20, 1))
    assert plan_reads(points, gap=3) == (Read(DI, 0, 1), Read(DI, 5, 1), Read(DI, 20, 1))
    assert plan_reads(points, gap=14) == (Read(DI, 0, 21),)


def test_tables_are_read_apart_and_duplicates_once() -> None:
    """Each table has its own reads (in table order); an address named twice is read once."""
    points = [(HR, 7), (DI, 1), (IR, 7), (COIL, 1), (DI, 1), (IR, 8)]
    assert plan_reads(points, gap=10) == (
        Read(DI, 1, 1),
        Read(COIL, 1, 1),
        Read(IR, 7, 2),
        Read(HR, 7, 1),
    )


@pytest.mark.parametrize(
    ("table", "limit"), [(DI, MAX_BITS), (COIL, MAX_BITS), (IR, MAX_REGISTERS), (HR, MAX_REGISTERS)]
)
def test_a_read_never_exceeds_the_protocol_limit(table: Table, limit: int) -> None:
    """2000 bits or 125 registers per request at most, however dense the map."""
    reads = plan_reads([(table, address) for address in range(limit + 1)], gap=10)
    assert reads == (Read(table, 0, limit), Read(table, limit, 1))
    assert plan_reads([(table, 0), (table, limit - 1)], gap=limit) == (Read(table, 0, limit),)
    assert len(plan_reads([(table, 0), (table, limit)], gap=limit)) == 2


def test_sixteen_doors_of_the_default_map_are_one_request() -> None:
    """The simulator's default map: 16 doors x 5 inputs in one discrete-input read."""
    door_map = DoorMap()
    points = [door_map.address(door, name)[:2] for door in range(16) for name in INPUTS]
    assert plan_reads([(Table(table), address) for table, address in points], gap=16) == (
        Read(DI, 0, 125),
    )


def test_register_layout_is_one_register_per_door() -> None:
    """The register layout reads one register per door, all in one request."""
    door_map = DoorMap(Layout.REGISTERS, base=100)
    points = {door_map.address(door, name)[:2] for door in range(16) for name in INPUTS}
    assert plan_reads([(Table(t), a) for t, a in points]) == (Read(IR, 100, 16),)


def test_bad_addresses_and_gaps_are_refused() -> None:
    """Addresses outside 0..65535 and negative gaps are errors, not silent reads."""
    with pytest.raises(ValueError, match="65536"):
        plan_reads([(DI, 65536)])
    with pytest.raises(ValueError, match="gap"):
        plan_reads([(DI, 1)], gap=-1)


def test_snapshot_reads_bits_register_bits_and_inverts() -> None:
    """Bits come from their read's offset; register bits by position; invert flips."""
    snapshot = Snapshot({Read(DI, 10, 3): [False, True, False], Read(IR, 5, 2): [0, 0b100]})
    assert snapshot.bit(InputConfig(table=DI, address=11)) is True
    assert snapshot.bit(InputConfig(table=DI, address=12, invert=True)) is True
    assert snapshot.bit(InputConfig(table=IR, address=6, bit=2)) is True
    assert snapshot.bit(InputConfig(table=IR, address=6, bit=1)) is False
    assert snapshot.bit(InputConfig(table=IR, address=6)) is True  # a register != 0
    with pytest.raises(ReadError, match="was not read"):
        snapshot.bit(InputConfig(table=DI, address=13))


def test_a_short_answer_is_a_read_error() -> None:
    """An answer with fewer values than requested is refused, not read past its end."""
    with pytest.raises(ReadError, match="answer has 1 values, expected 2"):
        Snapshot({Read(IR, 0, 2): [1]})
