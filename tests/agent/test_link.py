"""The MQTT link against the real broker: status and LWT, inventory, events, acks, reconnects.

Each test has a topic prefix of its own on the shared broker and watches it with a plain
aiomqtt client; the faults tests put the fault proxy between the link and the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

import wire
from agent import AgentConfig, Draft, Link, Outbox, OutboxError
from tests.agent.support import (
    DOOR,
    PANIC,
    SITE,
    Watcher,
    eventually,
    make_config,
    mqtt_section,
    on,
    status_is,
)
from wire import DriverState, EventType, Kind, Presence

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Mapping
    from pathlib import Path

    from tests.agent.conftest import Space
    from tests.harness import FaultProxyFactory

pytestmark = pytest.mark.integration

PROTOCOLS = [pytest.param("3.1.1", id="mqtt-3.1.1"), pytest.param("5", id="mqtt-5")]


@dataclass(frozen=True, slots=True)
class Linked:
    """A running link, its outbox and its config."""

    config: AgentConfig
    outbox: Outbox
    link: Link

    async def append(self, event_type: EventType = EventType.DOOR_OPENED) -> wire.Event:
        """Store an event of the door, as a driver would."""
        draft = Draft(device=DOOR, kind=Kind.DOOR_LOCK, type=event_type, source={"driver": "test"})
        return await self.outbox.append(draft)

    async def drained(self) -> bool:
        """Whether the outbox is empty."""
        return not await self.outbox.pending()


@contextlib.asynccontextmanager
async def linked(
    tmp_path: Path,
    space: Space,
    *,
    protocol: str = "3.1.1",
    through: tuple[str, int] | None = None,
    mqtt: Mapping[str, Any] | None = None,
    drivers: Callable[[], Mapping[str, wire.DriverHealth]] = dict,
    **top: Any,
) -> AsyncIterator[Linked]:
    """A link for `SITE` to the test broker (or `through` a proxy), with its outbox."""
    section = mqtt_section(space.endpoint, space.prefix, protocol=protocol, **(mqtt or {}))
    if through is not None:
        section["host"], section["port"] = through
    config = make_config(tmp_path, mqtt=section, **top)
    started = datetime.now(UTC)
    async with (
        Outbox(config.outbox.path, site=config.site) as outbox,
        Link(config, outbox, version="9.9.9", started_at=started, drivers=drivers) as link,
    ):
        yield Linked(config, outbox, link)


def event_topic(space: Space, kind: Kind = Kind.DOOR_LOCK, device: str = DOOR) -> str:
    """Where the door's events go."""
    return space.topics.events(SITE, kind, device)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_status_inventory_events_and_acks(
    tmp_path: Path, space: Space, protocol: str
) -> None:
    """Online status and inventory on connect, events as appended, acks delete, offline at exit."""
    async with Watcher(space.endpoint, space.everything) as watcher:
        async with linked(tmp_path, space, protocol=protocol) as rig:
            [online] = await watcher.wait_for(status_is(space.status, Presence.ONLINE), "online")
            status = wire.decode_status(online.payload)
            assert (status.site, status.version, status.epoch) == (SITE, "9.9.9", rig.outbox.epoch)
            assert status.degraded is False
            [seen] = await watcher.wait_for(on(space.inventory), "inventory")
            inventory = wire.decode_inventory(seen.payload)
            assert [(d.id, d.kind, d.checkin_s, d.label) for d in inventory.devices] == [
                (DOOR, Kind.DOOR_LOCK, 300, "Block 3 entrance"),
                (PANIC, Kind.PANIC_ALARM, 3600, None),
            ]

            event = await rig.append()
            [published] = await watcher.wait_for(on(event_topic(space)), "the event")
            assert wire.decode_event(published.payload) == event
            assert not published.retain

            ack = wire.Ack(v=1, epoch=event.epoch, ranges=((event.seq, event.seq),))
            await watcher.publish(space.ack, wire.encode(ack))
            await eventually(rig.drained, "the acked event deleted")
        await watcher.wait_for(status_is(space.status, Presence.OFFLINE, "shutdown"), "offline")


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_the_link_connects_with_nagle_off(
    tmp_path: Path, space: Space, protocol: str
) -> None:
    """TCP_NODELAY: with a full window, a small PUBLISH must not wait for a delayed TCP ACK."""
    section = mqtt_section(space.endpoint, space.prefix, protocol=protocol)
    config = make_config(tmp_path, mqtt=section)
    async with Outbox(config.outbox.path, site=config.site) as outbox:
        link = Link(config, outbox, version="9.9.9", started_at=datetime.now(UTC))
        client = link._client(b"offline")
        async with client:
            sock = client._client.socket()
            assert isinstance(sock, socket.socket)
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_status_and_inventory_are_retained(
    tmp_path: Path, space: Space, protocol: str
) -> None:
    """A subscriber that comes later still gets the status and inventory (retained)."""
    async with linked(tmp_path, space, protocol=protocol):
        async with Watcher(space.endpoint, space.everything) as early:
            await early.wait_for(on(space.inventory), "inventory")
        async with Watcher(space.endpoint, space.everything) as late:
            [status] = await late.wait_for(status_is(space.status, Presence.ONLINE), "status")
            [inventory] = await late.wait_for(on(space.inventory), "inventory")
            assert status.retain
            assert inventory.retain
    async with Watcher(space.endpoint, space.status) as after:
        [status] = await after.wait_for(on(space.status), "the status left behind")
        assert status.retain
        assert wire.decode_status(status.payload).reason == "shutdown"


