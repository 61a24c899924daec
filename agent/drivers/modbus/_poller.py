"""The Modbus TCP poller: one task per door controller, under one task group."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Self

from agent.drivers._units import UnitTasks, unit_health
from agent.drivers.modbus._controller import Controller

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    import wire
    from agent.config import DeviceConfig
    from agent.drivers.modbus.config import ModbusConfig
    from agent.outbox import Outbox
    from agent.state import StateBoard

__all__ = ["ModbusPoller"]

logger = logging.getLogger(__name__)


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
        self._units = UnitTasks()

    async def __aenter__(self) -> Self:
        await self._units.start((f"modbus:{c.name}", c) for c in self.controllers)
        doors = sum(len(c.config.doors) for c in self.controllers)
        logger.info("modbus: polling %d controllers, %d doors", len(self.controllers), doors)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._units.stop(exc_type, exc, tb)

    def health(self) -> wire.DriverHealth:
        """`ok` when every controller answers, `degraded` when some do not, `down` when none."""
        total = len(self.controllers)
        offline = [f"{c.name} ({c.last_error})" for c in self.controllers if c.offline]
        return unit_health(
            total,
            offline,
            running=self._units.running,
            ok=f"{total} controllers answering",
            trouble="controllers not answering",
        )
