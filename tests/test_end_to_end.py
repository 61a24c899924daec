"""The walking skeleton end to end: device → agent → MQTT → hub → PostgreSQL → alert.

Real processes' worth of code in one event loop: the agent and the hub run as their own
async context managers against the shared Mosquitto and a fresh PostgreSQL database; the
device is the HTTP push simulator; the observer is a plain MQTT client.
"""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import aiomqtt
import psycopg
import pytest

import wire
from agent.config import AgentConfig
from agent.runtime import Agent
from hub.config import HubConfig
from hub.runtime import Hub
from hub.storage.tokens import Role, Scope, issue_token
from simulators.http_device import HttpDevice
from tests.harness import MqttEndpoint

pytestmark = pytest.mark.integration

SITE = "room-e2e"
PANIC = "panic-0001"
LOCK = "lock-0001"
TOKENS = {PANIC: "panic-token-e2e-0123456789", LOCK: "lock-token-e2e-0123456789"}
DEADLINE_S = 10.0


def _mqtt(endpoint: MqttEndpoint, prefix: str, protocol: str, role: str) -> dict[str, object]:
    return {
        "host": endpoint.host,
        "port": endpoint.port,
        "username": endpoint.username,
        "password": endpoint.password,
        "protocol": protocol,
        "topic_prefix": prefix,
        "client_id": f"e2e-{role}-{uuid.uuid4().hex[:12]}",
    }


def _agent_config(tmp_path: Path, mqtt: dict[str, object]) -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "site": SITE,
            "mqtt": mqtt,
            "outbox": {"path": str(tmp_path / "outbox.sqlite3")},
            "http": {"port": 0},
            "devices": [
                {
                    "id": PANIC,
                    "kind": "panic_alarm",
                    "driver": "http",
                    "token": TOKENS[PANIC],
                    "checkin_s": 3600,
                },
                {
                    "id": LOCK,
                    "kind": "door_lock",
                    "driver": "http",
                    "token": TOKENS[LOCK],
                    "checkin_s": 300,
                },
            ],
        }
    )


def _hub_config(database: str, mqtt: dict[str, object]) -> HubConfig:
    return HubConfig.model_validate(
        {"hub_id": "e2e-hub", "database": {"url": database}, "mqtt": mqtt, "api": {"port": 0}}
    )


class Observer:
    """A plain MQTT subscriber that keeps every (topic, payload, retain) it receives."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.seen: list[tuple[str, bytes, bool]] = []

    async def read(self) -> None:
        async for message in self.client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else b""
            self.seen.append((message.topic.value, payload, message.retain))

    async def first(self, match: Callable[[str, bytes, bool], bool], what: str) -> bytes:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            for topic, payload, retain in self.seen:
                if match(topic, payload, retain):
                    return payload
            await asyncio.sleep(0.01)
        raise AssertionError(f"not within {DEADLINE_S} s: {what}; seen {self.seen!r}")


@contextlib.asynccontextmanager
async def observing(endpoint: MqttEndpoint, *filters: str) -> AsyncIterator[Observer]:
    async with aiomqtt.Client(
        endpoint.host,
        endpoint.port,
        username=endpoint.username,
        password=endpoint.password,
        identifier=f"e2e-observer-{uuid.uuid4().hex[:12]}",
    ) as client:
        for topic_filter in filters:
            await client.subscribe(topic_filter, qos=1)
        observer = Observer(client)
        reader = asyncio.create_task(observer.read(), name="observer")
        try:
            yield observer
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_panic_press_is_stored_once_and_alerted(
    protocol: str, tmp_path: Path, database: str, mqtt_endpoint: MqttEndpoint, topic_prefix: str
) -> None:
    """A panic press at the agent: on its topic, in PostgreSQL once, alerted, status retained."""
    topics = wire.TopicSpace(topic_prefix)
    hub_config = _hub_config(database, _mqtt(mqtt_endpoint, topic_prefix, protocol, "hub"))
    agent_config = _agent_config(tmp_path, _mqtt(mqtt_endpoint, topic_prefix, protocol, "agent"))
    async with (
        observing(mqtt_endpoint, f"{topic_prefix}#") as observer,
        Hub(hub_config) as hub,
        Agent(agent_config) as agent,
    ):
        assert agent.http is not None
        async with HttpDevice(f"http://127.0.0.1:{agent.http.port}", PANIC, TOKENS[PANIC]) as dev:
            pressed = time.monotonic()
            answer = await dev.push(wire.EventType.ALARM_PANIC, {"zone": 1})
        assert answer.status == 201
        event_id = str(answer.body["id"])

        event_topic = topics.events(SITE, wire.Kind.PANIC_ALARM, PANIC)
        published = wire.decode_event(
            await observer.first(lambda t, _p, _r: t == event_topic, "the event on its topic")
        )
        assert (str(published.id), published.type) == (event_id, wire.EventType.ALARM_PANIC)

        alert = wire.decode_alert(
            await observer.first(lambda t, _p, _r: t == topics.alerts(SITE), "the alert")
        )
        alert_latency = time.monotonic() - pressed
        assert (alert.transition, alert.severity) == (
            wire.Transition.OPENED,
            wire.Severity.CRITICAL,
        )
        assert (alert.device, [str(i) for i in alert.event_ids]) == (PANIC, [event_id])
        assert alert_latency < DEADLINE_S

        async with await psycopg.AsyncConnection.connect(database) as conn:
            cursor = await conn.execute(
                "SELECT count(*), min(type), min(site) FROM events WHERE id = %s", (event_id,)
            )
            assert await cursor.fetchone() == (1, "alarm.panic", SITE)
            viewer = await issue_token(conn, Role.VIEWER, Scope.of([SITE]), "e2e")
        api = f"http://127.0.0.1:{hub.api_port}/api/v1"
        bearer = {"Authorization": f"Bearer {viewer.token}"}
        async with aiohttp.ClientSession(headers=bearer) as session:
            async with session.get(f"{api}/events", params={"site": SITE}) as response:
                listed = await response.json()
            async with session.get(f"{api}/alerts", params={"site": SITE}) as response:
                alerts = await response.json()
        assert [e["id"] for e in listed["events"]] == [event_id]
        assert [(a["rule"], a["state"]) for a in alerts["alerts"]] == [("panic", "open")]

    # Retained on the broker, read by a newcomer after the fact: status and inventory.
    async with observing(mqtt_endpoint, topics.status(SITE), topics.inventory(SITE)) as late:
        status = wire.decode_status(
            await late.first(lambda t, _p, r: t == topics.status(SITE) and r, "retained status")
        )
        inventory = wire.decode_inventory(
            await late.first(lambda t, _p, r: t == topics.inventory(SITE) and r, "inventory")
        )
    assert status.site == SITE  # offline after the clean stop, retained all the same
    assert {(d.id, d.kind) for d in inventory.devices} == {
        (PANIC, wire.Kind.PANIC_ALARM),
        (LOCK, wire.Kind.DOOR_LOCK),
    }
    for topic in (topics.status(SITE), topics.inventory(SITE), topics.hub_status()):
        await _clear_retained(mqtt_endpoint, topic)


async def _clear_retained(endpoint: MqttEndpoint, topic: str) -> None:
    async with aiomqtt.Client(
        endpoint.host, endpoint.port, username=endpoint.username, password=endpoint.password
    ) as client:
        await client.publish(topic, b"", qos=1, retain=True)
