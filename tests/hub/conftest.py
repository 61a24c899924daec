"""Hub test fixtures: a configuration for a hub of this test's own, on the shared services.

The services themselves (`database`, `mqtt_endpoint`, `topic_prefix`) come from
tests/conftest.py. A hub is started inside each test with `running_hub(config)`, so its
task group lives in the test's own task.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from hub import Hub, HubConfig
from tests.harness import MqttEndpoint
from tests.hub.support import forget_session


@pytest.fixture
def hub_config(database: str, mqtt_endpoint: MqttEndpoint, topic_prefix: str) -> HubConfig:
    """A hub of this test's own: its database, its topic prefix, its client id, any port."""
    return HubConfig.model_validate(
        {
            "hub_id": f"test-{uuid.uuid4().hex[:12]}",
            "database": {"url": database, "pool_min": 1, "pool_max": 3},
            "mqtt": {
                "host": mqtt_endpoint.host,
                "port": mqtt_endpoint.port,
                "username": mqtt_endpoint.username,
                "password": mqtt_endpoint.password,
                "topic_prefix": topic_prefix,
                "reconnect_max_s": 0.5,
                "timeout_s": 2.0,
            },
            "api": {"port": 0},
            "ingest": {"batch_wait_ms": 20},
        }
    )


@asynccontextmanager
async def running_hub(config: HubConfig, endpoint: MqttEndpoint) -> AsyncIterator[Hub]:
    """A started hub; on exit it stops, and its broker session and retained status go."""
    hub = Hub(config)
    try:
        async with hub:
            assert await hub.wait_connected(10.0), "the hub did not connect to the broker"
            yield hub
    finally:
        await forget_session(endpoint, hub.client_id, hub.space)
