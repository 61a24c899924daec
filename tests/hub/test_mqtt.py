"""The hub's broker link: the socket it connects with."""

import asyncio
import socket

import aiomqtt
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


async def test_on_mqtt_5_the_broker_sends_no_more_than_receive_maximum_unacked(
    mqtt_endpoint: MqttEndpoint,
) -> None:
    """Receive Maximum holds the first window: the broker sends no more until the hub acks."""
    topic = "test-hub-receive-max/events"
    settings = LinkSettings(
        host=mqtt_endpoint.host,
        port=mqtt_endpoint.port,
        client_id="test-hub-receive-max",
        subscriptions=(topic,),
        will=("test-hub-receive-max/status", b"offline"),
        protocol="5",
        username=mqtt_endpoint.username,
        password=mqtt_endpoint.password,
        session_expiry_s=0,
        receive_maximum=5,
    )
    async with asyncio.TaskGroup() as tasks, MqttLink(settings, tasks=tasks) as link:
        assert await link.wait_connected(10.0)
        async with aiomqtt.Client(
            mqtt_endpoint.host,
            mqtt_endpoint.port,
            username=mqtt_endpoint.username,
            password=mqtt_endpoint.password,
        ) as publisher:
            for n in range(20):
                await publisher.publish(topic, str(n).encode(), qos=1)
        await asyncio.sleep(1.0)
        first = list(iter(link.receive_nowait, None))
        assert len(first) == 5
        for message in first:
            link.ack(message)
        received = len(first)
        while received < 20:
            more = await link.receive(5.0)
            assert more is not None, f"only {received} of 20 came after the acks"
            link.ack(more)
            received += 1
