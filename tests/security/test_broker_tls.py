"""TLS between clients and a private Mosquitto using the provisioning CA: the broker is
verified by the agent and the hub, clients present certificates, and a wrong CA on
either side is refused. End to end: an agent's event reaches the hub over TLS and the
hub's ack comes back to the agent over TLS."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiomqtt
import pytest

from agent import Draft, Link, Outbox
from hub._tls import tls_context as hub_tls_context
from hub.config import TlsConfig as HubTls
from hub.mqtt import LinkSettings, MqttLink
from hub.provision import HUB_USER, Principal, ProvisionStore
from hub.provision._certs import Authority
from tests.agent.support import DOOR, SITE, eventually, make_config
from tests.harness import PrivateMosquitto
from tests.harness.ports import free_port
from tests.security.support import Client, Identities
from wire import DEFAULT_TOPICS as T
from wire import Ack, EventType, Kind, decode_event, encode

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration

# paho 2.2 leaves the TLS socket of a failed handshake for the garbage collector to close
# (`Client._ssl_wrap_socket` raises from `do_handshake()` without closing it): a
# ResourceWarning in the tests that expect a refused handshake, nothing worse.
paho_leaks_refused_tls_socket = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning"
)


class TlsBroker:
    """A broker with a plain listener (the harness's probe) and a TLS listener."""

    def __init__(self, broker: PrivateMosquitto, tls_port: int, identities: Identities) -> None:
        self.broker = broker
        self.tls_port = tls_port
        self.identities = identities
        self.store = identities.store
        self.ca_file = identities.store.ca_dir / "ca.crt"


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """Identities with client certificates, and a TLS listener requiring one."""
    identities = Identities.create(tmp_path_factory.mktemp("tls"), certs=True)
    agent = identities.store.ensure(Principal.agent(SITE), cert=True)
    assert agent.password is not None
    identities.passwords[SITE] = agent.password
    key, cert = identities.store.broker_cert(["127.0.0.1", "localhost"])
    port = free_port()
    lines = [
        *identities.broker_config(),
        f"listener {port} 127.0.0.1",
        f"cafile {identities.store.ca_dir / 'ca.crt'}",
        f"certfile {cert}",
        f"keyfile {key}",
        "tls_version tlsv1.2",
        "require_certificate true",
    ]
    with PrivateMosquitto(extra_config=lines) as broker:
        yield TlsBroker(broker, port, identities)


def context(ca_file: Path, cert: tuple[Path, Path] | None) -> ssl.SSLContext:
    """A verifying client context trusting `ca_file`, presenting `cert` (key, cert)."""
    ctx = ssl.create_default_context(cafile=str(ca_file))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        ctx.load_cert_chain(str(cert[1]), str(cert[0]))
    return ctx


def foreign_ca(tmp_path: Path) -> ProvisionStore:
    """Another CA, which signed nothing the broker or the clients trust."""
    store = ProvisionStore(tmp_path / "foreign")
    store.ensure(Principal.agent("room-a"), cert=True)
    return store


async def test_the_right_ca_and_certificate_connect(tls_broker: TlsBroker) -> None:
    """A client trusting the CA, with its certificate and password, connects over TLS."""
    ctx = context(tls_broker.ca_file, tls_broker.store.cert_paths("room-a"))
    password = tls_broker.identities.passwords["room-a"]
    async with Client("127.0.0.1", tls_broker.tls_port, "room-a", password, tls=ctx) as client:
        await client.publish(T.status("room-a"), b"over tls")


@paho_leaks_refused_tls_socket
async def test_a_wrong_ca_refuses_the_broker(tls_broker: TlsBroker, tmp_path: Path) -> None:
    """A client trusting another CA refuses the broker's certificate."""
    other = foreign_ca(tmp_path)
    ctx = context(other.ca_dir / "ca.crt", tls_broker.store.cert_paths("room-a"))
    password = tls_broker.identities.passwords["room-a"]
    with pytest.raises(aiomqtt.MqttError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
        async with Client("127.0.0.1", tls_broker.tls_port, "room-a", password, tls=ctx):
            pass


@paho_leaks_refused_tls_socket
@pytest.mark.parametrize("which", ["none", "foreign"])
async def test_the_broker_refuses_a_client_without_a_trusted_certificate(
    tls_broker: TlsBroker, tmp_path: Path, which: str
) -> None:
    """Without a client certificate, or with one from another CA, the handshake fails."""
    cert = None if which == "none" else foreign_ca(tmp_path).cert_paths("room-a")
    ctx = context(tls_broker.ca_file, cert)
    password = tls_broker.identities.passwords["room-a"]
    # Under TLS 1.3 the broker's verdict on the client certificate comes after the
    # client's side of the handshake: the client learns of it when no CONNACK comes.
    client = Client("127.0.0.1", tls_broker.tls_port, "room-a", password, tls=ctx, timeout_s=1)
    with pytest.raises(aiomqtt.MqttError):
        async with client:
            pass


def test_the_authority_keys_are_private(tls_broker: TlsBroker) -> None:
    """The CA key and every client key are readable by their owner only (0600)."""
    store = tls_broker.store
    keys = [store.ca_dir / "ca.key", *store.certs_dir.glob("*.key")]
    assert len(keys) >= 4
    assert {oct(k.stat().st_mode & 0o777) for k in keys} == {"0o600"}
    assert Authority(store.ca_dir).cert_path == store.ca_dir / "ca.crt"


def _hub_settings(tls_broker: TlsBroker, ca_file: Path) -> LinkSettings:
    key, cert = tls_broker.store.cert_paths(HUB_USER)
    tls = hub_tls_context(HubTls(ca_file=ca_file, cert_file=cert, key_file=key))
    return LinkSettings(
        host="127.0.0.1",
        port=tls_broker.tls_port,
        client_id=f"hub-tls-{uuid.uuid4().hex[:12]}",
        subscriptions=(T.all_events(),),
        will=(T.hub_status(), b"offline"),
        username=HUB_USER,
        password=tls_broker.identities.passwords[HUB_USER],
        timeout_s=5.0,
        reconnect_max_s=0.5,
        tls=tls,
    )


async def test_agent_and_hub_deliver_and_ack_over_tls(
    tls_broker: TlsBroker, tmp_path: Path
) -> None:
    """An agent's event reaches the hub's link over TLS; the hub's ack empties the outbox."""
    key, cert = tls_broker.store.cert_paths(SITE)
    section = {
        "host": "127.0.0.1",
        "port": tls_broker.tls_port,
        "password": tls_broker.identities.passwords[SITE],
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.5,
        "tls": {"ca_file": str(tls_broker.ca_file), "cert_file": str(cert), "key_file": str(key)},
    }
    config = make_config(tmp_path, mqtt=section)
    async with asyncio.TaskGroup() as tasks:
        link = MqttLink(_hub_settings(tls_broker, tls_broker.ca_file), tasks=tasks)
        async with link:
            assert await link.wait_connected(5.0)
            async with (
                Outbox(config.outbox.path, site=SITE) as outbox,
                Link(config, outbox, version="9.9.9", started_at=datetime.now(UTC)),
            ):
                draft = Draft(DOOR, Kind.DOOR_LOCK, EventType.DOOR_OPENED, {"driver": "test"})
                event = await outbox.append(draft)
                received = await link.receive(5.0)
                assert received is not None
                assert decode_event(received.payload) == event
                ack = Ack(v=1, epoch=event.epoch, ranges=((event.seq, event.seq),))
                await link.publish(T.ack(SITE), encode(ack))

                async def drained() -> bool:
                    return not await outbox.pending()

                await eventually(drained, "the outbox emptied by the hub's ack over TLS")


@paho_leaks_refused_tls_socket
async def test_agent_and_hub_with_a_wrong_ca_never_connect(
    tls_broker: TlsBroker, tmp_path: Path
) -> None:
    """With a CA that did not sign the broker, neither the hub's link nor the agent's
    connects (they keep retrying), and nothing is delivered."""
    other = foreign_ca(tmp_path).ca_dir / "ca.crt"
    key, cert = tls_broker.store.cert_paths(SITE)
    section = {
        "host": "127.0.0.1",
        "port": tls_broker.tls_port,
        "password": tls_broker.identities.passwords[SITE],
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.2,
        "tls": {"ca_file": str(other), "cert_file": str(cert), "key_file": str(key)},
    }
    config = make_config(tmp_path, mqtt=section)
    async with asyncio.TaskGroup() as tasks:
        watcher = MqttLink(_hub_settings(tls_broker, tls_broker.ca_file), tasks=tasks)
        wrong_hub = MqttLink(_hub_settings(tls_broker, other), tasks=tasks)
        async with watcher, wrong_hub:
            assert await watcher.wait_connected(5.0)
            async with (
                Outbox(config.outbox.path, site=SITE) as outbox,
                Link(config, outbox, version="9.9.9", started_at=datetime.now(UTC)),
            ):
                draft = Draft(DOOR, Kind.DOOR_LOCK, EventType.DOOR_OPENED, {"driver": "test"})
                await outbox.append(draft)
                assert await watcher.receive(1.5) is None
                assert not await wrong_hub.wait_connected(0.1)
                assert len(await outbox.pending()) == 1
