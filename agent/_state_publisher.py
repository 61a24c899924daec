"""The link's state task: device states from the board, retained at QoS 1.

On each connection it first publishes every state the board holds (a broker that lost
its retained messages, or a consumer that connected meanwhile, gets them all), then each
state as it changes. A publish failing ends the connection like any other link task; the
next connection starts again with the whole board.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import wire

if TYPE_CHECKING:
    from collections.abc import Iterable

    import aiomqtt

    from agent.state import StateBoard

__all__ = ["publish_states"]

logger = logging.getLogger(__name__)


async def publish_states(
    client: aiomqtt.Client, board: StateBoard, topics: wire.TopicSpace, site: str
) -> None:
    """Publish the whole board, then every change, until cancelled."""
    states = board.snapshot()
    await _publish(client, topics, site, states)
    if states:
        logger.info("mqtt link: published the state of %d devices", len(states))
    while True:
        await _publish(client, topics, site, await board.changed())


async def _publish(
    client: aiomqtt.Client, topics: wire.TopicSpace, site: str, states: Iterable[wire.DeviceState]
) -> None:
    for state in states:
        topic = topics.state(site, state.kind, state.device)
        await client.publish(topic, wire.encode(state), qos=1, retain=True)
