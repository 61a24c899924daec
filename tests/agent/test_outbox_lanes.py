"""The outbox's lanes: bounds and shedding, shed counters, group commit, schema migration."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from typing import TYPE_CHECKING

import pytest

from agent import Bounds, Draft, EventShed, Outbox
from agent.outbox import SCHEMA_VERSION
from wire import EventType, Kind, Lane

if TYPE_CHECKING:
    from pathlib import Path

SITE = "room-07"
P0, P1, P2 = EventType.ALARM_PANIC, EventType.DOOR_OPENED, EventType.MOTION_STARTED
KIB = 1024

UNBOUNDED = Bounds()  # the default bounds: nothing in these tests reaches them


def draft(event_type: EventType) -> Draft:
    """A draft of `event_type` from the door of the tests (about 300 bytes encoded)."""
    return Draft(
        device="door-0042", kind=Kind.DOOR_LOCK, type=event_type, source={"driver": "test"}
    )


def outbox_at(tmp_path: Path, bounds: Bounds = UNBOUNDED) -> Outbox:
    """An outbox in `tmp_path` with `bounds` (to be entered)."""
    return Outbox(tmp_path / "outbox.sqlite3", site=SITE, bounds=bounds)


async def lanes_of(outbox: Outbox) -> dict[Lane, list[int]]:
    """The seqs held per lane."""
    return {lane: [entry.seq for entry in await outbox.pending(lane)] for lane in Lane}


async def test_a_full_p2_lane_sheds_its_oldest(tmp_path: Path) -> None:
    """Past p2_max_rows the oldest P2 events are shed (and counted); the new one is stored."""
    async with outbox_at(tmp_path, Bounds(p2_max_rows=3)) as outbox:
        for _ in range(5):
            await outbox.append(draft(P2))
        assert (await lanes_of(outbox))[Lane.P2] == [3, 4, 5]
        stats = outbox.stats()
    assert (stats.p2.depth, stats.p2.shed, stats.p1.shed, stats.p0.shed) == (3, 2, 0, 0)
    assert outbox.last_shed_at is not None


async def test_shared_space_sheds_p2_first_then_p1(tmp_path: Path) -> None:
    """When P1 and P2 fill their shared space, a new P1 sheds the oldest P2, then the oldest P1."""
    async with outbox_at(tmp_path) as probe:
        await probe.append(draft(P1))
        size = len((await probe.pending())[0].payload)
    shared = 4 * size + size // 2  # room for four events of either lane
    bounds = Bounds(max_bytes=256 * KIB, p0_reserve_bytes=256 * KIB - shared)
    async with outbox_at(tmp_path / "b", bounds) as outbox:
        for event_type in (P1, P2, P1, P2):  # seqs 1-4: full
            await outbox.append(draft(event_type))
        await outbox.append(draft(P1))  # 5: sheds P2 seq 2
        assert await lanes_of(outbox) == {Lane.P0: [], Lane.P1: [1, 3, 5], Lane.P2: [4]}
        await outbox.append(draft(P1))  # 6: sheds P2 seq 4
        await outbox.append(draft(P1))  # 7: no P2 left: sheds P1 seq 1
        assert await lanes_of(outbox) == {Lane.P0: [], Lane.P1: [3, 5, 6, 7], Lane.P2: []}
        stats = outbox.stats()
    assert (stats.p0.shed, stats.p1.shed, stats.p2.shed) == (0, 1, 2)


async def test_a_p2_event_never_evicts_p1_it_is_shed_itself(tmp_path: Path) -> None:
    """With the shared space all P1, an incoming P2 is shed (EventShed, counted); P1 stays."""
    async with outbox_at(tmp_path) as probe:
        await probe.append(draft(P1))
        size = len((await probe.pending())[0].payload)
    shared = 2 * size + size // 2
    bounds = Bounds(max_bytes=256 * KIB, p0_reserve_bytes=256 * KIB - shared)
    async with outbox_at(tmp_path / "b", bounds) as outbox:
        await outbox.append(draft(P1))
        await outbox.append(draft(P1))
        with pytest.raises(EventShed, match="p2 event"):
            await outbox.append(draft(P2))
        assert await lanes_of(outbox) == {Lane.P0: [], Lane.P1: [1, 2], Lane.P2: []}
        assert outbox.stats().p2.shed == 1
        assert (await outbox.append(draft(P0))).seq == 3  # a shed event used no seq


async def test_p0_is_never_shed_even_when_everything_is_full(tmp_path: Path) -> None:
    """1,100 P0 events into a full outbox are all stored: P2, P1 give way, P0 goes beyond."""
    bounds = Bounds(max_bytes=256 * KIB, p0_reserve_bytes=0, p1_max_rows=400, p2_max_rows=400)
    async with outbox_at(tmp_path, bounds) as outbox:
        await asyncio.gather(*(outbox.append(draft(P1)) for _ in range(400)))
        await asyncio.gather(*(outbox.append(draft(P2)) for _ in range(400)))
        events = await asyncio.gather(*(outbox.append(draft(P0)) for _ in range(1100)))
        stats = outbox.stats()
        held = await lanes_of(outbox)
    assert len(events) == 1100
    assert held[Lane.P0] == [event.seq for event in events]
    assert stats.p0 == type(stats.p0)(depth=1100, bytes=stats.p0.bytes, shed=0)
    assert stats.p0.bytes > bounds.max_bytes  # beyond the total: P0 is never refused
    assert (stats.p1.depth, stats.p2.depth) == (0, 0)
    assert (stats.p1.shed, stats.p2.shed) == (400, 400)


async def test_shed_counters_survive_a_restart(tmp_path: Path) -> None:
    """Shed counts and the time of the last shed are in the file, not only in memory."""
    async with outbox_at(tmp_path, Bounds(p2_max_rows=1)) as outbox:
        for _ in range(4):
            await outbox.append(draft(P2))
        shed_at = outbox.last_shed_at
    async with outbox_at(tmp_path) as outbox:
        stats = outbox.stats()
        assert (stats.p2.depth, stats.p2.shed) == (1, 3)
        assert outbox.last_shed_at == shed_at


async def test_stats_follow_acks_without_counting_rows(tmp_path: Path) -> None:
    """Depth and bytes kept in memory match the rows after appends, sheds and deletes."""
    async with outbox_at(tmp_path, Bounds(p2_max_rows=2)) as outbox:
        for event_type in (P0, P1, P2, P2, P2, P1):
            await outbox.append(draft(event_type))
        await outbox.delete(outbox.epoch, [(1, 2)])
        stats = outbox.stats()
        pending = await outbox.pending()
    for lane, lane_stats in zip(Lane, (stats.p0, stats.p1, stats.p2), strict=True):
        rows = [entry for entry in pending if entry.lane is lane]
        assert lane_stats.depth == len(rows)
        assert lane_stats.bytes == sum(len(entry.payload) for entry in rows)


async def test_concurrent_appends_share_transactions(tmp_path: Path) -> None:
    """N concurrent appends: N rows, seqs 1..N each once, in fewer transactions than N."""
    async with outbox_at(tmp_path) as outbox:
        events = await asyncio.gather(*(outbox.append(draft(P1)) for _ in range(500)))
        pending = await outbox.pending()
    assert sorted(event.seq for event in events) == list(range(1, 501))
    assert [entry.seq for entry in pending] == list(range(1, 501))
    assert len({event.id for event in events}) == 500
    assert outbox.last_seq == 500
    assert outbox.append_transactions < 500


async def test_one_bad_draft_does_not_fail_its_batch(tmp_path: Path) -> None:
    """An oversized draft among concurrent appends fails alone; the others are stored."""
    too_big = Draft(
        device="door-0042",
        kind=Kind.DOOR_LOCK,
        type=P1,
        source={"driver": "test"},
        data={"blob": "x" * 65_536},
    )
    async with outbox_at(tmp_path) as outbox:
        results = await asyncio.gather(
            outbox.append(draft(P1)),
            outbox.append(too_big),
            outbox.append(draft(P1)),
            return_exceptions=True,
        )
        assert [entry.seq for entry in await outbox.pending()] == [1, 2]
    assert isinstance(results[1], ValueError)


# Version 1's schema exactly as the agent before this change created it.
VERSION_1 = (
    """CREATE TABLE meta (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        epoch TEXT NOT NULL,
        site TEXT NOT NULL,
        last_seq INTEGER NOT NULL CHECK (last_seq >= 0),
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY CHECK (seq >= 1),
        lane INTEGER NOT NULL,
        kind TEXT NOT NULL,
        device TEXT NOT NULL,
        id TEXT NOT NULL,
        payload BLOB NOT NULL
    )""",
    "CREATE INDEX events_by_lane ON events (lane, seq)",
)


async def test_a_version_1_file_is_migrated_with_its_events(tmp_path: Path) -> None:
    """A file made by the version-1 agent opens: migrated to the new version, rows and seq kept."""
    path = tmp_path / "outbox.sqlite3"
    epoch = uuid.uuid4()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    for statement in VERSION_1:
        db.execute(statement)
    db.execute(
        "INSERT INTO meta VALUES (1, ?, ?, 7, ?)", (str(epoch), SITE, "2025-03-01T00:00:00.000000Z")
    )
    db.execute(
        "INSERT INTO events VALUES (7, 1, 'door_lock', 'door-0042', ?, ?)",
        (str(uuid.uuid4()), b'{"v":1}'),
    )
    db.execute("PRAGMA user_version = 1")
    db.close()
    async with Outbox(path, site=SITE) as outbox:
        assert outbox.epoch == epoch
        assert [(entry.seq, entry.payload) for entry in await outbox.pending()] == [(7, b'{"v":1}')]
        assert outbox.stats().p1.depth == 1
        assert outbox.stats().p1.shed == 0
        assert (await outbox.append(draft(P2))).seq == 8
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert check.execute("SELECT shed_p0, shed_p1, shed_p2 FROM meta").fetchone() == (0, 0, 0)
    check.close()
