"""The Modbus poller when controllers stall, vanish, answer with errors, or the outbox fails."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import TYPE_CHECKING

from pymodbus.constants import ExcCodes

from agent import Draft, Outbox
from agent.drivers.modbus import MAX_QUEUED, Controller
from simulators.door_controller import DoorController
from tests.agent.drivers.modbus_rig import agent_config, controller_entry, door_ids, of, running
from wire import DriverState, EventType, Kind

if TYPE_CHECKING:
    from pathlib import Path

_T = EventType


async def test_offline_after_n_failed_polls_then_online(tmp_path: Path) -> None:
    """A stalled controller: device.offline per door after 3 timeouts, device.online after."""
    async with DoorController(2) as sim:
        a, b = door_ids("door", 2)
        config = agent_config(tmp_path, [controller_entry(sim, [a, b])])
        async with running(config) as rig:
            await rig.polls(2)
            [controller] = rig.poller.controllers
            sim.pause()
            offline = await rig.wait_events(
                lambda e: e.type is _T.DEVICE_OFFLINE, "offline", count=2
            )
            assert {event.device for event in offline} == {a, b}
            assert offline[0].data["failed_polls"] == 3
            assert controller.failures >= 3
            assert rig.poller.health().state is DriverState.DOWN
            state = rig.states.get(a)
            assert state is not None
            assert state.online is False
            sim.resume()
            online = await rig.wait_events(lambda e: e.type is _T.DEVICE_ONLINE, "online", count=2)
            assert {event.device for event in online} == {a, b}
            assert rig.poller.health().state is DriverState.OK
            state = rig.states.get(a)
            assert state is not None
            assert state.online is True
            assert len(await rig.events(lambda e: e.type is _T.DEVICE_OFFLINE)) == 2


async def test_no_offline_before_n_failed_polls(tmp_path: Path) -> None:
    """Two failed polls in a row are not yet an offline controller (offline_after is 3)."""
    async with DoorController(1) as sim:
        [a] = door_ids("door", 1)
        controller = controller_entry(sim, [a], timeout_s=0.3, poll_interval_s=0.5)
        config = agent_config(tmp_path, [controller])
        async with running(config) as rig:
            await rig.polls(1)
            sim.pause()
            await asyncio.sleep(1.0)  # at most two attempts time out in this second
            sim.resume()
            await rig.polls(1)
            assert await rig.events() == []


async def test_vanished_controller_reconnects_after_it_returns(tmp_path: Path) -> None:
    """A closed listener (connection refused) means offline; listening again means online."""
    async with DoorController(1) as sim:
        [a] = door_ids("door", 1)
        config = agent_config(tmp_path, [controller_entry(sim, [a])])
        async with running(config) as rig:
            await rig.polls(2)
            await sim.stop()
            [offline] = await rig.wait_events(of(a, _T.DEVICE_OFFLINE), "offline")
            assert offline.source["driver"] == "modbus"
            sim.open(0)  # while it was away: reported, but not judged forced
            await sim.start()
            await rig.wait_events(of(a, _T.DEVICE_ONLINE), "online")
            await rig.wait_events(of(a, _T.DOOR_OPENED), "the opening seen after recovery")
            assert await rig.events(of(a, _T.DOOR_FORCED)) == []


async def test_exception_responses_never_crash_the_poller(tmp_path: Path) -> None:
    """Exception answers are failed polls (offline after 3); good answers resume events."""
    async with DoorController(1) as sim:
        [a] = door_ids("door", 1)
        config = agent_config(tmp_path, [controller_entry(sim, [a])])
        async with running(config) as rig:
            await rig.polls(2)
            sim.fail_with(ExcCodes.DEVICE_BUSY)
            await rig.wait_events(of(a, _T.DEVICE_OFFLINE), "offline")
            [controller] = rig.poller.controllers
            assert "exception code 6" in (controller.last_error or "")
            sim.fail_with(None)
            await rig.wait_events(of(a, _T.DEVICE_ONLINE), "online")
            sim.set_tamper(0)
            await rig.wait_events(of(a, _T.ALARM_TAMPER), "tamper after the errors")


async def test_a_dead_controller_does_not_delay_another(tmp_path: Path) -> None:
    """While one controller stalls (1 s timeouts), another's forced door arrives at once."""
    async with DoorController(1) as dead, DoorController(1) as alive:
        [d] = door_ids("dead", 1)
        [a] = door_ids("alive", 1)
        slow = controller_entry(dead, [d], timeout_s=1.0)
        config = agent_config(tmp_path, [slow, controller_entry(alive, [a])])
        async with running(config) as rig:
            await rig.polls(2)
            dead.pause()
            await asyncio.sleep(0.1)  # the dead one is now waiting on an answer
            started = time.monotonic()
            alive.open(0)
            await rig.wait_events(of(a, _T.DOOR_FORCED), "forced on the live controller")
            assert time.monotonic() - started < 0.5
            assert rig.poller.health().state is DriverState.OK  # not offline yet: 1 failure
            dead.resume()


