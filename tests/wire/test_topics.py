"""Topic names: builders, filters, the prefix rule, and the parser."""

import contextlib
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

import wire
from tests.wire.strategies import ids
from wire import (
    AckTopic,
    AlertsTopic,
    EventTopic,
    HubStatusTopic,
    InventoryTopic,
    Kind,
    SnapshotTopic,
    StateTopic,
    StatusTopic,
    TopicSpace,
)

T = wire.DEFAULT_TOPICS
EVENT_ID = "0190f1f4-5a3b-7c4d-8e5f-6a7b8c9d0e1f"


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (T.events("room-07", Kind.DOOR_LOCK, "d1"), "shouwang/v1/room-07/events/door_lock/d1"),
        (T.state("room-07", Kind.CONTACT, "c1"), "shouwang/v1/room-07/state/contact/c1"),
        (
            T.snapshot("room-07", Kind.CAMERA, "cam-1", EVENT_ID),
            f"shouwang/v1/room-07/snapshots/camera/cam-1/{EVENT_ID}",
        ),
        (T.inventory("room-07"), "shouwang/v1/room-07/inventory"),
        (T.status("room-07"), "shouwang/v1/room-07/status"),
        (T.ack("room-07"), "shouwang/v1/room-07/ack"),
        (T.alerts("room-07"), "shouwang/v1/room-07/alerts"),
        (T.hub_status(), "shouwang/v1/_hub/status"),
    ],
)
def test_builders_spell_the_contract_topics(built: str, expected: str) -> None:
    """Each row of the contract's topic table has a builder that spells it exactly."""
    assert built == expected


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (T.all_events(), "shouwang/v1/+/events/#"),
        (T.site_events("room-07"), "shouwang/v1/room-07/events/#"),
        (T.all_states(), "shouwang/v1/+/state/#"),
        (T.all_snapshots(), "shouwang/v1/+/snapshots/#"),
        (T.all_inventories(), "shouwang/v1/+/inventory"),
        (T.all_statuses(), "shouwang/v1/+/status"),
        (T.all_alerts(), "shouwang/v1/+/alerts"),
        (T.alerts("room-07"), "shouwang/v1/room-07/alerts"),
        (T.ack("room-07"), "shouwang/v1/room-07/ack"),
    ],
)
def test_subscription_filters(built: str, expected: str) -> None:
    """The filters the hub, agents and consumers subscribe with."""
    assert built == expected


def test_snapshot_builder_takes_a_uuid_object() -> None:
    """The event id can be passed as the `uuid.UUID` the event carries."""
    assert T.snapshot("s", Kind.CAMERA, "c", uuid.UUID(EVENT_ID)).endswith(f"/{EVENT_ID}")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("shouwang/v1/room-07/events/door_lock/d1", EventTopic("room-07", Kind.DOOR_LOCK, "d1")),
        ("shouwang/v1/room-07/state/panel/p1", StateTopic("room-07", Kind.PANEL, "p1")),
        (
            f"shouwang/v1/r/snapshots/camera/c/{EVENT_ID}",
            SnapshotTopic("r", Kind.CAMERA, "c", EVENT_ID),
        ),
        ("shouwang/v1/room-07/inventory", InventoryTopic("room-07")),
        ("shouwang/v1/room-07/status", StatusTopic("room-07")),
        ("shouwang/v1/room-07/ack", AckTopic("room-07")),
        ("shouwang/v1/room-07/alerts", AlertsTopic("room-07")),
        ("shouwang/v1/_hub/status", HubStatusTopic()),
    ],
)
def test_parse_topic_gives_the_topic_value(name: str, expected: wire.Topic) -> None:
    """Every contract topic parses into its frozen value, fields typed."""
    parsed = wire.parse_topic(name)
    assert parsed == expected
    assert T.name(parsed) == name


