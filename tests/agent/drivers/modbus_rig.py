"""What the Modbus driver's tests share: configs for the simulator's map, a running poller."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import wire
from agent import AgentConfig, Outbox
from agent.drivers.modbus import ModbusPoller
from agent.state import StateBoard
from simulators.door_controller import INPUTS, DoorMap

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence
    from pathlib import Path

    from simulators.door_controller import DoorController

SITE = "room-07"
DEADLINE_S = 5.0
FAST: dict[str, Any] = {
    "poll_interval_s": 0.02,
    "timeout_s": 0.2,
    "offline_after": 3,
    "reconnect_min_s": 0.05,
    "reconnect_max_s": 0.2,
}


def door_ids(prefix: str, count: int) -> list[str]:
    """`count` device ids `{prefix}-00`, `{prefix}-01`..."""
    return [f"{prefix}-{n:02d}" for n in range(count)]


def door_entry(
    device: str, index: int, door_map: DoorMap | None = None, **more: Any
) -> dict[str, Any]:
    """The config of door `index` of a simulator with `door_map`, every input mapped."""
    door_map = door_map or DoorMap()
    entry: dict[str, Any] = {"device": device}
    for name in INPUTS:
        table, address, bit = door_map.address(index, name)
        entry[name] = {"table": table, "address": address, **({} if bit is None else {"bit": bit})}
    return {**entry, **more}


def controller_entry(sim: DoorController, devices: Sequence[str], **more: Any) -> dict[str, Any]:
    """A controller section for `sim`, its first doors as `devices`; fast polling."""
    doors = [door_entry(device, n, sim.map) for n, device in enumerate(devices)]
    return {
        "host": sim.host,
        "port": sim.port,
        "device_id": sim.device_id,
        **FAST,
        "doors": doors,
        **more,
    }


def agent_config(tmp_path: Path, controllers: list[dict[str, Any]], **top: Any) -> AgentConfig:
    """An agent config with these controllers and one door_lock device per door."""
    devices = [
        {"id": door["device"], "kind": "door_lock", "driver": "modbus", "checkin_s": 300}
        for controller in controllers
        for door in controller["doors"]
    ]
    data: dict[str, Any] = {
        "site": SITE,
        "mqtt": {"host": "127.0.0.1"},
        "outbox": {"path": str(tmp_path / "outbox.sqlite3"), "lock_timeout_s": 0},
        "modbus": {"controllers": controllers},
        "devices": devices,
        **top,
    }
    return AgentConfig.model_validate(data)


@dataclass(slots=True)
class Rig:
    """A running poller with its outbox and state board."""

    config: AgentConfig
    outbox: Outbox
    poller: ModbusPoller
    states: StateBoard

    async def events(
        self, predicate: Callable[[wire.Event], bool] = lambda _: True
    ) -> list[wire.Event]:
        """Every event in the outbox matching `predicate`, by seq."""
        entries = sorted(await self.outbox.pending(), key=lambda entry: entry.seq)
        found = [wire.decode_event(entry.payload) for entry in entries]
        return [event for event in found if predicate(event)]

    async def wait_events(
        self,
        predicate: Callable[[wire.Event], bool],
        what: str,
        *,
        count: int = 1,
        within_s: float = DEADLINE_S,
    ) -> list[wire.Event]:
        """Wait until `count` events match `predicate`; all that match."""
        deadline = time.monotonic() + within_s
        while len(found := await self.events(predicate)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {within_s} s: {what}; have {await self.events()}")
            await asyncio.sleep(0.01)
        return found

    async def polls(self, count: int) -> None:
        """Wait until every controller has made `count` more good polls."""
        targets = [controller.polls + count for controller in self.poller.controllers]
        deadline = time.monotonic() + DEADLINE_S
        while any(c.polls < t for c, t in zip(self.poller.controllers, targets, strict=True)):
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {DEADLINE_S} s: {count} more polls")
            await asyncio.sleep(0.01)


def of(device: str, event_type: wire.EventType) -> Callable[[wire.Event], bool]:
    """Matches events of `event_type` from `device`."""
    return lambda event: event.device == device and event.type is event_type


@contextlib.asynccontextmanager
async def running(config: AgentConfig) -> AsyncIterator[Rig]:
    """The outbox and the poller of `config`, running."""
    assert config.modbus is not None
    states = StateBoard(config.site, capacity=len(config.devices))
    async with (
        Outbox(
            config.outbox.path, site=config.site, lock_timeout_s=config.outbox.lock_timeout_s
        ) as outbox,
        ModbusPoller(config.modbus, config.devices, outbox, states=states) as poller,
    ):
        yield Rig(config, outbox, poller, states)
