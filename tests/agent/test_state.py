"""The state board (latest state per device, coalesced, bounded) and its retained publishing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

import wire
from agent import Link, Outbox
from agent.state import StateBoard
from tests.agent.support import (
    DOOR,
    PANIC,
    SITE,
    Watcher,
    clear_retained,
    make_config,
    mqtt_section,
    on,
)
from wire import Kind

if TYPE_CHECKING:
    from pathlib import Path

    from tests.agent.conftest import Space

AT = datetime(2025, 3, 1, 8, 15, 2, tzinfo=UTC)


def test_an_equal_update_is_coalesced() -> None:
    """Updating a device to the state it already has changes nothing and publishes nothing."""
    board = StateBoard(SITE, capacity=2)
    assert board.update(DOOR, Kind.DOOR_LOCK, online=True, state={"door": "open"}, at=AT)
    assert board.take_changed()[0].at == "2025-03-01T08:15:02.000000Z"
    assert not board.update(DOOR, Kind.DOOR_LOCK, online=True, state={"door": "open"})
    assert board.take_changed() == []
    assert board.update(DOOR, Kind.DOOR_LOCK, online=False, state={"door": "open"})
    [changed] = board.take_changed()
    assert (changed.online, changed.site, changed.device) == (False, SITE, DOOR)


def test_changes_between_takes_keep_only_the_latest_state() -> None:
    """A device changing twice before a take is taken once, with its latest state."""
    board = StateBoard(SITE, capacity=2)
    board.update(DOOR, Kind.DOOR_LOCK, online=True, state={"door": "open"})
    board.update(PANIC, Kind.PANIC_ALARM, online=True, state={})
    board.update(DOOR, Kind.DOOR_LOCK, online=True, state={"door": "closed"})
    taken = board.take_changed()
    assert [(s.device, s.state) for s in taken] == [(DOOR, {"door": "closed"}), (PANIC, {})]
    assert len(board) == 2


def test_the_board_is_bounded_by_the_device_count() -> None:
    """A device beyond the capacity is refused; known devices still update."""
    board = StateBoard(SITE, capacity=1)
    board.update(DOOR, Kind.DOOR_LOCK, online=True, state={})
    with pytest.raises(ValueError, match="state board full"):
        board.update(PANIC, Kind.PANIC_ALARM, online=True, state={})
    assert board.update(DOOR, Kind.DOOR_LOCK, online=False, state={})
    assert len(board) == 1


async def test_changed_waits_for_a_change() -> None:
    """`changed()` blocks until some device changes, then returns the changed states."""
    board = StateBoard(SITE, capacity=1)
    waiter = asyncio.create_task(board.changed())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    board.update(DOOR, Kind.DOOR_LOCK, online=True, state={"door": "open"})
    [state] = await asyncio.wait_for(waiter, 1)
    assert state.state == {"door": "open"}


@pytest.mark.integration
async def test_link_publishes_states_retained_on_connect_and_on_change(
    tmp_path: Path, space: Space
) -> None:
    """The board's states go out retained at QoS 1: all on connect, then each change."""
    config = make_config(tmp_path, mqtt=mqtt_section(space.endpoint, space.prefix))
    door_topic = space.topics.state(SITE, Kind.DOOR_LOCK, DOOR)
    panic_topic = space.topics.state(SITE, Kind.PANIC_ALARM, PANIC)
    board = StateBoard(SITE, capacity=2)
    board.update(DOOR, Kind.DOOR_LOCK, online=True, state={"door": "closed"})
    try:
        async with (
            Outbox(config.outbox.path, site=SITE) as outbox,
            Watcher(space.endpoint, space.everything) as watcher,
            Link(config, outbox, version="test", started_at=datetime.now(UTC), states=board),
        ):
            [first] = await watcher.wait_for(on(door_topic), "the state held at connect")
            assert wire.decode_state(first.payload).state == {"door": "closed"}
            board.update(DOOR, Kind.DOOR_LOCK, online=True, state={"door": "open"})
            board.update(PANIC, Kind.PANIC_ALARM, online=False, state={})
            await watcher.wait_for(on(panic_topic), "the new device's state")
            seen = await watcher.wait_for(on(door_topic), "the change", count=2)
            topic = wire.StateTopic(SITE, Kind.DOOR_LOCK, DOOR)
            assert wire.decode_state(seen[1].payload, topic).state == {"door": "open"}
        # A subscriber arriving later gets the retained state from the broker.
        async with Watcher(space.endpoint, door_topic) as late:
            [kept] = await late.wait_for(on(door_topic), "the retained state")
            assert kept.retain
            assert wire.decode_state(kept.payload).state == {"door": "open"}
    finally:
        await clear_retained(space.endpoint, door_topic, panic_topic)
