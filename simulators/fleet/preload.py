"""Preload a broker with valid v1 events for a stopped hub, as fast as one client can.

For the drain benchmark (issue 11): the hub's persistent session must already exist
(start the hub once, stop it), and the broker must be able to queue the preload
(Mosquitto's default `max_queued_messages` of 1,000 drops it). `preload` then publishes
`events` QoS 1 events spread over `rooms` sites (door, contact, camera and panel
traffic; no alarms, so the drain raises no alert), waits for every PUBACK and reports
its own send rate and CPU. Each site has one epoch and seqs 1..n, so a drain is complete
when `SELECT count(DISTINCT id) FROM events WHERE epoch = $1` equals the site's count.

Nobody acks these events end to end (there is no agent to resend them): run the hub
with `ingest.site_rate_per_s` and `site_burst` high enough that it takes them all.

    python -m simulators fleet preload --events 500000 --rooms 55 --broker mqtt://...
"""

from __future__ import annotations

import random
import resource
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from simulators.fleet._broker import parse_broker_url
from simulators.fleet._fastpub import DEFAULT_WINDOW, FastPublisher
from wire import Event, EventType, Kind, TopicSpace, encode, format_time, new_event_id

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

JsonScalar = str | int | float | bool | None

__all__ = ["PreloadReport", "preload", "room_id"]

# (kind, device id prefix, devices per room, share of the events, the types it sends)
_MIX: Final[Sequence[tuple[Kind, str, int, float, tuple[EventType, ...]]]] = (
    (Kind.DOOR_LOCK, "door", 100, 0.4, (EventType.DOOR_OPENED, EventType.DOOR_CLOSED)),
    (Kind.CONTACT, "contact", 300, 0.3, (EventType.DOOR_OPENED, EventType.DOOR_CLOSED)),
    (Kind.CAMERA, "cam", 20, 0.2, (EventType.MOTION_STARTED, EventType.MOTION_STOPPED)),
    (Kind.PANEL, "panel", 5, 0.1, (EventType.TEST_PERIODIC,)),
)
_AT_EVERY: Final = 1000  # events sharing one `at` (formatting a time per event costs)


def room_id(number: int) -> str:
    """The site id of monitoring room `number` (1-based): `room-01` ... `room-55`."""
    return f"room-{number:02d}"


def _usage_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True, slots=True)
class PreloadReport:
    """What a preload sent, how fast, and at what CPU cost to the publisher."""

    events: int
    rooms: int
    bytes: int
    seconds: float
    """First publish to last PUBACK (payloads were encoded before, not counted)."""
    cpu_s: float
    """CPU time of this process during those `seconds`."""
    encode_s: float
    """Time taken to build and encode the payloads (before sending)."""
    epochs: Mapping[str, uuid.UUID] = field(repr=False)
    """Each site's epoch; its events have seqs 1 to `counts[site]`."""
    counts: Mapping[str, int] = field(repr=False)

    @property
    def rate_per_s(self) -> float:
        """Events acknowledged by the broker per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_share(self) -> float:
        """CPU used per wall second while sending (1.0 = one core saturated)."""
        return self.cpu_s / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (epochs as strings)."""
        return {
            "events": self.events,
            "rooms": self.rooms,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "rate_per_s": round(self.rate_per_s, 1),
            "cpu_s": round(self.cpu_s, 3),
            "cpu_share": round(self.cpu_share, 3),
            "encode_s": round(self.encode_s, 3),
            "epochs": {site: str(epoch) for site, epoch in self.epochs.items()},
            "counts": dict(self.counts),
        }

    def summary(self) -> str:
        """One line for people."""
        return (
            f"preloaded {self.events} events ({self.bytes} bytes) over {self.rooms} rooms in "
            f"{self.seconds:.2f} s: {self.rate_per_s:,.0f} events/s, publisher CPU "
            f"{self.cpu_s:.2f} s ({self.cpu_share:.0%} of a core); encoding took "
            f"{self.encode_s:.2f} s before"
        )


def _payloads(
    space: TopicSpace, events: int, epochs: Mapping[str, uuid.UUID], rng: random.Random
) -> Iterator[tuple[str, str, bytes]]:
    """(site, topic, payload) for each event, in publishing order; seqs count per site."""
    sites = list(epochs)
    rooms = len(sites)
    seqs = dict.fromkeys(sites, 0)
    kinds = list(_MIX)
    weights = [row[3] for row in kinds]
    topics: dict[tuple[str, Kind, str], str] = {}
    at = format_time(datetime.now(UTC))
    source: dict[str, JsonScalar] = {"driver": "fleet", "preload": True}
    for index in range(events):
        if index % _AT_EVERY == 0:
            at = format_time(datetime.now(UTC))
        site = sites[index % rooms]
        kind, prefix, count, _, types = rng.choices(kinds, weights)[0]
        device = f"{prefix}-{rng.randrange(1, count + 1):04d}"
        key = (site, kind, device)
        topic = topics.get(key)
        if topic is None:
            topic = topics[key] = space.events(site, kind, device)
        seqs[site] += 1
        event = Event(
            v=1,
            id=new_event_id(),
            site=site,
            device=device,
            kind=kind,
            type=types[index % len(types)],
            at=at,
            epoch=epochs[site],
            seq=seqs[site],
            source=source,
            data={},
        )
        yield site, topic, encode(event)


def preload(
    broker_url: str,
    *,
    events: int,
    rooms: int = 55,
    seed: int = 1,
    topic_prefix: str = "",
    window: int = DEFAULT_WINDOW,
    client_id: str | None = None,
) -> PreloadReport:
    """Publish `events` valid v1 events over `rooms` sites at QoS 1 and report the rate.

    Payloads are built (and checked by `wire.encode`) first, then sent by one client
    keeping `window` publishes in flight; the report times the sending alone. Raises
    `ValueError` for bad arguments, `PublishError` if the broker fails.
    """
    if events < 1:
        raise ValueError(f"events must be at least 1, not {events}")
    if not 1 <= rooms <= 99:
        raise ValueError(f"rooms must be 1 to 99, not {rooms}")
    if not 1 <= window <= 65_535:
        raise ValueError(f"window must be 1 to 65535, not {window}")
    broker = parse_broker_url(broker_url)
    space = TopicSpace(topic_prefix)
    rng = random.Random(seed)  # noqa: S311 - reproducible traffic, not secrets
    started = time.perf_counter()
    epochs = {
        room_id(n): uuid.UUID(int=rng.getrandbits(128), version=4) for n in range(1, rooms + 1)
    }
    batch = list(_payloads(space, events, epochs, rng))
    encode_s = time.perf_counter() - started
    counts: dict[str, int] = {}
    for site, _, _ in batch:
        counts[site] = counts.get(site, 0) + 1
    size = sum(len(payload) for _, _, payload in batch)
    with FastPublisher(broker, client_id=client_id, window=window) as publisher:
        cpu0, wall0 = _usage_s(), time.perf_counter()
        for _, topic, payload in batch:
            publisher.publish(topic, payload)
        publisher.flush()
        seconds, cpu_s = time.perf_counter() - wall0, _usage_s() - cpu0
    return PreloadReport(
        events=events,
        rooms=len(counts),
        bytes=size,
        seconds=seconds,
        cpu_s=cpu_s,
        encode_s=encode_s,
        epochs={site: epochs[site] for site in counts},
        counts=counts,
    )
