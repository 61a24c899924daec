"""`hub.inbound.classify`: what each received message is to the hub, row by row."""

from typing import Any

import pytest

from hub.inbound import MAX_SALVAGE_BYTES, AckKey, DeadLetter, Ignored, classify
from tests.hub.support import EPOCH, SITE, dump, event
from wire import SIZE_LIMITS, Event, EventTopic, Inventory, Kind, TopicSpace

SPACE = TopicSpace("test/inbound/")
TOPIC = SPACE.events(SITE, Kind.PANIC_ALARM, "panic-0031")


def _with(**changes: Any) -> bytes:
    payload = event(seq=7)
    payload.update(changes)
    return dump(payload)


def _oversize() -> bytes:
    return _with(data={"blob": "x" * SIZE_LIMITS[EventTopic]})


# (case, topic, payload, error class, words the reason must contain, error path, acked)
BAD_INPUTS = [
    ("malformed JSON", TOPIC, b"{not json}", "PayloadInvalid", "malformed", "$", False),
    ("truncated JSON", TOPIC, b'{"v": 1, "id": ', "PayloadInvalid", "truncated", "$", False),
    ("not an object", TOPIC, b"[1, 2, 3]", "PayloadInvalid", "object", "$", False),
    ("wrong type of seq", TOPIC, _with(seq="7"), "PayloadInvalid", "int", "$.seq", False),
    ("wrong type of data", TOPIC, _with(data=[1]), "PayloadInvalid", "object", "$.data", True),
    ("unknown field", TOPIC, _with(extra=1), "PayloadInvalid", "extra", "$", True),
    ("oversize", TOPIC, _oversize(), "PayloadTooLarge", "limit", None, True),
    ("unknown kind", TOPIC, _with(kind="robot"), "PayloadInvalid", "robot", "$.kind", True),
    ("unknown type", TOPIC, _with(type="alarm.zombie"), "PayloadInvalid", "zombie", "$.type", True),
    ("site mismatch", TOPIC, _with(site="room-99"), "TopicMismatch", "room-99", "$.site", True),
    (
        "kind mismatch",
        TOPIC,
        _with(kind="door_lock"),
        "TopicMismatch",
        "door_lock",
        "$.kind",
        True,
    ),
    ("device mismatch", TOPIC, _with(device="other"), "TopicMismatch", "other", "$.device", True),
    (
        "unknown kind in the topic",
        f"{SPACE.prefix}shouwang/v1/{SITE}/events/robot/panic-0031",
        _with(kind="robot"),
        "TopicError",
        "robot",
        None,
        True,
    ),
    (
        "topic of no v1 shape",
        f"{SPACE.prefix}shouwang/v1/{SITE}/events/panic_alarm/panic-0031/extra",
        _with(),
        "TopicError",
        "v1 topic shapes",
        None,
        True,
    ),
]


@pytest.mark.parametrize(
    ("topic", "payload", "error", "words", "path", "acked"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUTS],
)
def test_bad_input_is_a_dead_letter_with_its_reason(  # noqa: PLR0917 - parametrized
    topic: str, payload: bytes, error: str, words: str, path: str | None, acked: bool
) -> None:
    """Each kind of bad input is a dead letter naming the problem, acked when it can be."""
    letter = classify(SPACE, topic, payload)
    assert isinstance(letter, DeadLetter)
    assert letter.error == error
    assert words in letter.reason
    assert letter.error_path == path
    assert letter.site == SITE
    assert letter.size == len(payload)
    assert letter.ack == (AckKey(site=SITE, epoch=EPOCH, seq=7) if acked else None)


def test_oversize_payload_is_kept_only_up_to_the_limit() -> None:
    """An oversize payload is stored cut to the topic's limit, with its real size."""
    payload = _oversize()
    letter = classify(SPACE, TOPIC, payload)
    assert isinstance(letter, DeadLetter)
    assert letter.payload == payload[: SIZE_LIMITS[EventTopic]]
    assert letter.size == len(payload) > SIZE_LIMITS[EventTopic]


def test_huge_payload_is_not_parsed_for_an_ack_key() -> None:
    """Past MAX_SALVAGE_BYTES the hub does not parse a refused payload at all."""
    payload = _with(data={"blob": "x" * MAX_SALVAGE_BYTES})
    letter = classify(SPACE, TOPIC, payload)
    assert isinstance(letter, DeadLetter)
    assert letter.ack is None


def test_site_from_the_payload_is_kept_but_never_acked() -> None:
    """A topic without a valid site level: the payload's site is stored, nothing is acked."""
    letter = classify(SPACE, f"{SPACE.prefix}shouwang/v1/Bad!/events/x/y", _with())
    assert isinstance(letter, DeadLetter)
    assert letter.site == SITE
    assert letter.ack is None


def test_topic_outside_the_prefix_is_a_dead_letter_without_site() -> None:
    """A topic outside the hub's namespace is refused with no site and no ack."""
    letter = classify(SPACE, "elsewhere/topic", b"not json")
    assert isinstance(letter, DeadLetter)
    assert letter.error == "TopicError"
    assert letter.site is None
    assert letter.ack is None


def test_valid_messages_decode_to_their_values() -> None:
    """A valid event and a valid inventory come back as wire values."""
    assert isinstance(classify(SPACE, TOPIC, _with()), Event)
    inventory = {"v": 1, "site": SITE, "at": "2025-03-01T06:00:01.000000Z", "devices": []}
    assert isinstance(classify(SPACE, SPACE.inventory(SITE), dump(inventory)), Inventory)


def test_hub_status_is_ignored_not_dead_lettered() -> None:
    """`+/status` also matches `_hub/status`: a hub's own status is not ingest's business."""
    status = {
        "v": 1,
        "hub": "hub-a",
        "state": "online",
        "version": "0.1.0",
        "started_at": "2025-03-01T05:59:12.500000Z",
        "clock": "2025-03-01T08:15:30.120000Z",
        "components": {
            part: {"alive": True, "detail": None} for part in ("ingest", "rules", "relay")
        },
    }
    assert isinstance(classify(SPACE, SPACE.hub_status(), dump(status)), Ignored)
