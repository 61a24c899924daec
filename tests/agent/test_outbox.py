"""The SQLite outbox: seq and epoch, durability across reopen, exact deletes, lane order."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

import wire
from agent import Draft, Outbox, OutboxError
from agent.outbox import SCHEMA_VERSION
from wire import EventType, Kind, Lane

if TYPE_CHECKING:
    from pathlib import Path

SITE = "room-07"


def draft(
    event_type: EventType = EventType.DOOR_OPENED,
    *,
    data: dict[str, object] | None = None,
    device_time: datetime | None = None,
) -> Draft:
    """A draft from the door of the tests, by the `test` driver."""
    return Draft(
        device="door-0042",
        kind=Kind.DOOR_LOCK,
        type=event_type,
        source={"driver": "test"},
        data={"n": 1} if data is None else data,
        device_time=device_time,
    )


def opened(path: Path, site: str = SITE, lock_timeout_s: float = 5.0) -> Outbox:
    """An outbox at `path` (to be entered)."""
    return Outbox(path / "outbox.sqlite3", site=site, lock_timeout_s=lock_timeout_s)


async def test_seq_starts_at_one_and_grows_by_one(tmp_path: Path) -> None:
    """Appends get seq 1, 2, 3 across lanes, the outbox's epoch, and fresh UUIDv7 ids."""
    async with opened(tmp_path) as outbox:
        events = [
            await outbox.append(draft(event_type))
            for event_type in (
                EventType.DOOR_OPENED,
                EventType.ALARM_PANIC,
                EventType.TEST_PERIODIC,
            )
        ]
    assert [event.seq for event in events] == [1, 2, 3]
    assert {event.epoch for event in events} == {outbox.epoch}
    assert len({event.id for event in events}) == 3
    assert all(event.id.version == 7 for event in events)
    assert all(event.site == SITE for event in events)


async def test_epoch_and_events_survive_reopening(tmp_path: Path) -> None:
    """Closing and reopening keeps the epoch, the events (byte for byte) and the seq."""
    async with opened(tmp_path) as outbox:
        first = await outbox.append(draft())
        epoch = outbox.epoch
        before = await outbox.pending()
    async with opened(tmp_path) as outbox:
        assert outbox.epoch == epoch
        assert outbox.last_seq == 1
        assert await outbox.pending() == before
        assert wire.decode_event(before[0].payload) == first
        second = await outbox.append(draft())
    assert second.seq == 2


async def test_a_new_database_is_a_new_epoch(tmp_path: Path) -> None:
    """Each outbox database gets its own epoch, made when it is created."""
    async with opened(tmp_path / "a") as one, opened(tmp_path / "b") as other:
        assert one.epoch != other.epoch


async def test_seqs_are_never_reused_after_deletes(tmp_path: Path) -> None:
    """Deleting every event does not rewind seq, not even across a reopen."""
    async with opened(tmp_path) as outbox:
        await outbox.append(draft())
        await outbox.append(draft())
        assert await outbox.delete(outbox.epoch, [(1, 2)]) == 2
    async with opened(tmp_path) as outbox:
        assert (await outbox.append(draft())).seq == 3


async def test_delete_removes_exactly_the_acked_seqs(tmp_path: Path) -> None:
    """An ack deletes exactly its (epoch, seq) and ignores seqs it does not hold."""
    async with opened(tmp_path) as outbox:
        for _ in range(6):
            await outbox.append(draft())
        assert await outbox.delete(outbox.epoch, [(2, 3), (5, 9)]) == 4
        assert [entry.seq for entry in await outbox.pending()] == [1, 4]
        assert await outbox.delete(outbox.epoch, [(2, 3), (100, 200)]) == 0
        assert [entry.seq for entry in await outbox.pending()] == [1, 4]


async def test_delete_ignores_other_epochs(tmp_path: Path) -> None:
    """An ack for another epoch (an older outbox) deletes nothing."""
    async with opened(tmp_path / "old") as old, opened(tmp_path) as outbox:
        await outbox.append(draft())
        assert await outbox.delete(old.epoch, [(1, 1)]) == 0
        assert len(await outbox.pending()) == 1


async def test_pending_is_in_lane_then_seq_order(tmp_path: Path) -> None:
    """P0 comes first, then P1, then P2; by seq within a lane; `after` and `limit` page."""
    order = [
        EventType.MOTION_STARTED,  # 1, P2
        EventType.DOOR_OPENED,  # 2, P1
        EventType.ALARM_PANIC,  # 3, P0
        EventType.DOOR_CLOSED,  # 4, P1
        EventType.DOOR_FORCED,  # 5, P0
    ]
    async with opened(tmp_path) as outbox:
        for event_type in order:
            await outbox.append(draft(event_type))
        pending = await outbox.pending()
        assert [(entry.lane, entry.seq) for entry in pending] == [
            (Lane.P0, 3),
            (Lane.P0, 5),
            (Lane.P1, 2),
            (Lane.P1, 4),
            (Lane.P2, 1),
        ]
        assert [entry.seq for entry in await outbox.pending(Lane.P1)] == [2, 4]
        assert [entry.seq for entry in await outbox.pending(Lane.P1, after=2)] == [4]
        assert [entry.seq for entry in await outbox.pending(limit=1)] == [3]
    assert all(entry.kind is Kind.DOOR_LOCK and entry.device == "door-0042" for entry in pending)


