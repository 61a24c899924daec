"""An emulated agent's outbox, in memory: epoch and seq, lanes, acks; and what it records.

Like the real outbox (docs/delivery.md) without SQLite: one epoch per agent and run, seq
+1 per event across lanes, every event kept with its encoded bytes until an ack names its
(epoch, seq); acks for another epoch, or seqs it does not hold, are ignored. Nothing is
shed (the fleet is not the bottleneck it would protect). Each event is also recorded
(`Record`) for the oracle.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import wire
from wire import LANES, Event, Lane, LaneSet, LaneStats

if TYPE_CHECKING:
    from datetime import datetime

    from simulators.fleet.traffic import Draft

__all__ = ["DRIVER", "Counters", "Outage", "Outbox", "Pending", "Record"]

DRIVER: Final = "fleet"
"""`source.driver` of every fleet event."""


@dataclass(frozen=True, slots=True)
class Record:
    """What the oracle needs to know about one event the fleet generated."""

    id: uuid.UUID
    site: str
    device: str
    kind: wire.Kind
    type: wire.EventType
    at: datetime
    seq: int
    tag: str | None


@dataclass(slots=True)
class Outage:
    """One time the agent's link was down: from the cut until `online` was published again."""

    site: str
    down_at: datetime
    up_at: datetime | None = None

    def seconds(self, now: datetime) -> float:
        """How long it lasted (or has lasted so far, at `now`)."""
        return ((self.up_at or now) - self.down_at).total_seconds()


@dataclass(slots=True)
class Counters:
    """What one agent did, for the fleet's report."""

    emitted: int = 0
    published: int = 0
    resent: int = 0
    acked: int = 0
    republished: int = 0
    """Events published again on a reconnect."""
    connections: int = 0
    cuts: int = 0


@dataclass(slots=True)
class Pending:
    """An event kept until acked: its bytes, and when to resend it."""

    seq: int
    lane: Lane
    topic: str
    payload: bytes
    wait_s: float
    due: float = math.inf
    """Monotonic time of the next resend; inf: not published on this connection yet."""


class Outbox:
    """The events of one site not yet acked, by seq."""

    def __init__(self, site: str, space: wire.TopicSpace, resend_initial_s: float) -> None:
        self.site = site
        self.epoch = uuid.uuid4()
        self._space = space
        self._resend_initial_s = resend_initial_s
        self._seq = 0
        self.pending: dict[int, Pending] = {}
        self._depth = dict.fromkeys(Lane, 0)
        self._bytes = dict.fromkeys(Lane, 0)
        self._topics: dict[tuple[wire.Kind, str], str] = {}
        self.records: list[Record] = []

    def add(self, draft: Draft, now: datetime) -> Record:
        """Make `draft` an event at `now` with the next seq, keep it and record it."""
        self._seq += 1
        event = Event(
            v=1,
            id=wire.new_event_id(),
            site=self.site,
            device=draft.device,
            kind=draft.kind,
            type=draft.type,
            at=wire.format_time(now),
            epoch=self.epoch,
            seq=self._seq,
            source={"driver": DRIVER, "sim_s": round(draft.sim_s, 3)},
            data=draft.data,
        )
        key = (draft.kind, draft.device)
        topic = self._topics.get(key)
        if topic is None:
            topic = self._topics[key] = self._space.events(self.site, draft.kind, draft.device)
        payload = wire.encode(event)
        lane = LANES[draft.type]
        self.pending[self._seq] = Pending(self._seq, lane, topic, payload, self._resend_initial_s)
        self._depth[lane] += 1
        self._bytes[lane] += len(payload)
        record = Record(
            event.id, self.site, draft.device, draft.kind, draft.type, now, self._seq, draft.tag
        )
        self.records.append(record)
        return record

    def _forget(self, seq: int) -> bool:
        pending = self.pending.pop(seq, None)
        if pending is None:
            return False
        self._depth[pending.lane] -= 1
        self._bytes[pending.lane] -= len(pending.payload)
        return True

    def on_ack(self, ack: wire.Ack) -> int:
        """Delete exactly the events `ack` names; returns how many it deleted."""
        if ack.epoch != self.epoch:
            return 0  # not ours (an earlier run of this site): the contract says ignore it
        deleted = 0
        for first, last in ack.ranges:
            if last - first < len(self.pending):
                seqs: list[int] | range = range(first, last + 1)
            else:
                seqs = [s for s in self.pending if first <= s <= last]
            deleted += sum(1 for seq in seqs if self._forget(seq))
        return deleted

    def lanes(self) -> LaneSet:
        """Depth and bytes per lane, for the status (nothing is ever shed here)."""
        stats = {
            lane.label: LaneStats(depth=self._depth[lane], bytes=self._bytes[lane], shed=0)
            for lane in Lane
        }
        return LaneSet(**stats)
