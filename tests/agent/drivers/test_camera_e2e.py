"""End to end: a walker on the simulated camera's MJPEG stream reaches MQTT through the real
agent and a real hub stores the motion events and the snapshot, served by the API; a stream
that stops is `device.offline`. Also the hub's side of snapshots on its own."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import psycopg
import pytest

import wire
from agent import Agent
from agent.config import AgentConfig
from hub.config import HubConfig
from hub.inbound import DeadLetter, Snapshot, classify
from hub.runtime import Hub, migrate_database
from hub.storage.snapshots import delete_expired_snapshots, insert_snapshots, read_snapshot
from simulators.camera import MjpegCamera, Scene, Walker
from tests.agent.support import Watcher, clear_retained, mqtt_section
from tests.hub.api.support import token
from wire import EventType, Kind

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.agent.conftest import Space
    from tests.agent.support import Seen

pytestmark = pytest.mark.integration

SITE = "room-07"
CAMERA = "cam-01"
DEADLINE_S = 15.0
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def test_hub_classifies_snapshots_and_dead_letters_bad_ones() -> None:
    """A JPEG on a snapshot topic is a Snapshot; non-JPEG or oversized bytes are dead letters."""
    space = wire.TopicSpace()
    event_id = uuid.uuid4()
    topic = space.snapshot(SITE, Kind.CAMERA, CAMERA, event_id)
    found = classify(space, topic, JPEG)
    assert found == Snapshot(SITE, "camera", CAMERA, event_id, JPEG)
    bad = classify(space, topic, b"GIF89a....")
    assert isinstance(bad, DeadLetter)
    assert "not a JPEG" in bad.reason
    big = classify(space, topic, JPEG + b"\x00" * (256 * 1024))
    assert isinstance(big, DeadLetter)
    assert big.error == "PayloadTooLarge"
    assert len(big.payload) == 256 * 1024


async def test_hub_keeps_the_first_snapshot_and_retention_deletes_old_ones(database: str) -> None:
    """Repeats of an event's snapshot are ignored; retention deletes by received_at, in batches."""
    await migrate_database(database, wait=False)
    first, other = uuid.uuid4(), uuid.uuid4()
    again = JPEG + b"\x01"
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        async with conn.cursor() as cur:
            await insert_snapshots(
                cur,
                [
                    Snapshot(SITE, "camera", CAMERA, first, JPEG),
                    Snapshot(SITE, "camera", CAMERA, first, again),
                    Snapshot(SITE, "camera", CAMERA, other, JPEG),
                ],
            )
            await insert_snapshots(cur, [Snapshot(SITE, "camera", CAMERA, first, again)])
        assert await read_snapshot(conn, first, None) == JPEG
        assert await read_snapshot(conn, first, ["room-99"]) is None
        await conn.execute(
            "UPDATE snapshots SET received_at = now() - interval '40 days' WHERE event_id = %s",
            [other],
        )
        cutoff = datetime.now(UTC) - timedelta(days=30)
        assert await delete_expired_snapshots(conn, before=cutoff, batch=1) == 1
        assert await read_snapshot(conn, other, None) is None
        assert await read_snapshot(conn, first, None) == JPEG


async def rows(
    database: str, query: str, *args: object, count: int = 1
) -> list[tuple[object, ...]]:
    """The rows of `query` once there are `count` (or the deadline passed)."""
    deadline = time.monotonic() + DEADLINE_S
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        while True:
            found = await (await conn.execute(query, list(args))).fetchall()
            if len(found) >= count or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.1)


def camera_config(tmp_path: Path, space: Space, url: str) -> AgentConfig:
    """An agent with one camera on `url`, tuned for a short test."""
    return AgentConfig.model_validate(
        {
            "site": SITE,
            "mqtt": mqtt_section(space.endpoint, space.prefix),
            "outbox": {"path": str(tmp_path / "outbox.sqlite3")},
            "canary": {"enabled": False},
            "camera": {
                "cameras": [
                    {
                        "device": CAMERA,
                        "url": url,
                        "off_delay_s": 2.0,
                        "offline_after_s": 2.0,
                        "tamper": False,
                    }
                ]
            },
            "devices": [{"id": CAMERA, "kind": "camera", "driver": "camera", "checkin_s": 60}],
        }
    )


async def test_walker_reaches_postgres_and_the_api_with_its_snapshot(
    tmp_path: Path, space: Space, database: str
) -> None:
    """Walker → agent → MQTT motion.started/stopped + snapshot → hub rows + JPEG via the API;
    the stream stalls → device.offline."""
    hub_config = HubConfig.model_validate(
        {
            "hub_id": "camera-e2e-hub",
            "database": {"url": database},
            "mqtt": {
                "host": space.endpoint.host,
                "port": space.endpoint.port,
                "topic_prefix": space.prefix,
                "client_id": f"camera-e2e-hub-{uuid.uuid4().hex[:8]}",
            },
            "api": {"port": 0},
        }
    )
    # Quick enough that the stop (2 s after the walker leaves) comes within the watcher's 5 s.
    walker = Walker(1.0, 3.0, -0.05, 1.05, 0.9, 0.4, (30, 30, 30))
    scene = Scene("e2e", "walkers", 11, 12.0, walkers=(walker,))
    events_topic = space.topics.events(SITE, Kind.CAMERA, CAMERA)
    try:
        async with (
            MjpegCamera(scene, size=(640, 360), loop=False) as sim,
            Hub(hub_config) as hub,
            Watcher(space.endpoint, space.everything) as watcher,
            Agent(camera_config(tmp_path, space, sim.url)),
        ):

            def of(kind: EventType) -> Callable[[Seen], bool]:
                return lambda seen: seen.topic == events_topic and kind.encode() in seen.payload

            [started_seen] = await watcher.wait_for(of(EventType.MOTION_STARTED), "started")
            started = wire.decode_event(started_seen.payload)
            snapshot_topic = space.topics.snapshot(SITE, Kind.CAMERA, CAMERA, started.id)
            [jpeg_seen] = await watcher.wait_for(lambda s: s.topic == snapshot_topic, "jpeg")
            assert jpeg_seen.payload.startswith(b"\xff\xd8\xff")
            await watcher.wait_for(of(EventType.MOTION_STOPPED), "stopped")
            stored = await rows(
                database,
                "SELECT type FROM events WHERE device = %s AND type LIKE 'motion.%%' ORDER BY at",
                CAMERA,
                count=2,
            )
            assert [row[0] for row in stored][:2] == ["motion.started", "motion.stopped"]
            await rows(database, "SELECT 1 FROM snapshots WHERE event_id = %s", started.id)
            bearer = await token(database)
            base = f"http://127.0.0.1:{hub.api_port}"
            async with httpx.AsyncClient(base_url=base) as http:
                headers = {"Authorization": f"Bearer {bearer}"}
                answer = await http.get(f"/api/v1/events/{started.id}/snapshot", headers=headers)
                assert answer.status_code == 200
                assert answer.headers["content-type"] == "image/jpeg"
                assert answer.content == jpeg_seen.payload
                other = await token(database, sites=["room-99"])
                hidden = await http.get(
                    f"/api/v1/events/{started.id}/snapshot",
                    headers={"Authorization": f"Bearer {other}"},
                )
                assert hidden.status_code == 404
            sim.freeze()
            await watcher.wait_for(of(EventType.DEVICE_OFFLINE), "offline")
            offline = await rows(
                database,
                "SELECT data->>'reason' FROM events WHERE device = %s AND type = 'device.offline'",
                CAMERA,
            )
            assert offline
    finally:
        await clear_retained(space.endpoint, space.topics.hub_status())
