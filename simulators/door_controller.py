"""A Modbus TCP door controller with many doors, for tests, the demo and benchmarks.

It is a real Modbus TCP server (pymodbus) answering for one unit (`device_id`). Each door
has five inputs: position (1 = open), lock (1 = locked), forced, tamper and request to
exit (REX). The default map (`DoorMap`), which docs/devices.md documents:

- layout `discrete` (default): door `n` (0-based) has discrete inputs
  `base + 8n + k` with k = 0 position, 1 lock, 2 forced, 3 tamper, 4 exit request
  (5-7 unused), so 16 doors are 128 contiguous inputs, one request;
- layout `registers`: door `n` is input register `base + n`, the inputs its bits k
  (bit 0 = least significant).

Coils mirror the discrete inputs and holding registers the input registers, so the same
doors can be read from any table.

Doors move on command (`open`, `close`, `lock`, `unlock`, `press_exit`, `set_forced`,
`set_tamper`), by scenario (`pass_through`, `force`, `prop`), or at random with
realistic rates (`run_random`, seeded). Faults: `pause` makes every request stall
unanswered until `resume`; `stop` closes the listener and every connection (`start`
listens again on the same port); `fail_with` answers every request with a Modbus
exception code.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import typing
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final, Self

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

if TYPE_CHECKING:
    import random
    from collections.abc import Iterator, MutableSet
    from types import TracebackType

__all__ = [
    "INPUTS",
    "STRIDE",
    "Door",
    "DoorController",
    "DoorMap",
    "Happening",
    "Layout",
    "RandomRates",
]

logger = logging.getLogger(__name__)

INPUTS: Final = ("position", "lock", "forced", "tamper", "exit_request")
"""A door's inputs; the index of each is its offset (discrete layout) or bit (registers)."""
STRIDE: Final = 8
"""Discrete inputs per door in the `discrete` layout."""
_READ_COILS, _READ_DISCRETE, _READ_HOLDING, _READ_INPUT = 1, 2, 3, 4


class Layout(StrEnum):
    """Where a door's inputs sit: eight discrete inputs, or the bits of one input register."""

    DISCRETE = "discrete"
    REGISTERS = "registers"


@dataclass(frozen=True, slots=True)
class DoorMap:
    """The simulator's register map: `layout` from address `base`."""

    layout: Layout = Layout.DISCRETE
    base: int = 0

    def address(self, door: int, name: str) -> tuple[str, int, int | None]:
        """`(table, address, bit)` of input `name` of door `door` (0-based)."""
        k = INPUTS.index(name)
        if self.layout is Layout.DISCRETE:
            return "discrete_input", self.base + STRIDE * door + k, None
        return "input_register", self.base + door, k


@dataclass(slots=True)
class Door:
    """One door's inputs as the controller reads them."""

    open: bool = False
    locked: bool = True
    forced: bool = False
    tamper: bool = False
    exit_request: bool = False

    def bits(self) -> tuple[bool, ...]:
        """The inputs in `INPUTS` order."""
        return (self.open, self.locked, self.forced, self.tamper, self.exit_request)


@dataclass(frozen=True, slots=True)
class Happening:
    """One random happening: at `at` s, door `door` has a `sort` lasting `hold_s`."""

    at: float
    door: int
    sort: str  # passage, forced, propped or tamper
    hold_s: float
    draw: float  # a uniform draw in [0, 1) that picks the variant (REX exit, forced input)


@dataclass(frozen=True, slots=True)
class RandomRates:
    """Mean seconds between events of each sort, per door (for `run_random`)."""

    passage_s: float = 120.0
    forced_s: float = 86400.0
    propped_s: float = 21600.0
    tamper_s: float = 604800.0