def test_parsed_kind_is_the_enum() -> None:
    """The kind of a parsed topic is a `Kind`, not a bare string."""
    parsed = wire.parse_topic("shouwang/v1/s/events/camera/c")
    assert isinstance(parsed, EventTopic)
    assert parsed.kind is Kind.CAMERA


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("shouwang/v1/Bad!/events/camera/c", "segment 3 'Bad!' is not a valid site id"),
        ("shouwang/v1/ROOM/status", "segment 3 'ROOM' is not a valid site id"),
        ("shouwang/v1/-room/inventory", "segment 3 '-room' is not a valid site id"),
        ("shouwang/v1/r/events/cam/c", "segment 5 'cam' is not a v1 kind"),
        ("shouwang/v1/r/state/camera/C-1", "segment 6 'C-1' is not a valid device id"),
        ("shouwang/v1/r/events/camera/", "segment 6 '' is not a valid device id"),
        (f"shouwang/v1/r/events/camera/{'d' * 65}", "segment 6"),
        ("shouwang/v1/r/snapshots/camera/c/not-a-uuid", "segment 7 'not-a-uuid' is not a UUID"),
        (
            f"shouwang/v1/r/snapshots/camera/c/{EVENT_ID.upper()}",
            "segment 7 .* is not a UUID in lowercase hyphenated form",
        ),
        ("shouwang/v1/+/events/camera/c", "segment 3 '\\+' is not a valid site id"),
        ("shouwang/v1/_hub/events/camera/c", "segment 3 '_hub' is not a valid site id"),
        ("shouwang/v1/r/status/", "not one of the v1 topic shapes"),
        ("shouwang/v1/r/events/camera", "not one of the v1 topic shapes"),
        ("shouwang/v1/r/events/camera/c/extra", "not one of the v1 topic shapes"),
        ("shouwang/v1/r/snapshots/camera/c", "not one of the v1 topic shapes"),
        ("shouwang/v1/r/telemetry", "not one of the v1 topic shapes"),
        ("shouwang/v1/_hub/health", "not one of the v1 topic shapes"),
        ("shouwang/v1", "not one of the v1 topic shapes"),
        ("shouwang/v2/r/status", "has version 'v2'; only v1 is known"),
        ("/shouwang/v1/r/status", "is not under shouwang/"),
        ("Shouwang/v1/r/status", "is not under shouwang/"),
        ("", "is not under shouwang/"),
    ],
)
def test_parse_topic_says_what_is_wrong_and_where(name: str, message: str) -> None:
    """A bad topic is a TopicError naming the segment, its value and the rule."""
    with pytest.raises(wire.TopicError, match=message):
        wire.parse_topic(name)


def test_topic_errors_quote_long_values_briefly() -> None:
    """A 60,000-character segment is not echoed whole into the message."""
    with pytest.raises(wire.TopicError) as caught:
        wire.parse_topic("shouwang/v1/" + "x" * 60_000 + "!/status")
    assert len(str(caught.value)) < 400


@pytest.mark.parametrize(
    "build",
    [
        lambda: T.events("Room", Kind.CAMERA, "c"),
        lambda: T.events("r", Kind.CAMERA, ""),
        lambda: T.state("r", Kind.CAMERA, "c" * 65),
        lambda: T.state("r", "cam", "c"),  # type: ignore[arg-type]
        lambda: T.snapshot("r", Kind.CAMERA, "c", "nope"),
        lambda: T.snapshot("r", Kind.CAMERA, "c", EVENT_ID.upper()),
        lambda: T.inventory("_hub"),
        lambda: T.status("房间"),
        lambda: T.ack("r/x"),
        lambda: T.alerts("#"),
        lambda: T.site_events("+"),
    ],
)
def test_builders_refuse_bad_arguments(build: object) -> None:
    """A builder never produces a topic the parser would refuse."""
    assert callable(build)
    with pytest.raises(wire.TopicError):
        build()


def test_builders_accept_kinds_as_their_string_values() -> None:
    """A kind given as its string value is taken as the enum member."""
    topic = StateTopic("r", "camera", "c")  # type: ignore[arg-type]
    assert topic.kind is Kind.CAMERA


def test_prefixed_space_builds_and_parses_under_its_prefix() -> None:
    """A test space puts its prefix in front of every topic and filter, and strips it."""
    space = TopicSpace("ci/run-42/")
    name = space.events("r", Kind.CAMERA, "c")
    assert name == "ci/run-42/shouwang/v1/r/events/camera/c"
    assert space.all_events() == "ci/run-42/shouwang/v1/+/events/#"
    assert space.hub_status() == "ci/run-42/shouwang/v1/_hub/status"
    assert space.parse(name) == EventTopic("r", Kind.CAMERA, "c")


