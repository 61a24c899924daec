"""The rule table: which event types raise which alerts, and that every rule is valid."""

import uuid

import pytest

from hub.rules import RULES, RULES_BY_TYPE
from wire import AlertTransition, EventType, Severity, Transition, encode


def test_panic_raises_the_critical_panic_rule() -> None:
    """`alarm.panic` triggers exactly the `panic` rule, severity critical."""
    (rule,) = RULES_BY_TYPE[EventType.ALARM_PANIC]
    assert (rule.name, rule.severity) == ("panic", Severity.CRITICAL)


@pytest.mark.parametrize("event_type", [t for t in EventType if t is not EventType.ALARM_PANIC])
def test_other_types_raise_nothing_yet(event_type: EventType) -> None:
    """Every other v1 type has a row in the index, empty for now."""
    assert RULES_BY_TYPE[event_type] == ()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_rule_names_are_valid_on_the_wire(rule: object) -> None:
    """Each rule's name passes the contract's rule-name check (encode validates it)."""
    name = getattr(rule, "name")  # noqa: B009 - parametrize erases the type
    transition = AlertTransition(
        v=1,
        alert_id=uuid.uuid4(),
        revision=1,
        transition=Transition.OPENED,
        rule=name,
        severity=Severity.CRITICAL,
        site="room-07",
        count=1,
        first_at="2025-03-01T08:15:02.123456Z",
        last_at="2025-03-01T08:15:02.123456Z",
        event_ids=(),
    )
    assert encode(transition)