async def test_stats_count_depth_and_bytes_per_lane(tmp_path: Path) -> None:
    """The status's lanes: events waiting and their encoded size, per lane."""
    async with opened(tmp_path) as outbox:
        empty = outbox.stats()
        assert empty == wire.LaneSet(
            p0=wire.LaneStats(depth=0, bytes=0, shed=0),
            p1=wire.LaneStats(depth=0, bytes=0, shed=0),
            p2=wire.LaneStats(depth=0, bytes=0, shed=0),
        )
        await outbox.append(draft(EventType.ALARM_PANIC))
        await outbox.append(draft(EventType.ALARM_FIRE))
        await outbox.append(draft(EventType.DOOR_OPENED))
        pending = await outbox.pending()
        stats = outbox.stats()
    assert (stats.p0.depth, stats.p1.depth, stats.p2.depth) == (2, 1, 0)
    assert stats.p0.bytes == sum(len(entry.payload) for entry in pending[:2])
    assert stats.p1.bytes == len(pending[2].payload)


async def test_device_time_within_a_minute_is_kept(tmp_path: Path) -> None:
    """A device clock within ±60 s of the agent's gives `at`; source has no device_at."""
    device_time = datetime.now(UTC) - timedelta(seconds=30)
    async with opened(tmp_path) as outbox:
        event = await outbox.append(draft(device_time=device_time))
    assert event.at == wire.format_time(device_time)
    assert "device_at" not in event.source


async def test_device_time_far_off_is_kept_in_source(tmp_path: Path) -> None:
    """A device clock reset to 2000 gives way to the agent's; its time goes to source."""
    device_time = datetime(2000, 1, 1, 8, 0, tzinfo=UTC)
    before = datetime.now(UTC)
    async with opened(tmp_path) as outbox:
        event = await outbox.append(draft(device_time=device_time))
    after = datetime.now(UTC)
    assert before <= wire.parse_time(event.at) <= after
    assert event.source == {"driver": "test", "device_at": "2000-01-01T08:00:00.000000Z"}


async def test_an_event_the_hub_would_refuse_is_not_stored(tmp_path: Path) -> None:
    """A draft over the 64 KiB event limit raises a WireError; nothing stored, no seq used."""
    async with opened(tmp_path) as outbox:
        with pytest.raises(wire.PayloadTooLarge):
            await outbox.append(draft(data={"blob": "x" * 65_536}))
        assert await outbox.pending() == []
        assert (await outbox.append(draft())).seq == 1


async def test_wait_beyond_wakes_on_append(tmp_path: Path) -> None:
    """A waiter for seq > n wakes when event n+1 is appended, not before."""
    async with opened(tmp_path) as outbox:
        await outbox.append(draft())
        await outbox.wait_beyond(0)  # already true: returns at once
        waiter = asyncio.create_task(outbox.wait_beyond(1))
        await asyncio.sleep(0.01)
        assert not waiter.done()
        await outbox.append(draft())
        async with asyncio.timeout(2):
            await waiter


async def test_uses_wal_and_records_its_schema_version(tmp_path: Path) -> None:
    """The file is in WAL mode and carries the schema version in user_version."""
    async with opened(tmp_path):
        pass
    with sqlite3.connect(tmp_path / "outbox.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    db.close()


async def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    """An outbox written by a newer agent is refused, not misread."""
    async with opened(tmp_path):
        pass
    db = sqlite3.connect(tmp_path / "outbox.sqlite3")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(OutboxError, match=f"schema version {SCHEMA_VERSION + 1}"):
        async with opened(tmp_path):
            pass


async def test_refuses_another_sites_outbox(tmp_path: Path) -> None:
    """An outbox of another site is refused: its events would go out under the wrong site."""
    async with opened(tmp_path, site="room-07"):
        pass
    with pytest.raises(OutboxError, match="belongs to site 'room-07', not 'room-08'"):
        async with opened(tmp_path, site="room-08"):
            pass


async def test_a_write_that_cannot_get_the_lock_fails_and_stores_nothing(tmp_path: Path) -> None:
    """A write blocked by another process's lock fails with OutboxError; nothing stored."""
    async with opened(tmp_path, lock_timeout_s=0.05) as outbox:
        other = sqlite3.connect(tmp_path / "outbox.sqlite3", isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            with pytest.raises(OutboxError, match="cannot write"):
                await outbox.append(draft())
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert await outbox.pending() == []
        assert (await outbox.append(draft())).seq == 1


async def test_cannot_be_used_closed(tmp_path: Path) -> None:
    """Using an outbox that is not open is an OutboxError, not a crash in SQLite."""
    outbox = opened(tmp_path)
    with pytest.raises(OutboxError, match="not open"):
        await outbox.append(draft())
    with pytest.raises(OutboxError, match="not open"):
        _ = outbox.epoch
