"""The link's delivery rules against the real broker: resends, the unacked cap, the
in-flight window, and a prompt `degraded` status when the outbox sheds."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

import wire
from agent import Bounds, Draft, Link, Outbox
from tests.agent.support import DOOR, SITE, Watcher, eventually, make_config, mqtt_section, on
from wire import EventType, Kind, Presence

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from tests.agent.conftest import Space

pytestmark = pytest.mark.integration

UNBOUNDED = Bounds()  # the default bounds: nothing in these tests reaches them


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path,
    space: Space,
    *,
    delivery: dict[str, Any],
    bounds: Bounds = UNBOUNDED,
    protocol: str = "3.1.1",
    **top: Any,
) -> AsyncIterator[tuple[Outbox, Link]]:
    """An outbox with `bounds` and a link with the `delivery` section, to the test broker."""
    config = make_config(
        tmp_path,
        mqtt=mqtt_section(space.endpoint, space.prefix, protocol=protocol),
        delivery=delivery,
        **top,
    )
    async with (
        Outbox(config.outbox.path, site=SITE, bounds=bounds) as outbox,
        Link(config, outbox, version="9.9.9", started_at=datetime.now(UTC)) as link,
    ):
        yield outbox, link


def draft(event_type: EventType = EventType.DOOR_OPENED) -> Draft:
    """An event of the door."""
    return Draft(device=DOOR, kind=Kind.DOOR_LOCK, type=event_type, source={"driver": "test"})


def events_of(watcher: Watcher, space: Space) -> list[wire.Event]:
    """Every event the watcher has seen, decoded, in arrival order."""
    topic = space.topics.events(SITE, Kind.DOOR_LOCK, DOOR)
    return [wire.decode_event(seen.payload) for seen in watcher.matching(on(topic))]


async def ack(watcher: Watcher, space: Space, epoch: Any, *seqs: int) -> None:
    """Publish the hub's ack of `seqs`."""
    payload = wire.Ack(v=1, epoch=epoch, ranges=wire.ranges_from_seqs(seqs))
    await watcher.publish(space.ack, wire.encode(payload))


async def test_unacked_events_are_resent_until_acked(tmp_path: Path, space: Space) -> None:
    """No ack: the same event (id, at, epoch, seq) goes out again; an ack stops the resends."""
    delivery = {"resend_initial_s": 0.2, "resend_max_s": 0.4}
    async with (
        Watcher(space.endpoint, space.everything) as watcher,
        running(tmp_path, space, delivery=delivery) as (outbox, link),
    ):
        event = await outbox.append(draft())
        topic = space.topics.events(SITE, Kind.DOOR_LOCK, DOOR)
        await watcher.wait_for(on(topic), "the event and a resend", count=2)
        first, again = events_of(watcher, space)[:2]
        assert first == again == event  # byte-identical fields: id, at, epoch, seq
        await ack(watcher, space, outbox.epoch, event.seq)
        await eventually(lambda: _true(link.unacked == 0), "the ack taken")
        seen = len(events_of(watcher, space))
        await asyncio.sleep(1.0)  # several resend periods: nothing more may come
        assert len(events_of(watcher, space)) == seen
        assert link.resent >= 1


async def test_the_unacked_cap_holds_back_p1_but_not_p0(tmp_path: Path, space: Space) -> None:
    """At max_unacked nothing but P0 is published; acks free room and the rest follows."""
    delivery = {"max_unacked": 100, "resend_initial_s": 60}
    async with (
        Watcher(space.endpoint, space.everything) as watcher,
        running(tmp_path, space, delivery=delivery) as (outbox, link),
    ):
        stored = await asyncio.gather(*(outbox.append(draft()) for _ in range(150)))
        topic = space.topics.events(SITE, Kind.DOOR_LOCK, DOOR)
        await watcher.wait_for(on(topic), "the first 100", count=100)
        await asyncio.sleep(0.3)
        assert len(events_of(watcher, space)) == 100
        assert link.unacked == 100
        alarm = await outbox.append(draft(EventType.ALARM_PANIC))
        await watcher.wait_for(on(topic), "the alarm, past the cap", count=101)
        assert events_of(watcher, space)[-1].seq == alarm.seq
        await ack(watcher, space, outbox.epoch, *(event.seq for event in stored[:100]))
        await watcher.wait_for(on(topic), "the other 50", count=151)
        assert {event.seq for event in events_of(watcher, space)} == {
            *(event.seq for event in stored),
            alarm.seq,
        }


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_publishes_in_flight_never_exceed_the_window(
    tmp_path: Path, space: Space, protocol: str
) -> None:
    """With 500 events to send, at most max_inflight publishes await a PUBACK at once."""
    async with (
        Watcher(space.endpoint, space.everything) as watcher,
        running(tmp_path, space, delivery={"max_inflight": 7}, protocol=protocol) as (outbox, link),
    ):
        await asyncio.gather(*(outbox.append(draft()) for _ in range(500)))
        topic = space.topics.events(SITE, Kind.DOOR_LOCK, DOOR)
        await watcher.wait_for(on(topic), "all 500", count=500)
        assert 1 <= link.peak_inflight <= 7


async def test_shedding_makes_the_status_degraded_promptly(tmp_path: Path, space: Space) -> None:
    """A shed shows in the status (degraded, shed count) within seconds, not at the renewal."""
    delivery = {"degraded_hold_s": 2}
    async with (
        Watcher(space.endpoint, space.status) as watcher,
        running(
            tmp_path, space, delivery=delivery, bounds=Bounds(p2_max_rows=1), status_interval_s=3600
        ) as (outbox, _),
    ):
        await watcher.wait_for(lambda seen: bool(seen.payload), "online")
        for _ in range(3):
            await outbox.append(draft(EventType.MOTION_STARTED))
        [degraded] = await watcher.wait_for(_degraded(value=True), "degraded", count=1)
        status = wire.decode_status(degraded.payload)
        assert (status.lanes.p2.shed, status.lanes.p2.depth) == (2, 1)
        await watcher.wait_for(_degraded(value=False, after_shed=True), "degraded again false")


def _degraded(*, value: bool, after_shed: bool = False) -> Any:
    """Matches an online status whose `degraded` is `value` (and that counts a shed)."""

    def check(seen: Any) -> bool:
        if not seen.payload:
            return False
        status = wire.decode_status(seen.payload)
        shed_seen = status.lanes.p2.shed > 0 or not after_shed
        return status.state is Presence.ONLINE and status.degraded is value and shed_seen

    return check


async def _true(value: bool) -> bool:
    """`value`, as the awaitable `eventually` polls."""
    return value
