"""The hub's broker link: the socket it connects with."""

import asyncio
import socket

import pytest

from hub.mqtt import LinkSettings, MqttLink
from tests.harness import MqttEndpoint

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_the_link_connects_with_nagle_off(mqtt_endpoint: MqttEndpoint, protocol: str) -> None:
    """TCP_NODELAY: a batch's small PUBACKs and ack must not wait for a delayed TCP ACK."""
    settings = LinkSettings(
        host=mqtt_endpoint.host,
        port=mqtt_endpoint.port,
        client_id=f"test-hub-nodelay-{protocol}",
        subscriptions=(),
        will=("test-hub-nodelay/status", b"offline"),
        protocol="5" if protocol == "5" else "3.1.1",
        username=mqtt_endpoint.username,
        password=mqtt_endpoint.password,
        session_expiry_s=0,
    )
    async with asyncio.TaskGroup() as tasks:
        client = MqttLink(settings, tasks=tasks)._client_for_attempt()
        async with client:
            sock = client._client.socket()
            assert isinstance(sock, socket.socket)
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
