"""The fault proxy's modes, each against a real TCP echo server (and one real broker)."""

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import aiomqtt
import pytest

from tests.harness import FaultProxy, FaultProxyFactory, MqttEndpoint, ProxyMode

pytestmark = pytest.mark.faults

_TIMEOUT = 2.0


class _EchoHandler(socketserver.BaseRequestHandler):
    """Send every byte back until the client closes."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        while data := sock.recv(65536):
            sock.sendall(data)


class _EchoServer(socketserver.ThreadingTCPServer):
    """A loopback echo server whose connection threads never block shutdown."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    """(host, port) of a TCP echo server running in a background thread."""
    with _EchoServer(("127.0.0.1", 0), _EchoHandler) as server:
        thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="echo-server", daemon=True
        )
        thread.start()
        try:
            yield "127.0.0.1", server.server_address[1]
        finally:
            server.shutdown()
            thread.join(_TIMEOUT)


@pytest.fixture
def proxy(fault_proxy: FaultProxyFactory, echo_server: tuple[str, int]) -> FaultProxy:
    """A fault proxy in front of the echo server."""
    return fault_proxy(*echo_server)


def _connect(proxy: FaultProxy) -> socket.socket:
    """A client socket connected through `proxy`, with a short timeout."""
    return socket.create_connection((proxy.host, proxy.port), timeout=_TIMEOUT)


def _connect_and_read(proxy: FaultProxy) -> bytes:
    """Connect through `proxy` and read one byte (on loopback an RST can beat connect())."""
    with _connect(proxy) as client:
        return client.recv(1)


def _echo(sock: socket.socket, payload: bytes) -> bytes:
    """Send `payload` and read back as many bytes (or fewer, if the link closes)."""
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def test_pass_through_forwards_both_ways_and_counts(proxy: FaultProxy) -> None:
    """Bytes go to the server and back unchanged, and the counters see them."""
    with _connect(proxy) as client:
        assert _echo(client, b"ping") == b"ping"
    stats = proxy.stats()
    assert stats.connections_accepted == 1
    assert stats.bytes_to_upstream == 4
    assert stats.bytes_to_client == 4
    assert proxy.mode is ProxyMode.PASS_THROUGH


def test_delay_holds_each_direction_and_keeps_order(proxy: FaultProxy) -> None:
    """Under delay(d) a round trip takes at least 2·d and chunks arrive in order."""
    delay = 0.2
    with _connect(proxy) as client:
        proxy.delay(delay)
        started = time.monotonic()
        for part in (b"one,", b"two,", b"three"):
            client.sendall(part)
        received = b""
        while len(received) < len(b"one,two,three"):
            received += client.recv(65536)
        elapsed = time.monotonic() - started
        assert received == b"one,two,three"
        assert elapsed >= 2 * delay - 0.01
        proxy.pass_through()
        started = time.monotonic()
        assert _echo(client, b"fast") == b"fast"
        assert time.monotonic() - started < delay


def test_drop_closes_open_and_new_connections_until_healed(proxy: FaultProxy) -> None:
    """drop() ends open links with EOF and closes new ones at once; pass_through() heals."""
    with _connect(proxy) as before:
        assert _echo(before, b"hi") == b"hi"
        proxy.drop()
        assert before.recv(1) == b""
    started = time.monotonic()
    with _connect(proxy) as during:
        assert during.recv(1) == b""
    assert time.monotonic() - started < 0.5
    proxy.pass_through()
    with _connect(proxy) as after:
        assert _echo(after, b"back") == b"back"


def test_reset_aborts_open_connections_and_lets_new_ones_pass(proxy: FaultProxy) -> None:
    """reset() gives open clients ConnectionResetError; the next connection works."""
    with _connect(proxy) as before:
        assert _echo(before, b"hi") == b"hi"
        proxy.reset()
        with pytest.raises(ConnectionResetError):
            before.recv(1)
    assert proxy.stats().connections_open == 0
    with _connect(proxy) as after:
        assert _echo(after, b"still here") == b"still here"


def test_blackhole_swallows_bytes_silently_and_heal_resets_torn_links(proxy: FaultProxy) -> None:
    """Black-holed links stay open but answer nothing; healing resets them and new ones pass."""
    with _connect(proxy) as before:
        assert _echo(before, b"hi") == b"hi"
        proxy.blackhole()
        before.settimeout(0.3)
        before.sendall(b"anyone?")
        with pytest.raises(TimeoutError):
            before.recv(1)  # neither an answer nor an EOF: the link looks alive
        with _connect(proxy) as newcomer:
            newcomer.settimeout(0.3)
            newcomer.sendall(b"hello?")
            with pytest.raises(TimeoutError):
                newcomer.recv(1)
            assert proxy.stats().bytes_discarded == len(b"anyone?") + len(b"hello?")
            proxy.pass_through()
            newcomer.settimeout(_TIMEOUT)
            with pytest.raises(ConnectionResetError):
                newcomer.recv(1)
        before.settimeout(_TIMEOUT)
        with pytest.raises(ConnectionResetError):
            before.recv(1)
    with _connect(proxy) as after:
        assert _echo(after, b"healed") == b"healed"


def test_idle_link_survives_a_blackhole(proxy: FaultProxy) -> None:
    """A connection that sent nothing during a black hole carries on after it."""
    with _connect(proxy) as client:
        assert _echo(client, b"a") == b"a"
        proxy.blackhole()
        proxy.pass_through()
        assert _echo(client, b"b") == b"b"


def test_upstream_refusal_reaches_the_client_as_a_reset(fault_proxy: FaultProxyFactory) -> None:
    """With nothing listening upstream, a client's connection is reset at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    proxy = fault_proxy("127.0.0.1", dead_port)
    with pytest.raises(ConnectionResetError):
        _connect_and_read(proxy)


@pytest.mark.integration
async def test_async_client_talks_through_the_proxy_to_a_broker(
    fault_proxy: FaultProxyFactory, mqtt_endpoint: MqttEndpoint, topic_prefix: str
) -> None:
    """An aiomqtt client on the test's loop round-trips a message through the proxy."""
    proxy = fault_proxy(mqtt_endpoint.host, mqtt_endpoint.port)
    topic = f"{topic_prefix}proxy/echo"
    async with aiomqtt.Client(
        proxy.host,
        proxy.port,
        username=mqtt_endpoint.username,
        password=mqtt_endpoint.password,
    ) as client:
        await client.subscribe(topic, qos=1)
        proxy.delay(0.05)  # control calls from an async test do not block the proxy
        await client.publish(topic, b"through", qos=1)
        async for message in client.messages:
            assert message.payload == b"through"
            break
    assert proxy.stats().bytes_to_upstream > 0
