"""The alert transition the hub publishes on every step of an alert's lifecycle."""

import uuid
from typing import Annotated, Final

import msgspec

from wire._base import ShortText, Version, WireStruct
from wire._ids import RULE_PATTERN, DeviceId, SiteId
from wire._time import Timestamp, check_time
from wire._types import Severity, Transition

__all__ = ["MAX_ALERT_EVENTS", "MAX_INCIDENT_SITES", "MAX_NOTE", "AlertTransition", "Incident"]

MAX_ALERT_EVENTS: Final = 1000
"""Event ids carried per transition; `count` goes on past it (a mass event is one alert)."""

MAX_NOTE: Final = 4096

MAX_INCIDENT_SITES: Final = 100
"""Sites listed per incident; `count` goes on past it."""


class Incident(WireStruct, frozen=True, kw_only=True):
    """The alerts of one rule across sites grouped as one (a district power cut): how many
    so far, and at which sites (at most `MAX_INCIDENT_SITES` of them)."""

    incident_id: uuid.UUID
    count: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
    sites: Annotated[tuple[SiteId, ...], msgspec.Meta(max_length=MAX_INCIDENT_SITES)]


class AlertTransition(WireStruct, frozen=True, kw_only=True):
    """One step of one alert: opened, updated, escalated, acknowledged or resolved.

    `revision` grows by one per transition of the same `alert_id`, so consumers can drop
    stale or repeated deliveries. `device` is null for alerts about a whole site
    (`site.blind`). `count` is how many events the alert has gathered, `event_ids` which
    ones (at most `MAX_ALERT_EVENTS` of them). `by` and `note` say who acted and why.
    """

    v: Version
    alert_id: uuid.UUID
    revision: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
    transition: Transition
    rule: Annotated[str, msgspec.Meta(pattern=RULE_PATTERN, description="rule name")]
    severity: Severity
    site: SiteId
    device: DeviceId | None = None
    count: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
    first_at: Timestamp
    last_at: Timestamp
    event_ids: Annotated[tuple[uuid.UUID, ...], msgspec.Meta(max_length=MAX_ALERT_EVENTS)]
    by: ShortText | None = None
    note: Annotated[str, msgspec.Meta(max_length=MAX_NOTE)] | None = None
    incident: Incident | None = None

    def __post_init__(self) -> None:
        check_time("first_at", self.first_at)
        check_time("last_at", self.last_at)
        # Canonical times have a fixed width, so string order is time order.
        if self.first_at > self.last_at:
            raise ValueError(f"`first_at` {self.first_at} is after `last_at` {self.last_at}")
