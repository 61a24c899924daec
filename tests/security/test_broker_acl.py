"""Adversarial tests against a private Mosquitto enforcing the generated password and ACL
files: who may connect, publish and subscribe to what, and what the broker refuses.

Every "receives nothing" check ends with a marker the client *is* allowed to receive,
published after the forbidden messages: the marker arriving alone proves the forbidden
ones were dropped (the broker keeps one publisher's order), not merely late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from agent import Link, Outbox
from hub.mqtt import LinkSettings, MqttLink
from hub.provision import HUB_USER, Principal
from tests.agent.support import make_config
from tests.harness import PrivateMosquitto
from tests.harness.probes import mqtt_connack
from tests.security.rawmqtt import connack, connect_packet, publish_header, read_exactly
from tests.security.support import (
    CONSUMER_A,
    CONSUMER_ALL,
    DEADLINE_S,
    MAX_PACKET,
    SITE_A,
    SITE_B,
    Client,
    Identities,
)
from wire import DEFAULT_TOPICS as T
from wire import Kind

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration

AGENT_A, AGENT_B = SITE_A, SITE_B
OPS, OPS_A = f"_consumer.{CONSUMER_ALL}", f"_consumer.{CONSUMER_A}"


@pytest.fixture(scope="module")
def identities(tmp_path_factory: pytest.TempPathFactory) -> Identities:
    """Agents room-a and room-b, the hub, a consumer of all alerts and one of room-a's."""
    return Identities.create(tmp_path_factory.mktemp("provision"))


@pytest.fixture(scope="module")
def broker(identities: Identities) -> Iterator[PrivateMosquitto]:
    """A Mosquitto enforcing the generated files, no anonymous access, a packet cap."""
    with PrivateMosquitto(extra_config=identities.broker_config()) as broker:
        yield broker


def as_user(
    broker: PrivateMosquitto,
    identities: Identities,
    user: str,
    *,
    identifier: str | None = None,
) -> Client:
    """A client connected as `user` with its real password."""
    password = identities.passwords[user]
    return Client(broker.host, broker.port, user, password, identifier=identifier)


def marker() -> bytes:
    """A payload no other message of the test carries."""
    return f"marker-{uuid.uuid4().hex}".encode()


def test_anonymous_connections_are_refused(broker: PrivateMosquitto) -> None:
    """A CONNECT without credentials is refused (CONNACK 5, not authorised)."""
    assert mqtt_connack(broker.host, broker.port) == 5


@pytest.mark.parametrize("user", [AGENT_A, HUB_USER, OPS])
def test_a_wrong_password_is_refused(
    broker: PrivateMosquitto, identities: Identities, user: str
) -> None:
    """A known user with a wrong password is refused; the right one is accepted."""
    wrong = identities.passwords[user] + "x"
    assert mqtt_connack(broker.host, broker.port, username=user, password=wrong) in (4, 5)
    right = identities.passwords[user]
    assert mqtt_connack(broker.host, broker.port, username=user, password=right) == 0


def test_an_unknown_user_is_refused(broker: PrivateMosquitto, identities: Identities) -> None:
    """A user name that was never provisioned (or was revoked) is refused."""
    password = identities.passwords[AGENT_A]
    assert mqtt_connack(broker.host, broker.port, username="room-z", password=password) in (4, 5)


async def test_a_site_cannot_publish_as_another_site(
    broker: PrivateMosquitto, identities: Identities
) -> None:
    """Site A publishing on any of site B's topics reaches nothing; its own topics do."""
    async with (
        as_user(broker, identities, HUB_USER) as hub,
        as_user(broker, identities, AGENT_A) as agent_a,
    ):
        await hub.subscribe(*(f"shouwang/v1/+/{leaf}" for leaf in ("events/#", "state/#")))
        await hub.subscribe(*(f"shouwang/v1/+/{leaf}" for leaf in ("snapshots/#", "inventory")))
        await hub.subscribe("shouwang/v1/+/status")
        event_id = str(uuid.uuid4())
        for topic in (
            T.events(SITE_B, Kind.DOOR_LOCK, "door-1"),
            T.state(SITE_B, Kind.DOOR_LOCK, "door-1"),
            T.snapshot(SITE_B, Kind.CAMERA, "cam-1", event_id),
            T.inventory(SITE_B),
            T.status(SITE_B),
            T.hub_status(),
        ):
            await agent_a.publish(topic, b"forged")
        own = marker()
        await agent_a.publish(T.events(SITE_A, Kind.DOOR_LOCK, "door-1"), own)
        await hub.wait_for(lambda s: s.payload == own, "site A's own event")
        assert hub.topics() == [T.events(SITE_A, Kind.DOOR_LOCK, "door-1")]


