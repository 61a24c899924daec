"""The whole agent: a device's HTTP push reaches a plain MQTT subscriber, and acks clear it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import pytest

import wire
from agent import Agent
from tests.agent.support import (
    DOOR,
    DOOR_TOKEN,
    SITE,
    Watcher,
    eventually,
    make_config,
    mqtt_section,
    on,
    status_is,
)
from wire import DriverState, Kind, Presence

if TYPE_CHECKING:
    from pathlib import Path

    from tests.agent.conftest import Space

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "protocol", [pytest.param("3.1.1", id="mqtt-3.1.1"), pytest.param("5", id="mqtt-5")]
)
async def test_pushed_event_is_published_and_cleared_by_its_ack(
    tmp_path: Path, space: Space, protocol: str
) -> None:
    """HTTP push → 201 → the event on events/{kind}/{device}; the hub's ack empties the outbox."""
    config = make_config(
        tmp_path, mqtt=mqtt_section(space.endpoint, space.prefix, protocol=protocol)
    )
    topic = space.topics.events(SITE, Kind.DOOR_LOCK, DOOR)
    # The watcher outlives the agent: it must still be reading when the agent says offline.
    async with Watcher(space.endpoint, space.everything) as watcher:
        async with Agent(config) as agent:
            [online] = await watcher.wait_for(status_is(space.status, Presence.ONLINE), "online")
            health = wire.decode_status(online.payload).drivers["http"]
            assert health.state is DriverState.OK
            assert agent.http is not None
            url = f"http://127.0.0.1:{agent.http.port}/v1/devices/{DOOR}/events"
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    url,
                    json={"type": "door.forced", "data": {"door": 1}},
                    headers={"Authorization": f"Bearer {DOOR_TOKEN}"},
                ) as response,
            ):
                assert response.status == 201
                answer = await response.json()

            [seen] = await watcher.wait_for(on(topic), "the pushed event")
            event = wire.decode_event(seen.payload, wire.EventTopic(SITE, Kind.DOOR_LOCK, DOOR))
            expected = (answer["id"], answer["seq"], answer["at"])
            assert (str(event.id), event.seq, event.at) == expected
            assert (event.type, event.data, event.source["driver"]) == (
                wire.EventType.DOOR_FORCED,
                {"door": 1},
                "http",
            )

            ack = wire.Ack(v=1, epoch=event.epoch, ranges=((event.seq, event.seq),))
            await watcher.publish(space.ack, wire.encode(ack))

            async def drained() -> bool:
                return not await agent.outbox.pending()

            await eventually(drained, "the acked event deleted")
        await watcher.wait_for(status_is(space.status, Presence.OFFLINE, "shutdown"), "offline")
