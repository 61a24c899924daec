"""The Modbus door controller simulator, read with a plain pymodbus client on real sockets."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import random
from typing import TYPE_CHECKING

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ModbusException

from simulators.door_controller import INPUTS, DoorController, DoorMap, Layout, RandomRates

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def client_of(
    sim: DoorController, timeout_s: float = 0.3
) -> AsyncIterator[AsyncModbusTcpClient]:
    """A connected client of `sim` without retries or automatic reconnects."""
    client = AsyncModbusTcpClient(
        sim.host, port=sim.port, timeout=timeout_s, retries=0, reconnect_delay=0
    )
    assert await client.connect()
    try:
        yield client
    finally:
        client.close()


async def _bits(sim: DoorController, client: AsyncModbusTcpClient, count: int) -> list[bool]:
    response = await client.read_discrete_inputs(0, count=count, device_id=sim.device_id)
    assert not response.isError()
    return list(response.bits[:count])


async def test_default_map_is_eight_discrete_inputs_per_door() -> None:
    """Door n's inputs are discrete inputs 8n+k (position, lock, forced, tamper, REX)."""
    async with DoorController(3, device_id=9) as sim, client_of(sim) as client:
        assert [await _bits(sim, client, 24)] == [
            [False, True, False, False, False, False, False, False] * 3
        ]
        sim.set(1, open=True, locked=False, forced=True, tamper=True, exit_request=True)
        bits = await _bits(sim, client, 24)
        assert bits[8:13] == [True, False, True, True, True]
        assert [name for name in INPUTS if DoorMap().address(1, name)[1] - 8 == 3] == ["tamper"]
        coils = await client.read_coils(8, count=5, device_id=9)
        assert list(coils.bits[:5]) == bits[8:13]  # coils mirror the discrete inputs


async def test_register_layout_puts_a_door_in_one_register() -> None:
    """In the registers layout, door n is input register base+n, its inputs the bits k."""
    door_map = DoorMap(Layout.REGISTERS, base=20)
    async with DoorController(2, door_map=door_map) as sim, client_of(sim) as client:
        sim.set(1, open=True, locked=False, tamper=True)
        response = await client.read_input_registers(20, count=2, device_id=1)
        assert response.registers == [0b10, 0b1001]
        holding = await client.read_holding_registers(20, count=2, device_id=1)
        assert holding.registers == response.registers
        assert door_map.address(1, "tamper") == ("input_register", 21, 3)


async def test_reads_past_the_map_get_an_exception_response() -> None:
    """An address beyond the doors is answered with ILLEGAL_ADDRESS, like a real device."""
    async with DoorController(1) as sim, client_of(sim) as client:
        response = await client.read_discrete_inputs(0, count=64, device_id=1)
        assert response.isError()
        assert response.exception_code == ExcCodes.ILLEGAL_ADDRESS


async def test_exit_button_is_a_pulse() -> None:
    """`press_exit` sets the REX input for `pulse_s`, then clears it."""
    async with DoorController(1, pulse_s=0.1) as sim, client_of(sim) as client:
        sim.press_exit(0)
        assert (await _bits(sim, client, 8))[4] is True
        await asyncio.sleep(0.2)
        assert (await _bits(sim, client, 8))[4] is False


async def test_pause_stalls_and_resume_answers() -> None:
    """Paused, a request gets no answer (the client times out); resumed, it answers again."""
    async with DoorController(1) as sim:
        async with client_of(sim, timeout_s=0.2) as client:
            sim.pause()
            with pytest.raises(ModbusException):
                await client.read_discrete_inputs(0, count=8, device_id=1)
        sim.resume()
        async with client_of(sim) as client:
            assert len(await _bits(sim, client, 8)) == 8


async def test_stop_refuses_connections_and_start_listens_on_the_same_port() -> None:
    """After `stop` nothing listens; `start` listens again on the same port."""
    async with DoorController(1) as sim:
        port = sim.port
        await sim.stop()
        refused = AsyncModbusTcpClient(
            sim.host, port=port, timeout=0.2, retries=0, reconnect_delay=0
        )
        assert not await refused.connect()
        refused.close()
        await sim.start()
        assert sim.port == port
        async with client_of(sim) as client:
            assert len(await _bits(sim, client, 8)) == 8


async def test_fail_with_answers_exception_codes() -> None:
    """`fail_with(code)` answers every read with that code until cleared."""
    async with DoorController(1) as sim, client_of(sim) as client:
        sim.fail_with(ExcCodes.DEVICE_FAILURE)
        response = await client.read_discrete_inputs(0, count=8, device_id=1)
        assert response.exception_code == ExcCodes.DEVICE_FAILURE
        sim.fail_with(None)
        assert len(await _bits(sim, client, 8)) == 8


async def test_scenarios_move_the_doors() -> None:
    """`force` opens a locked door with the forced input; it closes and clears afterwards."""
    async with DoorController(1) as sim:
        task = asyncio.create_task(sim.force(0, open_s=0.1))
        await asyncio.sleep(0.02)
        assert (sim.doors[0].open, sim.doors[0].locked, sim.doors[0].forced) == (True, True, True)
        await task
        assert (sim.doors[0].open, sim.doors[0].forced) == (False, False)


def test_random_plan_is_seeded_and_realistic() -> None:
    """The same seed gives the same happenings; passages far outnumber forced doors."""
    sim = DoorController(16)
    first = list(itertools.islice(sim.random_plan(random.Random(7)), 2000))
    assert first == list(itertools.islice(sim.random_plan(random.Random(7)), 2000))
    assert first != list(itertools.islice(sim.random_plan(random.Random(8)), 2000))
    assert all(a.at < b.at for a, b in itertools.pairwise(first))
    sorts = collections.Counter(happening.sort for happening in first)
    assert sorts["passage"] > 100 * sorts["forced"]
    assert {happening.door for happening in first} == set(range(16))
    # 16 doors, each passed about every 120 s: 2,000 happenings take about 15,000 s.
    assert 0.8 < first[-1].at / (2000 * 120 / 16) < 1.2


async def test_run_random_moves_the_doors() -> None:
    """Played in real time, the plan opens and closes doors."""
    sim = DoorController(4)  # not listening: the doors move all the same
    rates = RandomRates(passage_s=0.05)
    task = asyncio.create_task(sim.run_random(random.Random(1), rates))
    seen = set()
    for _ in range(40):
        await asyncio.sleep(0.02)
        seen.add(tuple(door.open for door in sim.doors))
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert len(seen) > 1