async def test_pending_events_go_out_p0_first_on_connect(tmp_path: Path, space: Space) -> None:
    """Events stored while offline are published on connect: P0, then P1, then P2."""
    config = make_config(tmp_path)
    async with Outbox(config.outbox.path, site=SITE) as outbox:
        for event_type in (EventType.MOTION_STARTED, EventType.DOOR_OPENED, EventType.ALARM_PANIC):
            draft = Draft(device=DOOR, kind=Kind.DOOR_LOCK, type=event_type, source={"driver": "t"})
            await outbox.append(draft)
    async with Watcher(space.endpoint, space.everything) as watcher, linked(tmp_path, space):
        found = await watcher.wait_for(on(event_topic(space)), "three events", count=3)
        assert [wire.decode_event(seen.payload).seq for seen in found] == [3, 2, 1]


async def test_bad_acks_are_ignored(tmp_path: Path, space: Space) -> None:
    """Garbage, invalid acks and acks of another epoch are ignored; the link stays up."""
    async with Watcher(space.endpoint, space.everything) as watcher, linked(tmp_path, space) as rig:
        event = await rig.append()
        await watcher.wait_for(on(event_topic(space)), "the event")
        other_epoch = wire.Ack(v=1, epoch=wire.new_event_id(), ranges=((1, 1),))
        for payload in (
            b"\xff\xfe not json",
            b"[]",
            json.dumps({"v": 1, "epoch": str(event.epoch), "ranges": [[2, 1]]}).encode(),
            json.dumps({"v": 1, "epoch": str(event.epoch), "ranges": [[1, 1]], "x": 1}).encode(),
            wire.encode(other_epoch),
        ):
            await watcher.publish(space.ack, payload)
        await asyncio.sleep(0.2)  # nothing to wait for: the point is that nothing happens
        assert [entry.seq for entry in await rig.outbox.pending()] == [event.seq]
        good = wire.Ack(v=1, epoch=event.epoch, ranges=((event.seq, event.seq),))
        await watcher.publish(space.ack, wire.encode(good))
        await eventually(rig.drained, "the acked event deleted")
        assert rig.link.connections == 1


async def test_status_is_renewed_and_reports_lanes(tmp_path: Path, space: Space) -> None:
    """The status is republished every status_interval_s with the current lane depths."""
    async with (
        Watcher(space.endpoint, space.status) as watcher,
        linked(tmp_path, space, status_interval_s=1) as rig,
    ):
        await watcher.wait_for(status_is(space.status, Presence.ONLINE), "online")
        await rig.append(EventType.ALARM_PANIC)
        found = await watcher.wait_for(
            status_is(space.status, Presence.ONLINE), "a renewed status", count=2
        )
    first, second = (wire.decode_status(seen.payload) for seen in found[:2])
    assert second.clock > first.clock
    assert second.started_at == first.started_at
    assert (second.lanes.p0.depth, second.lanes.p1.depth) == (1, 0)


