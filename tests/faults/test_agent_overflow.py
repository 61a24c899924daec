"""An outbox full of P2 when 100 alarms arrive (the hub is away): every alarm is answered
201 and delivered, P2 is shed and counted, and the status says `degraded` promptly."""

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import httpx
import pytest

import wire
from tests.faults.agent_support import DEVICES, rows
from tests.faults.processes import AgentProcess, HubProcess, wait_for_ids
from tests.harness import MqttEndpoint

pytestmark = [pytest.mark.faults, pytest.mark.integration]

SITE = "overflow-site"
OUTBOX_BYTES = 256 * 1024  # the smallest outbox the config allows
P2_PUSHES = 1000  # ~400 bytes each: well past OUTBOX_BYTES
ALARMS = 100
DEGRADED_WITHIN_S = 10.0


def _shed(path: Path) -> tuple[int, int, int]:
    """The outbox file's shed counters (P0, P1, P2), read beside the running agent."""
    with contextlib.closing(sqlite3.connect(path, timeout=5)) as db:
        p0, p1, p2 = db.execute("SELECT shed_p0, shed_p1, shed_p2 FROM meta").fetchone()
        return int(p0), int(p1), int(p2)


@contextlib.asynccontextmanager
async def _statuses(
    endpoint: MqttEndpoint, prefix: str
) -> AsyncIterator[list[tuple[float, wire.AgentStatus]]]:
    """Every status of `SITE` the broker delivers, with its monotonic arrival time."""
    seen: list[tuple[float, wire.AgentStatus]] = []
    topic = wire.TopicSpace(prefix).status(SITE)
    async with aiomqtt.Client(
        endpoint.host,
        endpoint.port,
        username=endpoint.username,
        password=endpoint.password,
        identifier=f"watch-{prefix.strip('/').replace('/', '-')}",
    ) as client:
        await client.subscribe(topic, qos=1)

        async def watch() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                seen.append((time.monotonic(), wire.decode_status(message.payload)))

        task = asyncio.create_task(watch())
        try:
            yield seen
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _push(client: httpx.AsyncClient, device: str, type_: str) -> httpx.Response:
    return await client.post(
        f"/v1/devices/{device}/events",
        json={"type": type_},
        headers={"Authorization": f"Bearer token-{SITE}-{device}-0123456789"},
    )


@pytest.mark.timeout(120)
async def test_full_outbox_takes_every_alarm_sheds_p2_and_says_degraded(
    tmp_path: Path, database: str, mqtt_endpoint: MqttEndpoint, topic_prefix: str
) -> None:
    """P2 fills the outbox, then 100 alarms: all 201 and stored; P2 shed, degraded ≤ 10 s."""
    outbox = {"max_bytes": OUTBOX_BYTES, "p0_reserve_bytes": 0, "p2_max_bytes": OUTBOX_BYTES}
    agent = AgentProcess(
        tmp_path / "agent",
        site=SITE,
        devices=DEVICES,
        endpoint=mqtt_endpoint,
        prefix=topic_prefix,
        outbox=outbox,
    )
    hub = HubProcess(
        tmp_path / "hub", database_url=database, endpoint=mqtt_endpoint, prefix=topic_prefix
    )
    path = tmp_path / "agent" / "outbox.sqlite3"
    p2_answered: list[str] = []
    first_shed_at: float | None = None
    async with contextlib.AsyncExitStack() as stack:
        await asyncio.to_thread(agent.start)
        stack.callback(agent.stop)
        statuses = await stack.enter_async_context(_statuses(mqtt_endpoint, topic_prefix))
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{agent.port}", timeout=10)
        )
        for start in range(0, P2_PUSHES, 20):
            batch = await asyncio.gather(
                *(_push(client, "cam", "motion.started") for _ in range(start, start + 20))
            )
            assert {response.status_code for response in batch} == {201}
            p2_answered += [response.json()["id"] for response in batch]
            if first_shed_at is None and _shed(path)[2] > 0:
                first_shed_at = time.monotonic()
        assert first_shed_at is not None, "the outbox never filled"

        alarms = await asyncio.gather(
            *(_push(client, "panic", "alarm.panic") for _ in range(ALARMS))
        )
        assert [response.status_code for response in alarms] == [201] * ALARMS
        alarm_ids = {response.json()["id"] for response in alarms}

        deadline = first_shed_at + DEGRADED_WITHIN_S
        while not any(s.degraded and s.lanes.p2.shed > 0 for at, s in statuses if at <= deadline):
            assert time.monotonic() <= deadline, f"no degraded status: {statuses[-1:]}"
            await asyncio.sleep(0.05)

        await asyncio.to_thread(hub.start)  # the hub comes back: the backlog drains
        stack.callback(hub.stop)
        ids = await asyncio.to_thread(wait_for_ids, database, alarm_ids, within_s=60, site=SITE)
        assert alarm_ids <= set(ids)

        # Every P2 answered 201 is accounted for: delivered, or shed and counted.
        def p2_accounted() -> bool:
            delivered = {row.id for row in rows(database, SITE) if row.lane == 2}
            return len(delivered) + _shed(path)[2] == len(p2_answered)

        deadline = time.monotonic() + 60
        while not await asyncio.to_thread(p2_accounted):
            assert time.monotonic() <= deadline, "P2 neither delivered nor counted as shed"
            await asyncio.sleep(0.2)

    shed_p0, shed_p1, shed_p2 = _shed(path)
    assert (shed_p0, shed_p1) == (0, 0)
    assert shed_p2 > 0
    assert len(ids) == len(set(ids)), "an event was stored twice"
