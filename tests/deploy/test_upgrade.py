"""Upgrades keep data: an outbox written by the previous agent (schema version 1) is
migrated by the installed agent at start, and its events are delivered and acked."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
import yaml

import wire
from agent.outbox import SCHEMA_VERSION
from tests.agent.support import Watcher, clear_retained, mqtt_section
from tests.agent.test_outbox_lanes import VERSION_1
from tests.deploy.conftest import offline_env
from wire import EventType, Kind

if TYPE_CHECKING:
    from pathlib import Path

    from tests.deploy.conftest import Installed
    from tests.harness import MqttEndpoint

pytestmark = pytest.mark.integration

SITE = "room-07"
DELIVERED_WITHIN_S = 30.0


def old_event(epoch: uuid.UUID, seq: int, device: str, kind: Kind, type_: EventType) -> wire.Event:
    """An event as the previous agent stored it (the envelope is wire v1 in both)."""
    return wire.Event(
        v=1,
        id=wire.new_event_id(),
        site=SITE,
        device=device,
        kind=kind,
        type=type_,
        at=wire.format_time(datetime.now(UTC)),
        epoch=epoch,
        seq=seq,
        source={"driver": "http", "remote": "10.7.3.9"},
        data={},
    )


def version_1_outbox(path: Path, epoch: uuid.UUID, events: list[wire.Event]) -> None:
    """An outbox file exactly as the version-1 agent left it, holding `events`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    for statement in VERSION_1:
        db.execute(statement)
    last = max(event.seq for event in events)
    db.execute("INSERT INTO meta VALUES (1, ?, ?, ?, ?)", (str(epoch), SITE, last, "2026-01-01"))
    for event in events:
        db.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
            (
                event.seq,
                int(event.lane),
                event.kind.value,
                event.device,
                str(event.id),
                wire.encode(event),
            ),
        )
    db.execute("PRAGMA user_version = 1")
    db.close()


async def test_events_of_the_previous_version_are_delivered_after_an_upgrade(
    installed: Installed, mqtt_endpoint: MqttEndpoint, topic_prefix: str, tmp_path: Path
) -> None:
    """The installed agent opens a version-1 outbox, migrates it, publishes its events
    (P0 first), deletes them on the hub's ack, and continues their epoch's seqs."""
    epoch = uuid.uuid4()
    panic = old_event(epoch, 41, "panic-1", Kind.PANIC_ALARM, EventType.ALARM_PANIC)
    door = old_event(epoch, 40, "lock-1", Kind.DOOR_LOCK, EventType.DOOR_OPENED)
    outbox = installed.data / "upgrade" / "outbox.sqlite3"
    version_1_outbox(outbox, epoch, [door, panic])
    config = tmp_path / "agent.yaml"
    devices = [
        {"id": "lock-1", "kind": "door_lock", "driver": "http", "checkin_s": 60,
         "token": "lock-token-0123456789"},
        {"id": "panic-1", "kind": "panic_alarm", "driver": "http", "checkin_s": 60,
         "token": "panic-token-0123456789"},
    ]  # fmt: skip
    data = {
        "site": SITE,
        "mqtt": mqtt_section(mqtt_endpoint, topic_prefix),
        "outbox": {"path": str(outbox)},
        "http": {"port": 0},
        "canary": {"enabled": False},
        "devices": devices,
    }
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    config.chmod(0o600)
    topics = wire.TopicSpace(topic_prefix)
    events = topics.events(SITE, Kind.PANIC_ALARM, "x").rsplit("/", 2)[0] + "/#"
    async with Watcher(mqtt_endpoint, events) as w:
        process = await asyncio.create_subprocess_exec(
            str(installed.binary), "run", "--config", str(config), env=offline_env(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + DELIVERED_WITHIN_S
            while len(w.seen) < 2:
                assert time.monotonic() < deadline, "the old events were not published"
                await asyncio.sleep(0.1)
            published = [wire.decode_event(seen.payload) for seen in w.seen[:2]]
            assert [e.id for e in published] == [panic.id, door.id]  # P0 first
            ack = wire.Ack(v=1, epoch=epoch, ranges=((40, 41),))
            await w.publish(topics.ack(SITE), wire.encode(ack))
            while pending(outbox):
                assert time.monotonic() < deadline, "the acked events stayed in the outbox"
                await asyncio.sleep(0.1)
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(20):
                _, stderr = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.communicate()
    await clear_retained(mqtt_endpoint, topics.status(SITE), topics.inventory(SITE))
    assert process.returncode == 0, stderr.decode()
    with sqlite3.connect(outbox) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("SELECT epoch, last_seq FROM meta").fetchone() == (str(epoch), 41)
    db.close()


def pending(path: Path) -> int:
    """Events still in the outbox at `path` (read beside the running agent: WAL)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (count,) = db.execute("SELECT count(*) FROM events").fetchone()
    finally:
        db.close()
    return int(count)
