"""Fixtures of the agent's tests: the broker space a test owns, cleaned up afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

import wire
from tests.agent.support import SITE, clear_retained

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.harness import MqttEndpoint


@dataclass(frozen=True, slots=True)
class Space:
    """The shared broker and this test's own topic prefix, with its topic names."""

    endpoint: MqttEndpoint
    prefix: str

    @property
    def topics(self) -> wire.TopicSpace:
        """Topic builders under this test's prefix."""
        return wire.TopicSpace(self.prefix)

    @property
    def status(self) -> str:
        """The status topic of `SITE`."""
        return self.topics.status(SITE)

    @property
    def inventory(self) -> str:
        """The inventory topic of `SITE`."""
        return self.topics.inventory(SITE)

    @property
    def ack(self) -> str:
        """The ack topic of `SITE`."""
        return self.topics.ack(SITE)

    @property
    def everything(self) -> str:
        """A filter for every topic under the prefix."""
        return f"{self.prefix}#"


@pytest.fixture
async def space(mqtt_endpoint: MqttEndpoint, topic_prefix: str) -> AsyncIterator[Space]:
    """This test's topic space on the shared broker; its retained messages removed after."""
    space = Space(mqtt_endpoint, topic_prefix)
    yield space
    await clear_retained(mqtt_endpoint, space.status, space.inventory)