class DoorController:
    """A simulated controller of `doors` doors, as an async context manager (listening)."""

    def __init__(
        self,
        doors: int = 16,
        *,
        device_id: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
        door_map: DoorMap | None = None,
        pulse_s: float = 1.0,
    ) -> None:
        if not 1 <= doors <= 256:
            raise ValueError(f"doors must be 1 to 256, got {doors}")
        self.doors = [Door() for _ in range(doors)]
        self.device_id = device_id
        self.host = host
        self.port = port
        self.map = door_map or DoorMap()
        self.pulse_s = pulse_s
        self.requests = 0
        """Requests answered or stalled so far."""
        self._server: ModbusTcpServer | None = None
        self._running = asyncio.Event()
        self._running.set()
        self._failure: ExcCodes | None = None
        self._words: dict[int, list[int]] | None = None  # per function code; None: stale

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # Lifecycle and faults.

    async def start(self) -> None:
        """Listen (again) on `host:port`; port 0 picks one, kept for later starts."""
        if self._server is not None:
            return
        server = ModbusTcpServer(self._device(), address=(self.host, self.port))
        await server.serve_forever(background=True)
        self._server = server
        listener = typing.cast("asyncio.Server", server.transport)
        self.port = int(listener.sockets[0].getsockname()[1])
        logger.info(
            "door controller unit %d listening on %s:%d", self.device_id, self.host, self.port
        )

    async def stop(self) -> None:
        """Close the listener and every connection: the controller is gone."""
        server, self._server = self._server, None
        self._running.set()  # release stalled requests so their handlers end
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]

    def pause(self) -> None:
        """Stall: connections stay open, requests get no answer until `resume`."""
        self._running.clear()

    def resume(self) -> None:
        """Answer again (stalled requests are answered now)."""
        self._running.set()

    def fail_with(self, code: ExcCodes | None) -> None:
        """Answer every request with exception `code` (None: answer normally again)."""
        self._failure = code

    # Commands.

    def set(self, door: int, **inputs: bool) -> None:
        """Set inputs of door `door` (0-based) by name: `open`, `locked`, `forced`..."""
        target = self.doors[door]
        for name, value in inputs.items():
            if name not in Door.__slots__:
                raise ValueError(f"a door has no input {name!r}")
            setattr(target, name, value)
        self._words = None

    def open(self, door: int) -> None:
        """Open the door (the lock is left as it is)."""
        self.set(door, open=True)

    def close(self, door: int) -> None:
        """Close the door."""
        self.set(door, open=False)

    def lock(self, door: int) -> None:
        """Lock the door."""
        self.set(door, locked=True)

    def unlock(self, door: int) -> None:
        """Unlock the door (as a granted card does)."""
        self.set(door, locked=False)

    def set_forced(self, door: int, value: bool = True) -> None:
        """Raise (or clear) the controller's own door-forced input."""
        self.set(door, forced=value)

    def set_tamper(self, door: int, value: bool = True) -> None:
        """Raise (or clear) the tamper input."""
        self.set(door, tamper=value)

    def press_exit(self, door: int) -> None:
        """Press the exit button: the REX input is on for `pulse_s`."""
        self.set(door, exit_request=True)
        release = functools.partial(self.set, door, exit_request=False)
        asyncio.get_running_loop().call_later(self.pulse_s, release)

    # Scenarios.

    async def pass_through(self, door: int, *, open_s: float = 3.0, step_s: float = 0.5) -> None:
        """A granted passage: unlock, open, close after `open_s`, lock."""
        self.unlock(door)
        await asyncio.sleep(step_s)
        self.open(door)
        await asyncio.sleep(open_s)
        self.close(door)
        await asyncio.sleep(step_s)
        self.lock(door)

    async def force(self, door: int, *, open_s: float = 5.0, with_input: bool = True) -> None:
        """The door forced open while locked (the controller raises `forced` too, if asked)."""
        self.set(door, open=True, forced=with_input)
        await asyncio.sleep(open_s)
        self.set(door, open=False, forced=False)

    async def prop(self, door: int, *, open_s: float = 120.0, step_s: float = 0.5) -> None:
        """A granted opening left propped open for `open_s`."""
        await self.pass_through(door, open_s=open_s, step_s=step_s)

    def random_plan(
        self, rng: random.Random, rates: RandomRates | None = None
    ) -> Iterator[Happening]:
        """What `run_random` plays, for ever: happenings in time order, drawn from `rng`.

        Every door behaves independently, so the whole controller is one Poisson process
        at the sum of the doors' rates; each happening picks its door and its sort by rate.
        """
        rates = rates or RandomRates()
        sorts = (
            ("passage", 1 / rates.passage_s, 1.0, 6.0),
            ("forced", 1 / rates.forced_s, 2.0, 20.0),
            ("propped", 1 / rates.propped_s, 60.0, 600.0),
            ("tamper", 1 / rates.tamper_s, 1.0, 30.0),
        )
        per_door = sum(rate for _, rate, _, _ in sorts)
        at = 0.0
        while True:
            at += rng.expovariate(per_door * len(self.doors))
            door = rng.randrange(len(self.doors))
            sort, low, high = _pick(sorts, rng.uniform(0, per_door))
            yield Happening(at, door, sort, rng.uniform(low, high), rng.random())

    async def run_random(self, rng: random.Random, rates: RandomRates | None = None) -> None:
        """Play `random_plan` in real time; a happening at a door still busy is skipped."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        busy: MutableSet[int] = set()
        async with asyncio.TaskGroup() as tasks:
            for happening in self.random_plan(rng, rates):
                await asyncio.sleep(max(0.0, started + happening.at - loop.time()))
                if happening.door not in busy:
                    busy.add(happening.door)
                    tasks.create_task(self._play(happening, busy))

    async def _play(self, happening: Happening, busy: MutableSet[int]) -> None:
        door, hold_s = happening.door, happening.hold_s
        try:
            match happening.sort:
                case "passage" if happening.draw < 0.3:  # leaving: the exit button, no unlock
                    self.press_exit(door)
                    await asyncio.sleep(0.2)
                    self.open(door)
                    await asyncio.sleep(hold_s)
                    self.close(door)
                case "passage" | "propped":
                    await self.pass_through(door, open_s=hold_s)
                case "forced":
                    await self.force(door, open_s=hold_s, with_input=happening.draw < 0.5)
                case _:
                    self.set_tamper(door)
                    await asyncio.sleep(hold_s)
                    self.set_tamper(door, value=False)
        finally:
            busy.discard(door)

    # The Modbus side.

    def _device(self) -> SimDevice:
        bits = self._bit_count()
        registers = len(self.doors) + self.map.base
        blocks = (
            [SimData(0, values=[False] * bits, datatype=DataType.BITS)],
            [SimData(0, values=[False] * bits, datatype=DataType.BITS)],
            [SimData(0, count=registers, values=0, datatype=DataType.REGISTERS)],
            [SimData(0, count=registers, values=0, datatype=DataType.REGISTERS)],
        )
        return SimDevice(self.device_id, simdata=blocks, action=self._serve)

    def _bit_count(self) -> int:
        used = self.map.base + STRIDE * len(self.doors)
        return (used + 15) // 16 * 16

    def _current_words(self) -> dict[int, list[int]]:
        """The tables' words now (16 bits a word for bits, bit 0 first), rebuilt on change."""
        if self._words is None:
            bits = [False] * self._bit_count()
            words = [0] * (len(self.doors) + self.map.base)
            for n, door in enumerate(self.doors):
                for k, value in enumerate(door.bits()):
                    if self.map.layout is Layout.DISCRETE:
                        bits[self.map.base + STRIDE * n + k] = value
                    elif value:
                        words[self.map.base + n] |= 1 << k
            packed = [
                sum(1 << i for i, bit in enumerate(bits[at : at + 16]) if bit)
                for at in range(0, len(bits), 16)
            ]
            self._words = {
                _READ_COILS: packed,
                _READ_DISCRETE: packed,
                _READ_HOLDING: words,
                _READ_INPUT: words,
            }
        return self._words

    async def _serve(  # pymodbus's `SimAction` signature, called positionally
        self,
        function_code: int,
        _start_address: int,
        _address: int,
        _count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus's hook before each answer: stall, fail, or load the doors' state."""
        self.requests += 1
        await self._running.wait()
        if self._failure is not None:
            return self._failure
        if set_values:
            return ExcCodes.ILLEGAL_FUNCTION  # the inputs are read-only
        words = self._current_words().get(function_code)
        if words is None:
            return ExcCodes.ILLEGAL_FUNCTION
        registers[: len(words)] = words
        return None


def _pick(
    sorts: tuple[tuple[str, float, float, float], ...], pick: float
) -> tuple[str, float, float]:
    """The sort whose share of the total rate `pick` falls in, with its hold bounds."""
    for sort, rate, low, high in sorts:
        pick -= rate
        if pick <= 0:
            return sort, low, high
    sort, _, low, high = sorts[-1]
    return sort, low, high
