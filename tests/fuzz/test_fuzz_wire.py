"""The envelope decoder and the topic parser under arbitrary input: nothing but the wire
package's own typed errors (`WireError`, `TopicError`), and valid values round-trip."""

from __future__ import annotations

import contextlib
import json
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wire
from tests.fuzz.budget import FUZZ, examples
from tests.wire import samples
from tests.wire.strategies import events, ids, json_values
from wire import Kind, TopicError, TopicSpace, WireError

pytestmark = pytest.mark.fuzz

TOPIC = "shouwang/v1/room-07/events/panic_alarm/panic-0031"
LEVELS = st.sampled_from(
    ["shouwang", "v1", "room-07", "_hub", "events", "state", "snapshots", "inventory",
     "status", "ack", "alerts", "panic_alarm", "camera", "+", "#", "", "$SYS", "V1",
     str(uuid.UUID(int=7)), "\x00", "é", "a" * 65]
)  # fmt: skip
TOPIC_NAMES = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(LEVELS, st.text(max_size=12)), max_size=9).map("/".join),
)


@settings(FUZZ, max_examples=examples(1500))
@given(
    payload=st.one_of(st.binary(max_size=3000), json_values.map(lambda v: json.dumps(v).encode()))
)
def test_decode_event_raises_only_wire_errors(payload: bytes) -> None:
    """Arbitrary bytes or JSON as an event: an Event or a WireError, on a topic or not."""
    topic = wire.parse_topic(TOPIC)
    assert isinstance(topic, wire.EventTopic)
    for on in (None, topic):
        with contextlib.suppress(WireError):
            assert isinstance(wire.decode_event(payload, on), wire.Event)


@settings(FUZZ, max_examples=examples(1500))
@given(field=st.sampled_from(sorted(samples.event())), value=json_values, drop=st.booleans())
def test_decode_event_raises_only_wire_errors_on_mangled_envelopes(
    field: str, value: object, drop: bool
) -> None:
    """A valid envelope with one field replaced by any JSON value (or removed)."""
    payload = samples.event()
    if drop:
        del payload[field]
    else:
        payload[field] = value
    with contextlib.suppress(WireError):
        wire.decode_event(samples.dump(payload))


@settings(FUZZ, max_examples=examples(300))
@given(event=events())
def test_valid_events_round_trip(event: wire.Event) -> None:
    """Every valid event encodes and decodes back to itself on its own topic."""
    topic = wire.parse_topic(wire.DEFAULT_TOPICS.events(event.site, event.kind, event.device))
    assert isinstance(topic, wire.EventTopic)
    assert wire.decode_event(wire.encode(event), topic) == event


@settings(FUZZ, max_examples=examples(2500))
@given(name=TOPIC_NAMES, prefix=st.sampled_from(["", "ci/run-1/"]))
def test_parse_topic_raises_only_topic_errors(name: str, prefix: str) -> None:
    """Any topic name: a parsed topic whose name is the input, or a TopicError."""
    space = TopicSpace(prefix)
    with contextlib.suppress(TopicError):
        topic = space.parse(prefix + name)
        assert space.name(topic) == prefix + name


@settings(FUZZ, max_examples=examples(500))
@given(site=ids, device=ids, kind=st.sampled_from(list(Kind)), event_id=st.uuids())
def test_every_valid_topic_parses_back(
    site: str, device: str, kind: Kind, event_id: uuid.UUID
) -> None:
    """The names the topic space builds parse back into the values they came from."""
    space = wire.DEFAULT_TOPICS
    for name in (
        space.events(site, kind, device),
        space.state(site, kind, device),
        space.snapshot(site, kind, device, event_id),
        space.inventory(site),
        space.status(site),
        space.ack(site),
        space.alerts(site),
    ):
        assert space.name(space.parse(name)) == name