@pytest.mark.parametrize(
    "topic_filter",
    [
        "#",
        "+/#",
        "$SYS/#",
        "shouwang/v1/#",
        f"shouwang/v1/{SITE_B}/ack",
        "shouwang/v1/+/ack",
        "shouwang/v1/+/alerts",
        f"shouwang/v1/{SITE_A}/alerts",
        "shouwang/v1/+/events/#",
    ],
)
async def test_an_agent_subscribing_beyond_its_ack_receives_nothing(
    broker: PrivateMosquitto, identities: Identities, topic_filter: str
) -> None:
    """Whatever an agent subscribes to, it receives its own site's acks and nothing else."""
    async with (
        as_user(broker, identities, HUB_USER) as hub,
        as_user(broker, identities, AGENT_A) as agent_a,
        as_user(broker, identities, AGENT_B) as agent_b,
    ):
        await agent_a.subscribe(topic_filter, T.ack(SITE_A))
        await hub.publish(T.ack(SITE_B), b"ack for b")
        await hub.publish(T.alerts(SITE_A), b"alert of a")
        await hub.publish(T.alerts(SITE_B), b"alert of b")
        await agent_b.publish(T.events(SITE_B, Kind.DOOR_LOCK, "door-1"), b"event of b")
        await hub.publish(T.hub_status(), b"hub status", retain=True)
        own = marker()
        await hub.publish(T.ack(SITE_A), own)
        await agent_a.wait_for(lambda s: s.payload == own, "site A's own ack")
        assert [s.payload for s in agent_a.seen] == [own]


async def test_an_agent_publishing_alerts_reaches_no_consumer(
    broker: PrivateMosquitto, identities: Identities
) -> None:
    """Alerts forged by an agent (or a consumer) reach no consumer; the hub's do."""
    async with (
        as_user(broker, identities, HUB_USER) as hub,
        as_user(broker, identities, AGENT_A) as agent_a,
        as_user(broker, identities, OPS) as ops,
        as_user(broker, identities, OPS_A) as ops_a,
    ):
        await ops.subscribe("shouwang/v1/+/alerts")
        await ops_a.subscribe(T.alerts(SITE_A))
        await agent_a.publish(T.alerts(SITE_A), b"forged by the agent")
        await agent_a.publish(T.alerts(SITE_B), b"forged by the agent")
        await ops.publish(T.alerts(SITE_A), b"forged by a consumer")
        real = marker()
        await hub.publish(T.alerts(SITE_A), real)
        await ops.wait_for(lambda s: s.payload == real, "the hub's alert (all sites)")
        await ops_a.wait_for(lambda s: s.payload == real, "the hub's alert (room-a)")
        assert [s.payload for s in ops.seen] == [real]
        assert [s.payload for s in ops_a.seen] == [real]


async def test_a_site_scoped_consumer_reads_only_its_sites_alerts(
    broker: PrivateMosquitto, identities: Identities
) -> None:
    """A consumer provisioned for room-a hears room-a's alerts only, even subscribed to all."""
    async with (
        as_user(broker, identities, HUB_USER) as hub,
        as_user(broker, identities, OPS_A) as ops_a,
    ):
        await ops_a.subscribe("shouwang/v1/+/alerts", "#")
        await hub.publish(T.alerts(SITE_B), b"alert of b")
        await hub.publish(T.ack(SITE_A), b"ack of a")
        real = marker()
        await hub.publish(T.alerts(SITE_A), real)
        await ops_a.wait_for(lambda s: s.payload == real, "room-a's alert")
        # `#` also brings the hub's retained status, which every consumer may read.
        assert [s.payload for s in ops_a.seen if s.topic != T.hub_status()] == [real]


async def test_only_the_hub_writes_the_hub_status(
    broker: PrivateMosquitto, identities: Identities
) -> None:
    """An agent's retained `_hub/status` is dropped: consumers see only the hub's."""
    async with (
        as_user(broker, identities, HUB_USER) as hub,
        as_user(broker, identities, AGENT_A) as agent_a,
        as_user(broker, identities, OPS) as ops,
    ):
        await ops.subscribe(T.hub_status())
        await agent_a.publish(T.hub_status(), b"forged offline", retain=True)
        real = marker()
        await hub.publish(T.hub_status(), real, retain=True)
        await ops.wait_for(lambda s: s.payload == real, "the hub's status")
        assert all(s.payload != b"forged offline" for s in ops.seen)


