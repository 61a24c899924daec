"""The hub process as a whole: its API served by uvicorn, and failures that stop it."""

import socket

import httpx
import pytest

from hub import Hub, HubConfig, ListenError
from hub.runtime import hub_id_for
from tests.harness import MqttEndpoint
from tests.hub.conftest import running_hub

pytestmark = pytest.mark.integration


async def test_health_of_a_running_hub_is_served_over_http(
    hub_config: HubConfig, mqtt_endpoint: MqttEndpoint
) -> None:
    """A running hub answers /health on its port: database, broker and loops all well."""
    async with (
        running_hub(hub_config, mqtt_endpoint) as hub,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{hub.api_port}") as http,
    ):
        response = await http.get("/health")
        body = response.json()
        assert response.status_code == 200, body
        assert (body["status"], body["database"], body["mqtt_connected"]) == ("ok", True, True)
        assert set(body["components"]) == {"ingest", "rules", "relay"}
        assert all(part["alive"] for part in body["components"].values())


async def test_taken_api_port_stops_the_start_clearly(hub_config: HubConfig) -> None:
    """A port already in use is a ListenError naming host and port, before any task runs."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        api = hub_config.api.model_copy(update={"port": port})
        with pytest.raises(ListenError, match=f"127.0.0.1:{port}"):
            async with Hub(hub_config.model_copy(update={"api": api})):
                pass


def test_hub_id_defaults_to_a_valid_id_from_the_host_name(hub_config: HubConfig) -> None:
    """Without `hub_id`, the host name gives one the contract accepts."""
    derived = hub_id_for(hub_config.model_copy(update={"hub_id": None}))
    assert derived
    assert all(c.isalnum() or c in "_.:-" for c in derived)
    assert derived[0].isalnum()
