"""The Modbus TCP poller: door controllers expose their doors' inputs as registers.

Roles, one module each: `config` (the `modbus:` section), `_plan` (which requests read a
controller's inputs), `_door` (one door's state machine: samples in, v1 event types out),
`_controller` (one controller's poll loop, offline/online, events to the outbox) and
`_poller` (every controller under one task group; the driver's health).
"""

from agent.drivers.modbus._controller import DRIVER, MAX_QUEUED, Controller
from agent.drivers.modbus._door import DoorInputs, DoorMachine, Transition
from agent.drivers.modbus._plan import (
    MAX_BITS,
    MAX_REGISTERS,
    Read,
    ReadError,
    Snapshot,
    plan_reads,
)
from agent.drivers.modbus._poller import ModbusPoller
from agent.drivers.modbus.config import (
    ControllerConfig,
    DoorConfig,
    InputConfig,
    ModbusConfig,
    Table,
)

__all__ = [
    "DRIVER",
    "MAX_BITS",
    "MAX_QUEUED",
    "MAX_REGISTERS",
    "Controller",
    "ControllerConfig",
    "DoorConfig",
    "DoorInputs",
    "DoorMachine",
    "InputConfig",
    "ModbusConfig",
    "ModbusPoller",
    "Read",
    "ReadError",
    "Snapshot",
    "Table",
    "Transition",
    "plan_reads",
]
