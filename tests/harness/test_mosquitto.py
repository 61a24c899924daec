"""A private Mosquitto: it serves, persists across a crash, pauses and cleans up."""

import os

import aiomqtt
import pytest

from tests.harness import PrivateMosquitto, ServiceStartError, mqtt_connack

pytestmark = pytest.mark.integration


async def _retained(broker: PrivateMosquitto, topic: str) -> bytes:
    """The payload retained at `topic` on `broker`, read by a fresh subscriber."""
    async with aiomqtt.Client(broker.host, broker.port) as client:
        await client.subscribe(topic, qos=1)
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            return message.payload
    msg = "the message iterator ended without a message"
    raise AssertionError(msg)


async def test_private_broker_round_trips_a_message(private_mosquitto: PrivateMosquitto) -> None:
    """A subscriber on the private broker receives what a publisher sends there."""
    async with aiomqtt.Client(private_mosquitto.host, private_mosquitto.port) as client:
        await client.subscribe("harness/echo", qos=1)
        await client.publish("harness/echo", b"hello", qos=1)
        async for message in client.messages:
            assert message.payload == b"hello"
            break


@pytest.mark.faults
async def test_retained_message_survives_sigkill_and_restart(
    private_mosquitto: PrivateMosquitto,
) -> None:
    """After an autosave, kill -9 and a restart on the same data keep a retained message."""
    port = private_mosquitto.port
    async with aiomqtt.Client(private_mosquitto.host, port) as client:
        await client.publish("harness/kept", b"before the crash", qos=1, retain=True)
    private_mosquitto.wait_for_autosave()
    private_mosquitto.kill()
    assert not private_mosquitto.alive
    private_mosquitto.restart()
    assert private_mosquitto.port == port
    assert await _retained(private_mosquitto, "harness/kept") == b"before the crash"


@pytest.mark.faults
def test_paused_broker_is_silent_until_resumed(private_mosquitto: PrivateMosquitto) -> None:
    """A SIGSTOPped broker gives no CONNACK; after SIGCONT it answers again."""
    private_mosquitto.pause()
    with pytest.raises(TimeoutError):
        mqtt_connack(private_mosquitto.host, private_mosquitto.port, timeout=0.3)
    private_mosquitto.resume()
    assert mqtt_connack(private_mosquitto.host, private_mosquitto.port) == 0


def test_extra_config_is_applied() -> None:
    """Extra config lines reach the broker: anonymous clients are refused when disallowed."""
    with PrivateMosquitto(extra_config=["allow_anonymous false"]) as broker:
        assert mqtt_connack(broker.host, broker.port) == 5  # not authorized


def test_bad_config_fails_fast_with_the_log_tail() -> None:
    """A broker that cannot start raises at once, quoting mosquitto's own complaint."""
    broker = PrivateMosquitto(extra_config=["no_such_option 1"])
    with pytest.raises(ServiceStartError, match="no_such_option"), broker:
        pass
    assert not broker.alive
    with pytest.raises(ServiceStartError, match="not been started"):
        _ = broker.directory  # removed along with the failed start


def test_close_leaves_no_process_and_no_directory() -> None:
    """Leaving the context ends the broker, even paused, and removes its directory."""
    with PrivateMosquitto() as broker:
        pid, directory = broker.pid, broker.directory
        broker.pause()
    assert pid is not None
    assert not directory.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
