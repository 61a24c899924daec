"""End to end: a door forced on the Modbus simulator reaches MQTT through the real agent,
and a real hub stores it once in PostgreSQL (and raises the `door-forced` alert)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING

import psycopg
import pytest

import wire
from agent import Agent
from hub.config import HubConfig
from hub.runtime import Hub
from simulators.door_controller import DoorController
from tests.agent.drivers.modbus_rig import SITE, agent_config, controller_entry, door_ids
from tests.agent.support import Watcher, clear_retained, mqtt_section, on, status_is
from wire import DriverState, EventType, Kind, Presence

if TYPE_CHECKING:
    from pathlib import Path

    from tests.agent.conftest import Space
    from tests.agent.support import Seen

pytestmark = pytest.mark.integration


DEADLINE_S = 10.0


async def stored_once(database: str, event_id: uuid.UUID) -> list[tuple[object, ...]]:
    """The rows of `event_id` in `events` and the alerts it raised, once the hub has them."""
    deadline = time.monotonic() + DEADLINE_S
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        while True:
            cursor = await conn.execute(
                "SELECT e.type, e.device, a.rule, a.severity FROM events e "
                "LEFT JOIN alerts a ON e.id = ANY(a.event_ids) WHERE e.id = %s",
                [event_id],
            )
            found = await cursor.fetchall()
            if (found and found[0][2] is not None) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.05)


async def test_forced_door_arrives_as_a_v1_event_with_its_state(
    tmp_path: Path, space: Space, database: str
) -> None:
    """Simulator door forced → agent → `events/door_lock/{device}` door.forced, state
    retained → hub: one row in PostgreSQL, one high `door-forced` alert."""
    hub_config = HubConfig.model_validate(
        {
            "hub_id": "modbus-e2e-hub",
            "database": {"url": database},
            "mqtt": {
                "host": space.endpoint.host,
                "port": space.endpoint.port,
                "topic_prefix": space.prefix,
                "client_id": f"modbus-e2e-hub-{uuid.uuid4().hex[:8]}",
            },
            "api": {"port": 0},
        }
    )
    async with DoorController(4, device_id=5) as sim:
        doors = door_ids("door", 4)
        config = agent_config(
            tmp_path,
            [controller_entry(sim, doors)],
            mqtt=mqtt_section(space.endpoint, space.prefix),
        )
        forced_door = doors[2]
        events = space.topics.events(SITE, Kind.DOOR_LOCK, forced_door)
        states = [space.topics.state(SITE, Kind.DOOR_LOCK, door) for door in doors]
        try:
            async with (
                Hub(hub_config),
                Watcher(space.endpoint, space.everything) as watcher,
                Agent(config),
            ):
                [online] = await watcher.wait_for(status_is(space.status, Presence.ONLINE), "up")
                modbus = wire.decode_status(online.payload).drivers["modbus"]
                assert modbus.state is DriverState.OK
                await watcher.wait_for(on(states[2]), "the door's first state")
                await sim.force(2, open_s=0.3)

                def forced(seen: Seen) -> bool:
                    return seen.topic == events and b'"door.forced"' in seen.payload

                [seen] = await watcher.wait_for(forced, "door.forced on MQTT")
                topic = wire.EventTopic(SITE, Kind.DOOR_LOCK, forced_door)
                event = wire.decode_event(seen.payload, topic)
                assert (event.type, event.site, event.device) == (
                    EventType.DOOR_FORCED,
                    SITE,
                    forced_door,
                )
                assert event.kind is Kind.DOOR_LOCK
                assert event.source["driver"] == "modbus"
                assert (event.source["device_id"], event.source["door"]) == (5, 3)
                assert event.lane is wire.Lane.P0
                state_seen = await watcher.wait_for(on(states[2]), "the open state", count=2)
                assert wire.decode_state(state_seen[1].payload).state["door"] == "open"
                assert await stored_once(database, event.id) == [
                    ("door.forced", forced_door, "door-forced", "high")
                ]
        finally:
            await clear_retained(space.endpoint, *states, space.topics.hub_status())