async def test_driver_trouble_makes_the_status_degraded(tmp_path: Path, space: Space) -> None:
    """A driver that is not ok shows in `drivers` and sets `degraded`."""
    down = wire.DriverHealth(state=DriverState.DOWN, detail="port taken")
    async with (
        Watcher(space.endpoint, space.status) as watcher,
        linked(tmp_path, space, drivers=lambda: {"http": down}),
    ):
        [seen] = await watcher.wait_for(status_is(space.status, Presence.ONLINE), "online")
    status = wire.decode_status(seen.payload)
    assert status.degraded is True
    assert status.drivers == {"http": down}


@pytest.mark.faults
async def test_lost_link_leaves_the_lwt_and_reconnect_resends(
    tmp_path: Path, space: Space, fault_proxy: FaultProxyFactory
) -> None:
    """Cut the link: the broker retains the LWT (offline); once back, unacked events go again."""
    proxy = fault_proxy(space.endpoint.host, space.endpoint.port)
    async with (
        Watcher(space.endpoint, space.everything) as watcher,
        linked(tmp_path, space, through=(proxy.host, proxy.port)) as rig,
    ):
        await watcher.wait_for(status_is(space.status, Presence.ONLINE), "online")
        event = await rig.append(EventType.ALARM_PANIC)
        await watcher.wait_for(on(event_topic(space)), "the event")

        proxy.drop()  # no DISCONNECT reaches the broker: it publishes the will
        await watcher.wait_for(status_is(space.status, Presence.OFFLINE, "connection lost"), "LWT")
        async with Watcher(space.endpoint, space.status) as late:
            [lwt] = await late.wait_for(on(space.status), "the retained LWT")
            assert lwt.retain
            assert wire.decode_status(lwt.payload).state is Presence.OFFLINE

        proxy.pass_through()
        await watcher.wait_for(status_is(space.status, Presence.ONLINE), "online again", count=2)
        again = await watcher.wait_for(on(event_topic(space)), "the event resent", count=2)
        assert {wire.decode_event(seen.payload).id for seen in again} == {event.id}
        assert rig.link.connections == 2


@pytest.mark.faults
async def test_link_keeps_trying_until_the_broker_answers(
    tmp_path: Path, space: Space, fault_proxy: FaultProxyFactory
) -> None:
    """With no broker reachable the link retries (it does not fail); it connects once one is."""
    proxy = fault_proxy(space.endpoint.host, space.endpoint.port)
    proxy.drop()
    # An attempt whose socket is closed before CONNACK ends at timeout_s (aiomqtt waits).
    async with (
        Watcher(space.endpoint, space.status) as watcher,
        linked(tmp_path, space, through=(proxy.host, proxy.port), mqtt={"timeout_s": 1}) as rig,
    ):
        await eventually(lambda: _true(proxy.stats().connections_accepted >= 2), "2 attempts")
        assert rig.link.connections == 0
        proxy.pass_through()
        await watcher.wait_for(status_is(space.status, Presence.ONLINE), "online")
        assert rig.link.connections == 1


async def _true(value: bool) -> bool:
    return value


async def test_a_failing_outbox_ends_the_link_and_says_so(tmp_path: Path, space: Space) -> None:
    """An outbox failure is not retried away: the link ends with it, leaving status offline."""

    async def run_until_the_outbox_fails(watcher: Watcher) -> None:
        async with linked(tmp_path, space, status_interval_s=1) as rig:
            await watcher.wait_for(status_is(space.status, Presence.ONLINE), "online")
            await rig.outbox.__aexit__(None, None, None)  # the status renewal now fails
            await asyncio.sleep(10)  # cancelled when the link fails

    async with Watcher(space.endpoint, space.status) as watcher:
        with pytest.raises(ExceptionGroup) as caught:
            await run_until_the_outbox_fails(watcher)
        assert caught.group_contains(OutboxError)
        [seen] = await watcher.wait_for(status_is(space.status, Presence.OFFLINE), "offline")
    reason = wire.decode_status(seen.payload).reason
    assert reason is not None
    assert reason.startswith("agent failure: outbox")