async def test_outbox_failure_keeps_the_event_for_the_next_poll(tmp_path: Path) -> None:
    """While the outbox cannot write, a forced door waits; it is stored once it can."""
    async with DoorController(1) as sim:
        [a] = door_ids("door", 1)
        config = agent_config(tmp_path, [controller_entry(sim, [a])])
        async with running(config) as rig:
            await rig.polls(2)
            [controller] = rig.poller.controllers
            blocker = sqlite3.connect(config.outbox.path, isolation_level=None)
            try:
                blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the lock
                sim.open(0)
                deadline = time.monotonic() + 5
                while controller.queued < 2:  # door.opened and door.forced, both kept
                    assert time.monotonic() < deadline, "events not queued"
                    await asyncio.sleep(0.01)
                await rig.polls(3)
                assert controller.queued == 2
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            [forced] = await rig.wait_events(of(a, _T.DOOR_FORCED), "forced, once it can be stored")
            assert controller.queued == 0
            assert [e.type for e in await rig.events()] == [_T.DOOR_OPENED, _T.DOOR_FORCED]
            assert forced.source.get("device_at") is None  # `at` is when it was seen


async def test_polling_goes_on_while_an_append_waits_for_the_disk(tmp_path: Path) -> None:
    """An append stuck on a locked outbox does not hold up the next polls of its controller."""
    async with DoorController(1) as sim:
        [a] = door_ids("door", 1)
        outbox = {"path": str(tmp_path / "outbox.sqlite3"), "lock_timeout_s": 3}
        config = agent_config(tmp_path, [controller_entry(sim, [a])], outbox=outbox)
        async with running(config) as rig:
            await rig.polls(2)
            blocker = sqlite3.connect(config.outbox.path, isolation_level=None)
            try:
                blocker.execute("BEGIN EXCLUSIVE")
                sim.open(0)  # its events now wait on the lock, up to 3 s
                await asyncio.sleep(0.1)
                started = time.monotonic()
                await rig.polls(10)  # 20 ms apart: about 0.2 s, not 3
                assert time.monotonic() - started < 1.0
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            await rig.wait_events(of(a, _T.DOOR_FORCED), "forced, once the lock is gone")


def test_a_full_queue_drops_its_oldest_p1_event_never_a_p0(tmp_path: Path) -> None:
    """Past MAX_QUEUED waiting events, the oldest non-P0 one goes (not the head); P0 stays."""
    controller_config = {
        "host": "127.0.0.1",
        "doors": [{"device": "door-00", "position": {"address": 0}, "lock": {"address": 1}}],
    }
    config = agent_config(tmp_path, [controller_config])
    assert config.modbus is not None
    outbox = Outbox(config.outbox.path, site=config.site)  # never opened: nothing is appended
    controller = Controller(config.modbus.controllers[0], config.devices, outbox)

    def draft(event_type: EventType, n: int) -> Draft:
        return Draft("door-00", Kind.DOOR_LOCK, event_type, {"driver": "modbus", "n": n})

    controller._queue(draft(_T.DOOR_OPENED, 0))  # the head: maybe being appended now
    controller._queue(draft(_T.DOOR_FORCED, 1))
    for n in range(2, MAX_QUEUED):
        controller._queue(draft(_T.DOOR_CLOSED, n))
    controller._queue(draft(_T.DOOR_FORCED, MAX_QUEUED))
    assert controller.queued == MAX_QUEUED
    kept = [(d.type, d.source["n"]) for d in controller._queued]
    assert kept[:3] == [(_T.DOOR_OPENED, 0), (_T.DOOR_FORCED, 1), (_T.DOOR_CLOSED, 3)]
    assert kept[-1] == (_T.DOOR_FORCED, MAX_QUEUED)
