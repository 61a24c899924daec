"""The bench's own preloader: district-like v1 events, published at QoS 1 as fast as paho can.

`simulators/fleet` has the project's preloader; this one is the fallback the suite uses when
that is absent (`bench.suite` says which one ran). Events are built with the `wire` codec
(never by hand): `rooms` sites with a district's device mix per room, door and contact
state changes and periodic tests (no alarm: a P0 closes the hub's batch early, and a drain
is mostly P1/P2), one epoch per site and seq +1 per event. Publishing drives paho's
network loop from the publishing thread with a full in-flight window: the pattern the
issue measured at 13,000-18,000 messages/s (a `loop_start()` thread reached ~660/s).
"""

from __future__ import annotations

import os
import random
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import wire
from wire import EventType, Kind

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tests.harness import MqttEndpoint

__all__ = ["District", "Message", "district_events", "nodelay", "publish"]

Message = tuple[str, bytes]
# Per room: the district's devices (../shared/district.yaml) over 55 rooms, rounded.
ROOM_DEVICES = {Kind.DOOR_LOCK: 109, Kind.CONTACT: 364, Kind.CAMERA: 22, Kind.SHOP_GUARD: 16}
TYPES = {
    Kind.DOOR_LOCK: [EventType.DOOR_OPENED, EventType.DOOR_CLOSED, EventType.ACCESS_GRANTED],
    Kind.CONTACT: [EventType.DOOR_OPENED, EventType.DOOR_CLOSED, EventType.TEST_PERIODIC],
    Kind.CAMERA: [EventType.MOTION_STARTED, EventType.MOTION_STOPPED],
    Kind.SHOP_GUARD: [EventType.TEST_PERIODIC, EventType.PANEL_ARMED, EventType.PANEL_DISARMED],
}
WEIGHTS = {Kind.DOOR_LOCK: 5, Kind.CONTACT: 3, Kind.CAMERA: 2, Kind.SHOP_GUARD: 1}


class District:
    """Builds the events of `rooms` sites, one at a time, reproducible from `seed` but their
    ids (and `at`, which the caller gives)."""

    def __init__(self, *, rooms: int, seed: int, topics: wire.TopicSpace) -> None:
        self._rng = random.Random(seed)
        self._topics = topics
        self._sites = [f"room-{n:02d}" for n in range(1, rooms + 1)]
        self._epochs = {
            s: uuid.UUID(int=self._rng.getrandbits(128), version=4) for s in self._sites
        }
        self._seqs = dict.fromkeys(self._sites, 0)
        self._kinds = list(WEIGHTS)
        self._weights = list(WEIGHTS.values())

    def event(self, at: str) -> Message:
        """The next event, happened at `at`: (its topic, its payload)."""
        rng = self._rng
        kind = rng.choices(self._kinds, weights=self._weights)[0]
        site = rng.choice(self._sites)
        device = f"{kind.value.replace('_', '-')}-{rng.randrange(ROOM_DEVICES[kind]):03d}"
        self._seqs[site] += 1
        event = wire.Event(
            v=1,
            id=wire.new_event_id(),
            site=site,
            device=device,
            kind=kind,
            type=rng.choice(TYPES[kind]),
            at=at,
            epoch=self._epochs[site],
            seq=self._seqs[site],
            source={"driver": "bench"},
            data={"zone": rng.randint(1, 16)},
        )
        return self._topics.events(site, kind, device), wire.encode(event)


def district_events(count: int, *, rooms: int, seed: int, topics: wire.TopicSpace) -> list[Message]:
    """`count` events of `District(rooms, seed)`, all happened now."""
    district = District(rooms=rooms, seed=seed, topics=topics)
    at = wire.format_time(datetime.now(UTC))
    return [district.event(at) for _ in range(count)]


def nodelay(client: mqtt.Client) -> None:
    """Nagle off on a connected client's socket (no ~40 ms waits for small writes)."""
    sock = client.socket()
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def publish(endpoint: MqttEndpoint, messages: Sequence[Message], *, window: int = 1000) -> float:
    """Publish `messages` at QoS 1, at most `window` unacknowledged; seconds to the last
    PUBACK. Raises TimeoutError when the broker stops acknowledging for 30 s."""
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-preload-{os.getpid()}")
    client.max_inflight_messages_set(window)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect(endpoint.host, endpoint.port, keepalive=60)
    nodelay(client)
    start = last_progress = time.perf_counter()
    try:
        sent, seen = 0, 0
        while acked < len(messages):
            while sent < len(messages) and sent - acked < window:
                topic, payload = messages[sent]
                client.publish(topic, payload, qos=1)
                sent += 1
            client.loop(timeout=0.01)
            now = time.perf_counter()
            if acked != seen:
                seen, last_progress = acked, now
            elif now - last_progress > 30:
                raise TimeoutError(f"{acked} of {len(messages)} PUBACKed, then nothing for 30 s")
        return time.perf_counter() - start
    finally:
        client.disconnect()
