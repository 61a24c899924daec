"""The `modbus:` section of the agent's config (door controllers over Modbus TCP).

::

    modbus:
      controllers:
        - host: 10.7.3.21
          device_id: 1
          poll_interval_s: 0.25
          doors:
            - device: door-0042
              position: {table: discrete_input, address: 0}
              lock: {table: discrete_input, address: 1}
              forced: {table: discrete_input, address: 2}
              tamper: {table: discrete_input, address: 3}
              exit_request: {table: discrete_input, address: 4}
              held_open_s: 30

Each input is one bit: a discrete input or a coil at `address`, or bit `bit` of an input
or holding register (without `bit`, the register reads true when it is not zero);
`invert` flips it. `position` reads true when the door is open, `lock` when it is locked.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field, model_validator

from agent._model import DriverSection, Id, Section, located

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "INPUTS",
    "ControllerConfig",
    "DoorConfig",
    "InputConfig",
    "ModbusConfig",
    "Table",
]

MAX_CONTROLLERS = 256
MAX_DOORS = 256


class Table(StrEnum):
    """The Modbus table an input is read from."""

    DISCRETE_INPUT = "discrete_input"
    COIL = "coil"
    INPUT_REGISTER = "input_register"
    HOLDING_REGISTER = "holding_register"

    @property
    def is_bits(self) -> bool:
        """Whether the table holds single bits (discrete inputs, coils)."""
        return self in (Table.DISCRETE_INPUT, Table.COIL)


class InputConfig(Section):
    """One input of a door: where its bit is and whether it reads inverted."""

    table: Table = Field(
        default=Table.DISCRETE_INPUT,
        description="Modbus table: discrete_input, coil, input_register or holding_register.",
    )
    address: int = Field(ge=0, le=65535, description="Address in the table, 0-based.")
    bit: int | None = Field(
        default=None,
        ge=0,
        le=15,
        description="For a register: the bit (0 = least significant); none: register != 0.",
    )
    invert: bool = Field(default=False, description="Read the input inverted (active low).")

    @model_validator(mode="after")
    def _bit_only_for_registers(self) -> InputConfig:
        if self.bit is not None and self.table.is_bits:
            message = f"a bit is only for registers, not for table {self.table.value!r}"
            raise located(message, "bit")
        return self


INPUTS = ("position", "lock", "forced", "tamper", "exit_request")
"""The inputs a door may have, in the order of `DoorConfig`'s fields."""


class DoorConfig(Section):
    """One door behind a controller: its device id, its inputs and its held-open limit."""

    device: Id = Field(description="Device id of the door (a `driver: modbus` device).")
    position: InputConfig = Field(description="Door position input: true when open.")
    lock: InputConfig = Field(description="Lock state input: true when locked.")
    forced: InputConfig | None = Field(
        default=None, description="The controller's own door-forced input, if it has one."
    )
    tamper: InputConfig | None = Field(
        default=None, description="Tamper input of the door's reader or lock, if any."
    )
    exit_request: InputConfig | None = Field(
        default=None, description="Request-to-exit (REX) input, if any: a press is a grant."
    )
    held_open_s: float = Field(
        default=30.0,
        ge=1.0,
        le=86400.0,
        description="How long the door may stay open before door.held_open (once per opening).",
    )
    grant_s: float = Field(
        default=5.0,
        ge=0.0,
        le=600.0,
        description="How long an exit request or an unlock excuses an opening of a locked door.",
    )

    def inputs(self) -> Iterator[tuple[str, InputConfig]]:
        """Each configured input with its name (`position`, `lock`, ...)."""
        for name in INPUTS:
            point = getattr(self, name)
            if point is not None:
                yield name, point


class ControllerConfig(Section):
    """One door controller: where it listens, how it is polled, and its doors."""

    host: str = Field(min_length=1, max_length=253, description="Controller host or address.")
    port: int = Field(default=502, ge=1, le=65535, description="Modbus TCP port.")
    device_id: int = Field(
        default=1, ge=0, le=255, description="Modbus unit (device) id of the controller."
    )
    poll_interval_s: float = Field(
        default=0.25, ge=0.01, le=60.0, description="Time between the starts of two polls."
    )
    timeout_s: float = Field(
        default=1.0,
        ge=0.01,
        le=30.0,
        description="Deadline for connecting and for each request's answer.",
    )
    offline_after: int = Field(
        default=3,
        ge=1,
        le=1000,
        description="Failed polls in a row after which its doors are reported offline.",
    )
    reconnect_min_s: float = Field(
        default=1.0,
        ge=0.01,
        le=60.0,
        description="First delay between attempts once offline (jittered, doubling).",
    )
    reconnect_max_s: float = Field(
        default=30.0,
        ge=0.01,
        le=3600.0,
        description="Longest delay between attempts once offline.",
    )
    coalesce_gap: int = Field(
        default=16,
        ge=0,
        le=125,
        description="Unused addresses a read may span to join two inputs of the same table.",
    )
    doors: tuple[DoorConfig, ...] = Field(
        min_length=1, max_length=MAX_DOORS, description="The doors this controller reports."
    )

    @model_validator(mode="after")
    def _backoff_bounds_in_order(self) -> ControllerConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            message = (
                f"must be at least reconnect_min_s ({self.reconnect_min_s}), "
                f"got {self.reconnect_max_s}"
            )
            raise located(message, "reconnect_max_s")
        return self

    @property
    def name(self) -> str:
        """`host:port/unit`, for logs and health."""
        return f"{self.host}:{self.port}/{self.device_id}"


class ModbusConfig(DriverSection):
    """The door controllers the agent polls and the doors behind them."""

    DRIVER: ClassVar[str] = "modbus"

    controllers: tuple[ControllerConfig, ...] = Field(
        min_length=1, max_length=MAX_CONTROLLERS, description="Every door controller polled."
    )

    @model_validator(mode="after")
    def _each_door_once(self) -> ModbusConfig:
        seen: dict[str, tuple[int, int]] = {}
        for path, device in self.device_refs():
            _, c, _, d, _ = path
            if device in seen:
                first = "controllers[{}].doors[{}]".format(*seen[device])
                raise located(f"device {device!r} is already the door {first}", *path)
            seen[device] = (int(c), int(d))
        return self

    def device_refs(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """Each device id the controllers' doors name."""
        for c, controller in enumerate(self.controllers):
            for d, door in enumerate(controller.doors):
                yield ("controllers", c, "doors", d, "device"), door.device