def test_an_oversize_packet_disconnects_the_client(
    broker: PrivateMosquitto, identities: Identities
) -> None:
    """A PUBLISH above max_packet_size closes the connection; one just below it is taken."""
    topic = T.inventory(SITE_A)
    with socket.create_connection((broker.host, broker.port), timeout=5) as sock:
        sock.sendall(
            connect_packet(f"big-{uuid.uuid4().hex}", AGENT_A, identities.passwords[AGENT_A])
        )
        assert connack(sock) == 0
        size = MAX_PACKET - 1024
        sock.sendall(publish_header(topic, size, packet_id=1) + b"\0" * size)
        assert read_exactly(sock, 4) == b"\x40\x02\x00\x01"  # PUBACK of packet 1

        size = MAX_PACKET + 1
        header = publish_header(topic, size, packet_id=2)
        # The broker may hang up before the body is through: the expected outcome.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(header + b"\0" * size)
        try:
            answer = sock.recv(16)
        except ConnectionResetError:
            answer = b""
        assert answer == b"", f"expected the broker to close the connection, got {answer!r}"


async def test_wrong_credentials_cannot_take_over_an_agents_session(
    broker: PrivateMosquitto, identities: Identities
) -> None:
    """A CONNECT with the agent's client id and a wrong password is refused and leaves the
    agent connected."""
    identifier = f"shouwang-agent-{SITE_A}"
    async with (
        as_user(broker, identities, HUB_USER) as hub,
        as_user(broker, identities, AGENT_A, identifier=identifier) as agent_a,
    ):
        await agent_a.subscribe(T.ack(SITE_A))
        for user, password in ((AGENT_A, "not-the-password"), (None, None), ("room-z", "x")):
            with socket.create_connection((broker.host, broker.port), timeout=5) as sock:
                sock.sendall(connect_packet(identifier, user, password))
                assert connack(sock) in (4, 5)
        own = marker()
        await hub.publish(T.ack(SITE_A), own)
        await agent_a.wait_for(lambda s: s.payload == own, "the ack on the agent's session")
        await agent_a.publish(T.status(SITE_A), b"still here")


def test_a_revoked_identity_is_refused_after_a_reload(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """After `revoke` and a broker reload, the revoked agent cannot connect; others can."""
    identities = Identities.create(tmp_path_factory.mktemp("revoke"))
    with PrivateMosquitto(extra_config=identities.broker_config()) as broker:
        password = identities.passwords[AGENT_B]
        assert mqtt_connack(broker.host, broker.port, username=AGENT_B, password=password) == 0
        assert identities.store.revoke(AGENT_B)
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGHUP)  # what an operator does after provisioning
        deadline = time.monotonic() + DEADLINE_S
        while mqtt_connack(broker.host, broker.port, username=AGENT_B, password=password) == 0:
            assert time.monotonic() < deadline, "the revoked agent can still connect"
            time.sleep(0.05)
        password = identities.passwords[AGENT_A]
        assert mqtt_connack(broker.host, broker.port, username=AGENT_A, password=password) == 0
    assert Principal.agent(AGENT_B).user not in identities.store.principals()


async def test_links_refused_for_a_wrong_password_retry_and_never_log_it(
    broker: PrivateMosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The hub's and the agent's links, refused by the broker, log the refusal and keep
    trying; neither log line carries the password."""
    secret = f"wrong-{uuid.uuid4().hex}"
    caplog.set_level(logging.DEBUG)
    settings = LinkSettings(
        host=broker.host,
        port=broker.port,
        client_id=f"hub-{uuid.uuid4().hex[:8]}",
        subscriptions=(T.all_events(),),
        will=(T.hub_status(), b"offline"),
        username=HUB_USER,
        password=secret,
        reconnect_max_s=0.2,
    )
    section = {
        "host": broker.host,
        "port": broker.port,
        "password": secret,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.2,
    }
    config = make_config(tmp_path, mqtt=section)
    async with asyncio.TaskGroup() as tasks:
        hub_link = MqttLink(settings, tasks=tasks)
        async with (
            hub_link,
            Outbox(config.outbox.path, site=config.site) as outbox,
            Link(config, outbox, version="9.9.9", started_at=datetime.now(UTC)),
        ):
            assert not await hub_link.wait_connected(1.0)
    refusals = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert {r.name for r in refusals} >= {"hub.mqtt", "agent.link"}
    assert secret not in caplog.text
