"""The Modbus poller against the door controller simulator, on real sockets: transitions."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from agent.drivers.modbus._door import FORCED_INPUT, OPENED_WHILE_LOCKED
from simulators.door_controller import DoorController, DoorMap, Layout
from tests.agent.drivers.modbus_rig import (
    SITE,
    agent_config,
    controller_entry,
    door_entry,
    door_ids,
    of,
    running,
)
from wire import EventType, Kind

if TYPE_CHECKING:
    from pathlib import Path

_T = EventType


async def test_first_poll_establishes_state_without_events(tmp_path: Path) -> None:
    """A door already open, unlocked and tampered at start gives no event, only its state."""
    async with DoorController(2) as sim:
        sim.set(0, open=True, locked=False, tamper=True)
        a, b = door_ids("door", 2)
        config = agent_config(tmp_path, [controller_entry(sim, [a, b])])
        async with running(config) as rig:
            await rig.polls(5)
            assert await rig.events() == []
            state = rig.states.get(a)
            assert state is not None
            assert (state.online, state.kind, state.site) == (True, Kind.DOOR_LOCK, SITE)
            assert state.state["door"] == "open"
            assert state.state["locked"] is False
            assert state.state["tamper"] is True


async def test_a_granted_passage_reports_each_transition(tmp_path: Path) -> None:
    """Unlock, open, close, lock: one event each, in order, with the Modbus source fields."""
    async with DoorController(2, device_id=7) as sim:
        a, b = door_ids("door", 2)
        config = agent_config(tmp_path, [controller_entry(sim, [a, b])])
        async with running(config) as rig:
            await rig.polls(2)
            await sim.pass_through(1, open_s=0.1, step_s=0.1)
            await rig.wait_events(of(b, _T.DOOR_LOCKED), "locked again")
            events = await rig.events()
            assert [event.type for event in events] == [
                _T.DOOR_UNLOCKED,
                _T.DOOR_OPENED,
                _T.DOOR_CLOSED,
                _T.DOOR_LOCKED,
            ]
            opened = events[1]
            assert (opened.site, opened.device, opened.kind) == (SITE, b, Kind.DOOR_LOCK)
            assert opened.source == {
                "driver": "modbus",
                "host": "127.0.0.1",
                "port": sim.port,
                "device_id": 7,
                "door": 2,
                "input": "position",
                "table": "discrete_input",
                "address": 8,
            }
            assert opened.data == {"door": "open", "locked": False}
            assert events[0].source["address"] == 9  # the lock input of door 1
            assert events[3].data == {"locked": True, "door": "closed"}


async def test_forced_input_reports_one_door_forced(tmp_path: Path) -> None:
    """The controller's forced input rising with the opening gives one door.forced."""
    async with DoorController(1) as sim:
        [a] = door_ids("door", 1)
        config = agent_config(tmp_path, [controller_entry(sim, [a])])
        async with running(config) as rig:
            await rig.polls(2)
            sim.set(0, open=True, forced=True)
            [forced] = await rig.wait_events(of(a, _T.DOOR_FORCED), "forced")
            await rig.polls(3)
            assert len(await rig.events(of(a, _T.DOOR_FORCED))) == 1
            assert forced.data["reason"] == FORCED_INPUT
            assert (forced.source["input"], forced.source["address"]) == ("forced", 2)


async def test_opened_while_locked_without_grant_is_forced(tmp_path: Path) -> None:
    """A locked door opening with no exit request or unlock before it gives door.forced."""
    async with DoorController(1) as sim:
        [a] = door_ids("door", 1)
        config = agent_config(tmp_path, [controller_entry(sim, [a])])
        async with running(config) as rig:
            await rig.polls(2)
            sim.open(0)  # the lock still reads locked, and the controller says nothing
            [forced] = await rig.wait_events(of(a, _T.DOOR_FORCED), "forced")
            assert forced.data == {"reason": OPENED_WHILE_LOCKED, "door": "open", "locked": True}
            assert forced.source["input"] == "position"
            assert len(await rig.events(of(a, _T.DOOR_OPENED))) == 1


