"""The alert transition the hub publishes."""

import uuid
from collections.abc import Callable
from typing import Any

import pytest

import wire
from tests.wire import samples
from tests.wire.samples import dump
from wire import Severity, Transition

Change = Callable[[dict[str, Any]], object]


def test_a_valid_alert_decodes() -> None:
    """Transition, severity and ids come out typed."""
    alert = wire.decode_alert(dump(samples.alert()))
    assert alert.transition is Transition.OPENED
    assert alert.severity is Severity.CRITICAL
    assert alert.event_ids == (uuid.UUID(samples.EVENT_ID),)
    assert alert.device == samples.DEVICE


def test_a_site_alert_has_no_device() -> None:
    """Alerts about a whole site (a blind agent) carry a null device."""
    payload = samples.alert()
    payload.update(rule="site.blind", device=None, event_ids=[])
    assert wire.decode_alert(dump(payload)).device is None


def test_an_acknowledgement_says_who_and_why() -> None:
    """`by` and `note` carry the operator and their words."""
    payload = samples.alert()
    payload.update(transition="acknowledged", revision=2, by="operator.li", note="已派员核实")
    alert = wire.decode_alert(dump(payload))
    assert (alert.by, alert.note) == ("operator.li", "已派员核实")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda p: p.update(first_at="2025-03-01T08:15:03.000000Z"),
            "`first_at` .* is after `last_at`",
        ),
        (lambda p: p.update(last_at="2025-03-01T08:15:02.123455Z"), "after `last_at`"),
        (lambda p: p.update(revision=0), r"\$\.revision"),
        (lambda p: p.update(count=0), r"\$\.count"),
        (lambda p: p.update(rule="Door Forced"), r"\$\.rule"),
        (lambda p: p.update(rule="r" * 129), r"\$\.rule"),
        (lambda p: p.update(severity="urgent"), r"\$\.severity"),
        (lambda p: p.update(transition="closed"), r"\$\.transition"),
        (lambda p: p.update(alert_id="a1"), r"\$\.alert_id"),
        (lambda p: p.update(event_ids=["e1"]), r"\$\.event_ids\[0\]"),
        (
            lambda p: p.update(event_ids=[samples.EVENT_ID] * (wire.MAX_ALERT_EVENTS + 1)),
            r"\$\.event_ids",
        ),
        (lambda p: p.update(note="n" * 4097), r"\$\.note"),
        (lambda p: p.update(by=""), r"\$\.by"),
        (lambda p: p.update(device="Door"), r"\$\.device"),
        (lambda p: p.pop("site"), "missing required field `site`"),
        (lambda p: p.update(first_at="2025-03-01T08:15:02.123456+00:00"), r"\$\.first_at"),
    ],
)
def test_bad_alerts_are_refused(change: Change, message: str) -> None:
    """A transition with times out of order or a field out of bounds is refused."""
    payload = samples.alert()
    change(payload)
    with pytest.raises(wire.PayloadInvalid, match=message):
        wire.decode_alert(dump(payload))


def test_the_largest_alert_fits_the_size_limit() -> None:
    """Every field at its bound (1,000 ids, a 4 KiB note, 100 incident sites) still encodes
    within 64 KiB."""
    alert = wire.AlertTransition(
        v=1,
        alert_id=uuid.uuid4(),
        revision=2**63 - 1,
        transition=Transition.ESCALATED,
        rule="r" * 128,
        severity=Severity.CRITICAL,
        site="s" * 64,
        device="d" * 64,
        count=2**63 - 1,
        first_at=samples.AT,
        last_at=samples.AT,
        event_ids=tuple(wire.new_event_id() for _ in range(wire.MAX_ALERT_EVENTS)),
        by="b" * 128,
        note="注" * 4096,
        incident=wire.Incident(
            incident_id=uuid.uuid4(),
            count=2**63 - 1,
            sites=tuple(f"{i:03d}" + "s" * 61 for i in range(wire.MAX_INCIDENT_SITES)),
        ),
    )
    assert len(wire.encode(alert)) <= 64 * 1024
    assert wire.decode_alert(wire.encode(alert)) == alert
