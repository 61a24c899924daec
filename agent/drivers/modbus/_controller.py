"""One door controller's poll loop: read its inputs, step its doors, hand events on.

Each controller runs in a task of its own with a deadline on every request, so a dead
controller never slows the others. A poll reads the planned requests (`_plan`); any
failure (no connection, a timeout, an exception response, a short answer) counts as a
failed poll and drops the connection. After `offline_after` failed polls in a row each
door gets `device.offline` and further attempts wait a jittered exponential backoff;
the first good poll after that gives `device.online`.

Events never skip the outbox: every transition becomes a `Draft` queued here, and a
second task of the controller (`deliver`) appends the queue in order, so polling never
waits for the disk. When the outbox cannot write (`OutboxError`), the queue is kept and
appended again after the next poll, so a transition is not lost (its `at` stays the
time it was seen, within the contract's 60 s tolerance). The queue is bounded: past
`MAX_QUEUED`, the oldest non-P0 draft is dropped (logged); a P0 one never is.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

import wire
from agent._backoff import Backoff
from agent.drivers.modbus._door import DoorInputs, DoorMachine, Transition
from agent.drivers.modbus._plan import Read, ReadError, Snapshot, plan_reads
from agent.drivers.modbus.config import ControllerConfig, DoorConfig, InputConfig, Table
from agent.errors import EventShed, OutboxError
from agent.outbox import Draft
from wire import EventType, Lane

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pymodbus.pdu import ModbusPDU

    from agent.config import DeviceConfig
    from agent.outbox import JsonScalar, Outbox
    from agent.state import StateBoard

__all__ = ["DRIVER", "MAX_QUEUED", "Controller"]

logger = logging.getLogger(__name__)

DRIVER: Final = "modbus"
MAX_QUEUED: Final = 10_000
"""Drafts a controller keeps while the outbox cannot write; past it, non-P0 ones go."""
_FAILURES: Final = (ModbusException, OSError, TimeoutError, ReadError)


@dataclass(frozen=True, slots=True)
class _Door:
    """A door of the controller: its config, its device and its state machine."""

    number: int  # 1-based position under the controller, reported in `source.door`
    config: DoorConfig
    device: DeviceConfig
    machine: DoorMachine

    def sample(self, snapshot: Snapshot) -> DoorInputs:
        config = self.config

        def read(point: InputConfig | None) -> bool | None:
            return None if point is None else snapshot.bit(point)

        return DoorInputs(
            open=snapshot.bit(config.position),
            locked=snapshot.bit(config.lock),
            forced=read(config.forced),
            tamper=read(config.tamper),
            exit_request=read(config.exit_request),
        )


class Controller:
    """The poll loop of one controller (`run`) and what it knows of its doors."""

    def __init__(
        self,
        config: ControllerConfig,
        devices: Sequence[DeviceConfig],
        outbox: Outbox,
        states: StateBoard | None = None,
    ) -> None:
        self.config = config
        by_id = {device.id: device for device in devices}
        self._doors = tuple(
            _Door(
                n,
                door,
                by_id[door.device],
                DoorMachine(held_open_s=door.held_open_s, grant_s=door.grant_s),
            )
            for n, door in enumerate(config.doors, start=1)
        )
        points = ((p.table, p.address) for door in config.doors for _, p in door.inputs())
        self.reads: tuple[Read, ...] = plan_reads(points, gap=config.coalesce_gap)
        self._outbox = outbox
        self._states = states
        self._backoff = Backoff(config.reconnect_min_s, config.reconnect_max_s)
        self._client: AsyncModbusTcpClient | None = None
        self._queued: deque[Draft] = deque()
        self._polled = asyncio.Event()  # set after every poll: `deliver` tries the queue
        self._offline_since: float | None = None
        self.failures = 0
        """Failed polls in a row."""
        self.last_error: str | None = None
        self.polls = 0
        """Good polls so far."""

    @property
    def name(self) -> str:
        """`host:port/unit`."""
        return self.config.name

    @property
    def offline(self) -> bool:
        """Whether its doors are reported offline."""
        return self._offline_since is not None

    @property
    def queued(self) -> int:
        """Events waiting for the outbox."""
        return len(self._queued)

    async def run(self) -> None:
        """Poll for ever (until cancelled), on schedule; back off while offline."""
        loop = asyncio.get_running_loop()
        interval = self.config.poll_interval_s
        next_at = loop.time()
        try:
            while True:
                good = await self.poll()
                self._polled.set()
                if good or not self.offline:
                    # Ticks missed (a slow answer) are skipped, not made up in a burst.
                    next_at = max(next_at + interval, loop.time())
                    await asyncio.sleep(next_at - loop.time())
                else:
                    after = self.failures - self.config.offline_after
                    await asyncio.sleep(self._backoff.delay(after))
                    next_at = loop.time()
        finally:
            self._close()

    async def poll(self) -> bool:
        """One poll: read, step every door, queue their events; False when it failed."""
        try:
            snapshot = await self._read()
            samples = [door.sample(snapshot) for door in self._doors]
        except _FAILURES as exc:
            self._failed(exc)
            return False
        now, wall = time.monotonic(), datetime.now(UTC)
        if self._offline_since is not None:
            self._recovered(now, wall)
        self.failures = 0
        self.polls += 1
        for door, sample in zip(self._doors, samples, strict=True):
            for transition in door.machine.step(now, sample):
                self._queue(self._draft(door, transition, wall))
            self._publish_state(door, online=True, at=wall)
        return True

    async def deliver(self) -> None:
        """Append what the polls queued, after each poll, for ever (until cancelled)."""
        while True:
            await self._polled.wait()
            self._polled.clear()
            await self.flush()

    async def flush(self) -> None:
        """Append the queued drafts in order; on `OutboxError`, keep the rest for later."""
        while self._queued:
            draft = self._queued[0]
            try:
                await self._outbox.append(draft)
            except EventShed as exc:
                logger.warning(
                    "modbus %s: %s from %s shed: %s", self.name, draft.type, draft.device, exc
                )
            except wire.WireError:
                logger.exception(
                    "modbus %s: %s from %s is not a valid event",
                    self.name,
                    draft.type,
                    draft.device,
                )
            except OutboxError as exc:
                logger.error(  # noqa: TRY400 - the outbox logs its own failure in full
                    "modbus %s: outbox cannot write (%s); %d events kept for the next poll",
                    self.name,
                    exc,
                    len(self._queued),
                )
                return
            self._queued.popleft()

    # Reading.

    async def _read(self) -> Snapshot:
        client = await self._connected()
        values: dict[Read, Sequence[int] | Sequence[bool]] = {}
        for read in self.reads:
            async with asyncio.timeout(self.config.timeout_s):
                response = await _request(client, read, self.config.device_id)
            if response.isError():
                code = getattr(response, "exception_code", None)
                message = f"{read.table.value} {read.start}+{read.count}: exception code {code}"
                raise ReadError(message)
            values[read] = response.bits if read.table.is_bits else response.registers
        return Snapshot(values)

    async def _connected(self) -> AsyncModbusTcpClient:
        client = self._client
        if client is not None and client.connected:
            return client
        self._close()
        config = self.config
        # No retries and no automatic reconnect: this loop owns both (and the backoff).
        client = AsyncModbusTcpClient(
            config.host, port=config.port, timeout=config.timeout_s, retries=0, reconnect_delay=0
        )
        self._client = client
        async with asyncio.timeout(config.timeout_s):
            connected = await client.connect()
        if not connected:
            raise ConnectionError(f"cannot connect to {config.host}:{config.port}")
        return client

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # Offline and online.

    def _failed(self, exc: BaseException) -> None:
        self._close()
        self.failures += 1
        self.last_error = str(exc) or type(exc).__name__
        if self.offline or self.failures < self.config.offline_after:
            logger.debug(
                "modbus %s: poll failed (%d): %s", self.name, self.failures, self.last_error
            )
            return
        self._offline_since = time.monotonic()
        wall = datetime.now(UTC)
        logger.warning(
            "modbus %s: offline after %d failed polls: %s",
            self.name,
            self.failures,
            self.last_error,
        )
        data = {"failed_polls": self.failures, "error": self.last_error[:200]}
        for door in self._doors:
            door.machine.lost()
            self._queue(
                self._draft(door, Transition(EventType.DEVICE_OFFLINE, "position", data), wall)
            )
            self._publish_state(door, online=False, at=wall)

    def _recovered(self, now: float, wall: datetime) -> None:
        since, self._offline_since = self._offline_since, None
        offline_s = 0.0 if since is None else round(now - since, 3)
        logger.warning("modbus %s: online again after %.1f s", self.name, offline_s)
        data = {"offline_s": offline_s}
        for door in self._doors:
            self._queue(
                self._draft(door, Transition(EventType.DEVICE_ONLINE, "position", data), wall)
            )

    # Events and state.

    def _draft(self, door: _Door, transition: Transition, wall: datetime) -> Draft:
        point: InputConfig = getattr(door.config, transition.input)
        source: dict[str, JsonScalar] = {
            "driver": DRIVER,
            "host": self.config.host,
            "port": self.config.port,
            "device_id": self.config.device_id,
            "door": door.number,
            "input": transition.input,
            "table": point.table.value,
            "address": point.address,
        }
        if point.bit is not None:
            source["bit"] = point.bit
        return Draft(
            device=door.device.id,
            kind=door.device.kind,
            type=transition.type,
            source=source,
            data=transition.data,
            device_time=wall,
        )

    def _queue(self, draft: Draft) -> None:
        if len(self._queued) >= MAX_QUEUED:
            # The head may be in the middle of its append: the search starts after it.
            for index, queued in enumerate(itertools.islice(self._queued, 1, None), start=1):
                if wire.LANES[queued.type] is not Lane.P0:
                    del self._queued[index]
                    logger.error(
                        "modbus %s: queue full, dropped %s of %s",
                        self.name,
                        queued.type,
                        queued.device,
                    )
                    break
        self._queued.append(draft)

    def _publish_state(self, door: _Door, *, online: bool, at: datetime) -> None:
        if self._states is not None:
            state = door.machine.state()
            self._states.update(door.device.id, door.device.kind, online=online, state=state, at=at)


async def _request(client: AsyncModbusTcpClient, read: Read, unit: int) -> ModbusPDU:
    match read.table:
        case Table.DISCRETE_INPUT:
            return await client.read_discrete_inputs(read.start, count=read.count, device_id=unit)
        case Table.COIL:
            return await client.read_coils(read.start, count=read.count, device_id=unit)
        case Table.INPUT_REGISTER:
            return await client.read_input_registers(read.start, count=read.count, device_id=unit)
        case Table.HOLDING_REGISTER:
            return await client.read_holding_registers(read.start, count=read.count, device_id=unit)
