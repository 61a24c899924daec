"""The rules, as data: which event types raise which alert, how bad, and for what scope.

The first rule is the walking skeleton's: a 110 panic button pressed opens a critical
alert for that device; pressing it again while the alert is not resolved updates the
same alert (count + 1). Held-for-duration, absence, correlation and schedule rules come
with the alerting issue and will be further tables, not branches in the engine.
"""

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from wire import EventType, Severity

__all__ = ["RULES", "RULES_BY_TYPE", "EventRule"]


@dataclass(frozen=True, slots=True)
class EventRule:
    """An immediate rule: any event of `types` raises (or updates) an alert of `name`.

    Alerts are de-duplicated per (rule, site, device): while one is not resolved, a new
    matching event updates it instead of opening another.
    """

    name: str
    types: frozenset[EventType]
    severity: Severity
    description: str


RULES: Final = (
    EventRule(
        name="panic",
        types=frozenset({EventType.ALARM_PANIC}),
        severity=Severity.CRITICAL,
        description="a 110 one-key alarm was pressed",
    ),
)
"""Every rule the hub runs, in the order it runs them on an event."""

RULES_BY_TYPE: Final = MappingProxyType(
    {t: tuple(r for r in RULES if t in r.types) for t in EventType}
)
"""The rules each event type triggers (empty for most)."""
