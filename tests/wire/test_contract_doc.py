"""docs/contract.md's example payloads are real: each decodes on the topic it names."""

import re
from pathlib import Path

import pytest

import wire

DOC = Path(__file__).resolve().parents[2] / "docs" / "contract.md"
# "Topic: `name`" on its own line, then (after blank lines or prose-free space) a json block.
EXAMPLE = re.compile(r"^Topic: `(?P<topic>[^`]+)`\s*\n\s*```json\n(?P<body>.*?)\n```", re.M | re.S)


def _examples() -> list[tuple[str, str]]:
    return [(found["topic"], found["body"]) for found in EXAMPLE.finditer(DOC.read_text("utf-8"))]


@pytest.mark.parametrize(("topic", "body"), _examples())
def test_doc_example_decodes_on_its_topic(topic: str, body: str) -> None:
    """Each example payload in the contract document is valid for its topic."""
    parsed, message = wire.decode(topic, body.encode())
    assert parsed == wire.parse_topic(topic)
    assert not isinstance(message, bytes)


def test_doc_has_one_example_per_json_topic() -> None:
    """Every topic but the JPEG snapshots has exactly one example payload."""
    kinds = [type(wire.parse_topic(topic)) for topic, _ in _examples()]
    json_topics = set(wire.SIZE_LIMITS) - {wire.SnapshotTopic}
    assert sorted(kind.__name__ for kind in kinds) == sorted(kind.__name__ for kind in json_topics)


def test_doc_size_limits_match_the_code() -> None:
    """The size-limit column of the document's topic table matches SIZE_LIMITS."""
    text = DOC.read_text("utf-8")
    rows = re.findall(r"^\| `(shouwang/v1/[^`]+)` \|.*\| (\d+) (KiB|MiB) \|$", text, re.M)
    assert len(rows) == len(wire.SIZE_LIMITS)
    for name, amount, unit in rows:
        concrete = (
            name.replace("{site}", "room-07")
            .replace("{kind}", "camera")
            .replace("{device}", "cam-01")
            .replace("{event_id}", "0190f1f4-5a3b-7c4d-8e5f-6a7b8c9d0e1f")
        )
        limit = int(amount) * (1024 if unit == "KiB" else 1024 * 1024)
        assert wire.SIZE_LIMITS[type(wire.parse_topic(concrete))] == limit, name