async def test_exit_request_excuses_an_opening_while_locked(tmp_path: Path) -> None:
    """A REX pulse just before a locked door opens makes it door.opened, not forced."""
    async with DoorController(1, pulse_s=0.2) as sim:
        [a] = door_ids("door", 1)
        config = agent_config(tmp_path, [controller_entry(sim, [a])])
        async with running(config) as rig:
            await rig.polls(2)
            sim.press_exit(0)
            await asyncio.sleep(0.4)  # the pulse is over: the grant lasts grant_s after it
            sim.open(0)
            await rig.wait_events(of(a, _T.DOOR_OPENED), "opened")
            await rig.polls(3)
            assert await rig.events(of(a, _T.DOOR_FORCED)) == []


async def test_held_open_once_past_the_limit(tmp_path: Path) -> None:
    """A door open past held_open_s gives one door.held_open for that opening, no more."""
    async with DoorController(1) as sim:
        [a] = door_ids("door", 1)
        controller = controller_entry(sim, [a])
        controller["doors"][0]["held_open_s"] = 1.0
        config = agent_config(tmp_path, [controller])
        async with running(config) as rig:
            await rig.polls(2)
            sim.set(0, locked=False, open=True)
            await rig.wait_events(of(a, _T.DOOR_OPENED), "opened")
            await asyncio.sleep(0.5)
            assert await rig.events(of(a, _T.DOOR_HELD_OPEN)) == []
            [held] = await rig.wait_events(of(a, _T.DOOR_HELD_OPEN), "held open")
            assert held.data["limit_s"] == 1.0
            assert held.data["open_s"] >= 1.0
            await asyncio.sleep(0.3)
            assert len(await rig.events(of(a, _T.DOOR_HELD_OPEN))) == 1
            state = rig.states.get(a)
            assert state is not None
            assert state.state["held_open"] is True


async def test_tamper_alarm_and_its_restore(tmp_path: Path) -> None:
    """The tamper input rising gives alarm.tamper (P0), falling alarm.restore."""
    async with DoorController(1) as sim:
        [a] = door_ids("door", 1)
        config = agent_config(tmp_path, [controller_entry(sim, [a])])
        async with running(config) as rig:
            await rig.polls(2)
            sim.set_tamper(0)
            [tamper] = await rig.wait_events(of(a, _T.ALARM_TAMPER), "tamper")
            assert (tamper.source["input"], tamper.source["address"]) == ("tamper", 3)
            sim.set_tamper(0, value=False)
            [restore] = await rig.wait_events(of(a, _T.ALARM_RESTORE), "restore")
            assert restore.data["alarm"] == "tamper"


async def test_register_bits_and_inverted_inputs(tmp_path: Path) -> None:
    """Inputs read as bits of input or holding registers, and inverted, map the same doors."""
    door_map = DoorMap(Layout.REGISTERS, base=10)
    async with DoorController(2, door_map=door_map) as sim:
        [a] = door_ids("door", 1)
        entry = door_entry(a, 1, door_map)
        # The lock read from the holding register mirror, as "unlocked" inverted.
        entry["lock"] = {"table": "holding_register", "address": 11, "bit": 1}
        entry["position"] = {"table": "input_register", "address": 11, "bit": 0, "invert": True}
        controller = {**controller_entry(sim, []), "doors": [entry]}
        config = agent_config(tmp_path, [controller])
        async with running(config) as rig:
            await rig.polls(2)
            state = rig.states.get(a)
            assert state is not None
            assert state.state["door"] == "open"  # closed, read inverted
            sim.unlock(1)
            [unlocked] = await rig.wait_events(of(a, _T.DOOR_UNLOCKED), "unlocked")
            assert unlocked.source["table"] == "holding_register"
            assert unlocked.source["bit"] == 1
