"""Second brokers for several hubs: what RabbitMQ's and NATS's MQTT support does with `$share`.

Several hubs need a broker that spreads `$share/{group}/...` over the group's members
(docs/scale.md). These tests pin what the brokers installable on this machine do, so a
broker upgrade that changes it fails here and the document gets revisited: both grant the
shared SUBSCRIBE and then deliver nothing to it (the filter is taken literally), while a
plain subscription beside it gets every message. Each is skipped, with the reason, when
its broker is not available: RabbitMQ's MQTT plugin on 127.0.0.1:1884 (`rabbitmq-plugins
enable rabbitmq_mqtt`, `mqtt.listeners.tcp.1 = 127.0.0.1:1884`), or a `nats-server`
binary to start a private server with JetStream and MQTT.
"""

import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.harness import free_port

pytestmark = pytest.mark.integration

MESSAGES = 20
RABBITMQ_MQTT = ("127.0.0.1", 1884)


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class _Member:
    """An MQTT 3.1.1 subscriber (clean session) counting what it receives."""

    def __init__(self, port: int, topic_filter: str) -> None:
        self.got = 0
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"probe-{uuid.uuid4().hex[:8]}",
            clean_session=True,
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(topic_filter, qos=1)
        assert self._subscribed.wait(5), f"no SUBACK for {topic_filter}"

    def _on_message(self, *_: object) -> None:
        with self._lock:
            self.got += 1

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def shared_delivery(port: int) -> tuple[int, int, int]:
    """(member a, member b, plain subscriber): messages each got of `MESSAGES`."""
    tag = uuid.uuid4().hex[:8]
    members = [
        _Member(port, f"$share/g{tag}/t{tag}/#"),
        _Member(port, f"$share/g{tag}/t{tag}/#"),
        _Member(port, f"t{tag}/#"),
    ]
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-pub-{tag}")
    publisher.connect("127.0.0.1", port)
    publisher.loop_start()
    try:
        for n in range(MESSAGES):
            publisher.publish(f"t{tag}/x", str(n), qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 5
        while members[2].got < MESSAGES and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # anything still on its way to the shared members
        a, b, plain = (m.got for m in members)
        return a, b, plain
    finally:
        publisher.loop_stop()
        publisher.disconnect()
        for member in members:
            member.close()


@pytest.fixture
def nats_mqtt_port(tmp_path: Path) -> Iterator[int]:
    """A private nats-server with JetStream and MQTT; its MQTT port."""
    binary = shutil.which("nats-server")
    if binary is None:
        pytest.skip("nats-server is not installed")
    port = free_port()
    config = tmp_path / "nats.conf"
    config.write_text(
        f"server_name: probe\nlisten: 127.0.0.1:{free_port()}\n"
        f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\n'
        f"mqtt {{ listen: 127.0.0.1:{port} }}\n",
        encoding="utf-8",
    )
    with (tmp_path / "nats.log").open("wb") as log:
        server = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while not _listening("127.0.0.1", port):
            assert server.poll() is None, (tmp_path / "nats.log").read_text()
            assert time.monotonic() < deadline, "nats-server did not open its MQTT port"
            time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_rabbitmq_mqtt_grants_share_but_delivers_nothing_to_it() -> None:
    """RabbitMQ 3.10's MQTT plugin: `$share/...` is a literal filter, so no hub gets events."""
    if not _listening(*RABBITMQ_MQTT):
        pytest.skip("RabbitMQ's MQTT plugin does not listen on 127.0.0.1:1884")
    assert shared_delivery(RABBITMQ_MQTT[1]) == (0, 0, MESSAGES)


def test_nats_mqtt_grants_share_but_delivers_nothing_to_it(nats_mqtt_port: int) -> None:
    """NATS 2.9's MQTT gateway: the same; its queue groups are not reachable from MQTT."""
    assert shared_delivery(nats_mqtt_port) == (0, 0, MESSAGES)
