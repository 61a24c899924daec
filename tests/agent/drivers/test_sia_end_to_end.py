"""A shop panel's burglary end to end: panel → SIA receiver → outbox → MQTT → hub → PostgreSQL.

The real Agent (its `sia` section starts the receiver) and the real Hub run against the
shared Mosquitto and a fresh PostgreSQL database; the panel is the simulator, over TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import TYPE_CHECKING, Any

import aiomqtt
import psycopg
import pytest

import wire
from agent.config import AgentConfig
from agent.runtime import Agent
from hub.config import HubConfig
from hub.runtime import Hub
from simulators.alarm_panel import AlarmPanel, cid

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from tests.harness import MqttEndpoint

pytestmark = pytest.mark.integration

SITE = "room-sia"
PANEL, GUARD, PANIC = "shop-12-panel", "shop-12-guard", "shop-12-panic"
DEADLINE_S = 10.0


def _mqtt(endpoint: MqttEndpoint, prefix: str, role: str) -> dict[str, Any]:
    return {
        "host": endpoint.host,
        "port": endpoint.port,
        "username": endpoint.username,
        "password": endpoint.password,
        "topic_prefix": prefix,
        "client_id": f"sia-e2e-{role}-{uuid.uuid4().hex[:12]}",
    }


def _agent_config(tmp_path: Path, mqtt: dict[str, Any]) -> AgentConfig:
    sia = {"id": "sia-receiver", "kind": "panel", "driver": "sia", "checkin_s": 3600}
    return AgentConfig.model_validate(
        {
            "site": SITE,
            "mqtt": mqtt,
            "outbox": {"path": str(tmp_path / "outbox.sqlite3")},
            "sia": {
                "host": "127.0.0.1",
                "port": 0,
                "state_path": str(tmp_path / "sia.sqlite3"),
                "unknown_device": "sia-receiver",
                "accounts": [{"account": "0A31", "device": PANEL, "zones": {1: GUARD, 3: PANIC}}],
            },
            "devices": [
                {"id": PANEL, "kind": "panel", "driver": "sia", "checkin_s": 3600},
                {"id": GUARD, "kind": "shop_guard", "driver": "sia", "checkin_s": 3600},
                {"id": PANIC, "kind": "panic_alarm", "driver": "sia", "checkin_s": 3600},
                sia,
            ],
        }
    )


@contextlib.asynccontextmanager
async def _watching(endpoint: MqttEndpoint, topic: str) -> AsyncIterator[asyncio.Queue[bytes]]:
    seen: asyncio.Queue[bytes] = asyncio.Queue()
    async with aiomqtt.Client(
        endpoint.host,
        endpoint.port,
        username=endpoint.username,
        password=endpoint.password,
        identifier=f"sia-e2e-watch-{uuid.uuid4().hex[:12]}",
    ) as client:
        await client.subscribe(topic, qos=1)

        async def read() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                seen.put_nowait(message.payload)

        reader = asyncio.create_task(read(), name="sia-e2e-watch")
        try:
            yield seen
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def _clear_retained(endpoint: MqttEndpoint, *topics: str) -> None:
    async with aiomqtt.Client(
        endpoint.host, endpoint.port, username=endpoint.username, password=endpoint.password
    ) as client:
        for topic in topics:
            await client.publish(topic, b"", qos=1, retain=True)


async def test_shop_burglary_reaches_mqtt_and_postgresql_once(
    tmp_path: Path, database: str, mqtt_endpoint: MqttEndpoint, topic_prefix: str
) -> None:
    """CID 1130 zone 1, sent twice (a retransmission): one v1 event on MQTT, one row in PG."""
    topics = wire.TopicSpace(topic_prefix)
    hub_config = HubConfig.model_validate(
        {
            "hub_id": "sia-e2e-hub",
            "database": {"url": database},
            "mqtt": _mqtt(mqtt_endpoint, topic_prefix, "hub"),
            "api": {"port": 0},
        }
    )
    agent_config = _agent_config(tmp_path, _mqtt(mqtt_endpoint, topic_prefix, "agent"))
    event_topic = topics.events(SITE, wire.Kind.SHOP_GUARD, GUARD)
    async with (
        _watching(mqtt_endpoint, event_topic) as seen,
        Hub(hub_config),
        Agent(agent_config) as agent,
    ):
        assert agent.sia is not None
        port = agent.sia.ports.tcp
        assert port is not None
        async with AlarmPanel("127.0.0.1", port, "0A31") as panel:
            frame = panel.frame(cid(1, 130, zone=1), seq=17)
            for _ in range(2):
                await panel.send_raw(frame)
                answer = await panel.answer()
                assert answer is not None
                assert (answer.token, answer.seq) == ("ACK", "0017")

        deadline = time.monotonic() + DEADLINE_S
        async with asyncio.timeout(DEADLINE_S):
            event = wire.decode_event(await seen.get())
        assert (event.v, event.site, event.device, event.kind, event.type) == (
            1,
            SITE,
            GUARD,
            wire.Kind.SHOP_GUARD,
            wire.EventType.ALARM_INTRUSION,
        )
        assert (event.source["driver"], event.source["account"], event.source["code"]) == (
            "sia",
            "0A31",
            "1130",
        )

        async with await psycopg.AsyncConnection.connect(database) as conn:
            row = None
            while time.monotonic() < deadline:
                cursor = await conn.execute(
                    "SELECT count(*), min(type), min(device) FROM events WHERE site = %s", (SITE,)
                )
                row = await cursor.fetchone()
                if row is not None and row[0] >= 1:
                    break
                await asyncio.sleep(0.05)
            assert row == (1, "alarm.intrusion", GUARD)
            cursor = await conn.execute("SELECT count(*) FROM events WHERE id = %s", (event.id,))
            assert await cursor.fetchone() == (1,)
        assert seen.empty()  # the retransmission made no second event
    await _clear_retained(
        mqtt_endpoint, topics.status(SITE), topics.inventory(SITE), topics.hub_status()
    )
