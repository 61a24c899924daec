"""The `modbus:` section of the agent's config (door controllers over Modbus TCP)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from agent._model import DriverSection

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["ModbusConfig"]


class ModbusConfig(DriverSection):
    """The door controllers the agent polls and the doors behind them."""

    DRIVER: ClassVar[str] = "modbus"

    def device_refs(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """Each device id the controllers' doors name."""
        yield from ()
