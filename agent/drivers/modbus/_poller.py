"""The Modbus TCP poller: one task per door controller, under one task group."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final, Self

import wire
from agent.drivers.modbus._controller import Controller
from wire import DriverState

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    from agent.config import DeviceConfig
    from agent.drivers.modbus.config import ModbusConfig
    from agent.outbox import Outbox
    from agent.state import StateBoard

__all__ = ["ModbusPoller"]

logger = logging.getLogger(__name__)

_MAX_DETAIL: Final = 1024  # the contract's bound on a driver's health detail


class ModbusPoller:
    """The door controllers of the `modbus` section, polled from entry to exit.

    Each controller is polled by a task of its own (named `modbus:{host}:{port}/{unit}`)
    and its events appended to `outbox` by another (`...:events`); each door's state goes
    to `states` (when given).
    """

    def __init__(
        self,
        config: ModbusConfig,
        devices: Sequence[DeviceConfig],
        outbox: Outbox,
        *,
        states: StateBoard | None = None,
    ) -> None:
        self._config = config
        self.controllers = tuple(
            Controller(controller, devices, outbox, states) for controller in config.controllers
        )
        self._tasks: asyncio.TaskGroup | None = None
        self._running: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Self:
        tasks = asyncio.TaskGroup()
        await tasks.__aenter__()
        self._tasks = tasks
        self._running = []
        for controller in self.controllers:
            name = f"modbus:{controller.name}"
            self._running.append(tasks.create_task(controller.run(), name=name))
            self._running.append(tasks.create_task(controller.deliver(), name=f"{name}:events"))
        doors = sum(len(c.config.doors) for c in self.controllers)
        logger.info("modbus: polling %d controllers, %d doors", len(self.controllers), doors)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tasks, self._tasks = self._tasks, None
        if tasks is None:
            return
        for task in self._running:
            task.cancel()
        self._running = []
        await tasks.__aexit__(exc_type, exc, tb)

    def health(self) -> wire.DriverHealth:
        """`ok` when every controller answers, `degraded` when some do not, `down` when none."""
        if self._tasks is None:
            return wire.DriverHealth(state=DriverState.DOWN, detail="not running")
        total = len(self.controllers)
        offline = [c for c in self.controllers if c.offline]
        if not offline:
            return wire.DriverHealth(state=DriverState.OK, detail=f"{total} controllers answering")
        state = DriverState.DOWN if len(offline) == total else DriverState.DEGRADED
        names = ", ".join(f"{c.name} ({c.last_error})" for c in offline)
        detail = f"{len(offline)} of {total} controllers not answering: {names}"
        if len(detail) > _MAX_DETAIL:
            detail = detail[: _MAX_DETAIL - 1] + "…"
        return wire.DriverHealth(state=state, detail=detail)
