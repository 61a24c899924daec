"""The hub's own status: retained online with liveness, offline on shutdown, LWT on loss."""

from typing import Any

import pytest

from hub import Hub, HubConfig
from hub.status import WILL_REASON
from tests.harness import FaultProxyFactory, MqttEndpoint
from tests.hub.support import forget_session, subscribed
from wire import TopicSpace

pytestmark = pytest.mark.integration


def _all_alive(status: dict[str, Any]) -> bool:
    return status["state"] == "online" and all(
        part["alive"] for part in status["components"].values()
    )


async def test_status_is_retained_online_then_offline_on_shutdown(
    hub_config: HubConfig, mqtt_endpoint: MqttEndpoint
) -> None:
    """A late subscriber finds `online` (all alive) retained; after a clean stop, `offline`."""
    config = hub_config.model_copy(update={"status_interval_s": 0.2})
    space = TopicSpace(config.mqtt.topic_prefix)
    hub = Hub(config)
    try:
        async with hub:
            assert await hub.wait_connected(10.0)
            async with subscribed(mqtt_endpoint, space.hub_status()) as inbox:
                retained = await inbox.take(space.hub_status())
                assert (retained["hub"], retained["state"]) == (hub.hub_id, "online")
                first = await inbox.take(space.hub_status(), where=_all_alive)
                later = await inbox.take(space.hub_status(), where=_all_alive)
                assert later["clock"] > first["clock"]  # republished periodically
        async with subscribed(mqtt_endpoint, space.hub_status()) as inbox:
            offline = await inbox.take(space.hub_status())
            assert (offline["state"], offline["reason"]) == ("offline", "shutdown")
    finally:
        await forget_session(mqtt_endpoint, hub.client_id, space)


@pytest.mark.faults
async def test_lwt_says_offline_when_the_connection_is_lost(
    hub_config: HubConfig, mqtt_endpoint: MqttEndpoint, fault_proxy: FaultProxyFactory
) -> None:
    """Cutting the hub's broker link publishes its LWT; reconnected, it says online again."""
    proxy = fault_proxy(mqtt_endpoint.host, mqtt_endpoint.port)
    mqtt = hub_config.mqtt.model_copy(update={"host": "127.0.0.1", "port": proxy.port})
    config = hub_config.model_copy(update={"mqtt": mqtt})
    space = TopicSpace(config.mqtt.topic_prefix)
    hub = Hub(config)
    try:
        async with subscribed(mqtt_endpoint, space.hub_status()) as inbox, hub:
            assert await hub.wait_connected(10.0)
            await inbox.take(space.hub_status(), where=lambda s: s["state"] == "online")
            proxy.drop()
            lost = await inbox.take(space.hub_status(), where=lambda s: s["state"] == "offline")
            assert (lost["hub"], lost["reason"]) == (hub.hub_id, WILL_REASON)
            proxy.pass_through()
            back = await inbox.take(space.hub_status(), where=lambda s: s["state"] == "online")
            assert back["hub"] == hub.hub_id
    finally:
        await forget_session(mqtt_endpoint, hub.client_id, space)
