"""The emulated agent's in-memory outbox: epoch and seq, lanes, acks."""

import uuid
from datetime import UTC, datetime

from simulators.fleet.outbox import Outbox
from simulators.fleet.traffic import Draft
from wire import Ack, EventType, Kind, TopicSpace, decode_event

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def _filled(n: int) -> Outbox:
    outbox = Outbox("room-01", TopicSpace("t/"), 30.0)
    for i in range(n):
        kind_type = EventType.ALARM_PANIC if i == 0 else EventType.DOOR_OPENED
        outbox.add(Draft(float(i), f"dev-{i:02d}", Kind.DOOR_LOCK, kind_type), NOW)
    return outbox


def test_events_get_seqs_from_one_under_one_epoch_and_valid_bytes() -> None:
    """Each added event has the next seq, the outbox's epoch and a payload the codec takes."""
    outbox = _filled(3)
    assert sorted(outbox.pending) == [1, 2, 3]
    for seq, pending in outbox.pending.items():
        event = decode_event(pending.payload)
        assert (event.seq, event.epoch, event.site) == (seq, outbox.epoch, "room-01")
        assert pending.topic == f"t/shouwang/v1/room-01/events/door_lock/{event.device}"
    assert [r.seq for r in outbox.records] == [1, 2, 3]


def test_an_ack_deletes_exactly_its_seqs_and_another_epochs_nothing() -> None:
    """Ranges delete the seqs they name (held ones only); an ack of another epoch is ignored."""
    outbox = _filled(10)
    assert outbox.on_ack(Ack(v=1, epoch=uuid.uuid4(), ranges=((1, 10),))) == 0
    assert outbox.on_ack(Ack(v=1, epoch=outbox.epoch, ranges=((2, 3), (9, 50)))) == 4
    assert sorted(outbox.pending) == [1, 4, 5, 6, 7, 8]
    assert outbox.on_ack(Ack(v=1, epoch=outbox.epoch, ranges=((2, 3),))) == 0


def test_lanes_count_depth_and_bytes_per_lane() -> None:
    """The status's lanes count the panic in P0 and the doors in P1, and shrink on acks."""
    outbox = _filled(4)
    lanes = outbox.lanes()
    assert (lanes.p0.depth, lanes.p1.depth, lanes.p2.depth) == (1, 3, 0)
    assert lanes.p1.bytes == sum(len(p.payload) for p in outbox.pending.values() if p.seq > 1)
    outbox.on_ack(Ack(v=1, epoch=outbox.epoch, ranges=((1, 1),)))
    assert outbox.lanes().p0.depth == 0
    assert outbox.lanes().p0.bytes == 0