def test_prefixed_space_counts_prefix_levels_in_positions() -> None:
    """Segment numbers in errors count the prefix's levels too."""
    with pytest.raises(wire.TopicError, match="segment 5 'X'"):
        TopicSpace("ci/run-42/").parse("ci/run-42/shouwang/v1/X/status")


def test_prefixed_space_refuses_topics_outside_it() -> None:
    """A topic of another test run (or of production) is not in this space."""
    space = TopicSpace("ci/run-42/")
    with pytest.raises(wire.TopicError, match="not under the prefix"):
        space.parse("ci/run-43/shouwang/v1/r/status")
    with pytest.raises(wire.TopicError, match="not under the prefix"):
        space.parse("shouwang/v1/r/status")


def test_the_default_space_has_no_prefix() -> None:
    """Production topics are exactly the contract's."""
    assert TopicSpace("") == wire.DEFAULT_TOPICS
    assert wire.DEFAULT_TOPICS.prefix == ""


@pytest.mark.parametrize(
    "prefix",
    [
        "ci",  # no trailing /
        "/ci/",  # empty first level
        "ci//",  # empty level
        "ci/+/",
        "ci/#/",
        "ci\x00/",
        "$SYS/",
        "$share/g/",
        "x" * 128 + "/",
    ],
)
def test_bad_prefixes_are_refused(prefix: str) -> None:
    """A prefix is levels ending in '/', no wildcards, NUL or '$', at most 128 characters."""
    with pytest.raises(wire.TopicError, match="prefix"):
        TopicSpace(prefix)


def test_shared_subscription() -> None:
    """A shared subscription wraps a filter in `$share/{group}/`."""
    assert wire.shared_subscription("ingest", T.all_events()) == (
        "$share/ingest/shouwang/v1/+/events/#"
    )
    with pytest.raises(wire.TopicError):
        wire.shared_subscription("a/b", T.all_events())


def test_topic_values_are_frozen() -> None:
    """A parsed topic cannot be changed after the fact."""
    topic = wire.parse_topic("shouwang/v1/r/status")
    assert isinstance(topic, StatusTopic)
    with pytest.raises(AttributeError):
        topic.site = "other"  # type: ignore[misc]


@given(site=ids, device=ids, kind=st.sampled_from(Kind), event_id=st.uuids())
def test_every_builder_round_trips_through_the_parser(
    site: str, device: str, kind: Kind, event_id: uuid.UUID
) -> None:
    """Whatever valid ids a builder takes, the parser gives them back."""
    expected: list[tuple[str, wire.Topic]] = [
        (T.events(site, kind, device), EventTopic(site, kind, device)),
        (T.state(site, kind, device), StateTopic(site, kind, device)),
        (
            T.snapshot(site, kind, device, event_id),
            SnapshotTopic(site, kind, device, str(event_id)),
        ),
        (T.inventory(site), InventoryTopic(site)),
        (T.status(site), StatusTopic(site)),
        (T.ack(site), AckTopic(site)),
        (T.alerts(site), AlertsTopic(site)),
    ]
    for name, topic in expected:
        assert wire.parse_topic(name) == topic


@given(site=ids, device=ids, kind=st.sampled_from(Kind))
def test_prefixed_round_trip(site: str, device: str, kind: Kind) -> None:
    """Round trips hold under a prefix too."""
    space = TopicSpace("test/abc/")
    assert space.parse(space.events(site, kind, device)) == EventTopic(site, kind, device)


@given(st.text())
def test_parse_topic_raises_only_topic_errors_on_any_text(name: str) -> None:
    """Arbitrary text either parses or raises TopicError, nothing else."""
    with contextlib.suppress(wire.TopicError):
        wire.parse_topic(name)


@given(
    st.lists(
        st.sampled_from(
            [
                "shouwang",
                "v1",
                "r",
                "events",
                "status",
                "camera",
                "_hub",
                "snapshots",
                EVENT_ID,
                "",
                "+",
                "#",
                "X",
            ]
        ),
        max_size=8,
    )
)
def test_parse_topic_on_plausible_segments(segments: list[str]) -> None:
    """Near-miss topics built from real segments also raise only TopicError."""
    try:
        topic = wire.parse_topic("/".join(segments))
    except wire.TopicError:
        return
    assert T.name(topic) == "/".join(segments)
