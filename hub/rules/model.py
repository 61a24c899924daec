"""The rules file, as data: one pydantic model per rule kind, closed and bounded.

```yaml
rules:
  - name: panic
    kind: immediate
    match: {types: [alarm.panic]}
    severity: critical
    escalate_after_s: 120
  - name: ac-lost-10min
    kind: duration
    start: {types: [power.ac_lost]}
    stop: {types: [power.ac_restored]}
    for_s: 600
    severity: low
  - name: site-blind
    kind: absence
    of: agent
    grace_s: 90
    severity: high
```

docs/alerting.md describes every field; `hub.rules.loader` reads a file into a
`RuleFile` with file/line errors.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property
from typing import Annotated, Final, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wire import EventType, Kind, Severity

__all__ = [
    "NEVER_AUTO_RESOLVED",
    "AbsenceRule",
    "AnyRule",
    "CorrelationRule",
    "CountRule",
    "DurationRule",
    "Group",
    "ImmediateRule",
    "Link",
    "Match",
    "RuleFile",
    "Schedule",
    "Window",
]

RULE_NAME: Final = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
NEVER_AUTO_RESOLVED: Final = frozenset({EventType.ALARM_PANIC, EventType.ALARM_DURESS})
"""A person pressed a button: only a person resolves what follows (never a restore)."""

_ID: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Name = Annotated[str, Field(pattern=RULE_NAME, description="Rule name: [a-z0-9][a-z0-9_.-]*")]
Ids = Annotated[tuple[str, ...], Field(max_length=1000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Model):
    """Which events a rule looks at: every given list must contain the event's value."""

    types: tuple[str, ...] = Field(
        min_length=1,
        max_length=64,
        description="Event types; `alarm.*` means every type starting with `alarm.`.",
    )
    kinds: tuple[Kind, ...] | None = Field(default=None, description="Device kinds.")
    sites: Ids | None = Field(default=None, description="Site ids.")
    devices: Ids | None = Field(default=None, description="Device ids (in any site).")
    data: dict[str, str | int | float | bool] | None = Field(
        default=None, max_length=16, description="Fields of `data` that must equal these."
    )

    @field_validator("types")
    @classmethod
    def _known_types(cls, types: tuple[str, ...]) -> tuple[str, ...]:
        known = {t.value for t in EventType}
        for pattern in types:
            prefix = pattern.removesuffix("*")
            if pattern.endswith("*"):
                found = any(t.startswith(prefix) for t in known)
            else:
                found = pattern in known
            if not found:
                raise ValueError(f"{pattern!r} matches no v1 event type")
        return types

    @field_validator("sites", "devices")
    @classmethod
    def _ids(cls, ids: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for value in ids or ():
            if not _ID.match(value):
                raise ValueError(f"{value!r} is not a valid id")
        return ids

    @cached_property
    def type_set(self) -> frozenset[EventType]:
        """`event_types()`, computed once: rules check it for every event they see."""
        return self.event_types()

    def event_types(self) -> frozenset[EventType]:
        """Every v1 event type the `types` patterns name."""
        return frozenset(
            t
            for t in EventType
            for pattern in self.types
            if (t.value.startswith(pattern[:-1]) if pattern.endswith("*") else t.value == pattern)
        )


class Window(_Model):
    """Part of a week: from `start` to `end` local time on `days` (past midnight allowed)."""

    days: tuple[Day, ...] = Field(default=_DAYS, min_length=1, max_length=7, description="Days.")
    start: dt.time = Field(description="Local start time, HH:MM.")
    end: dt.time = Field(description="Local end time, HH:MM; before `start`: the next day.")

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            message = "start and end are equal: the window would be empty"
            raise ValueError(message)
        return self

    def contains(self, local: dt.datetime) -> bool:
        """Whether the local time `local` falls in the window (a night belongs to its start)."""
        day, clock = _DAYS[local.weekday()], local.time()
        if self.start < self.end:
            return day in self.days and self.start <= clock < self.end
        if clock >= self.start:
            return day in self.days
        yesterday = _DAYS[(local.weekday() - 1) % 7]
        return clock < self.end and yesterday in self.days


class Schedule(_Model):
    """When a rule applies, judged by the event's `at` in `timezone`."""

    timezone: str = Field(
        default="UTC", max_length=64, description="IANA zone, e.g. Asia/Shanghai."
    )
    windows: tuple[Window, ...] = Field(min_length=1, max_length=32, description="Any of these.")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{name!r} is not a known time zone") from exc
        return name

    def applies(self, at: dt.datetime) -> bool:
        """Whether the instant `at` (timezone-aware) falls in one of the windows."""
        local = at.astimezone(ZoneInfo(self.timezone))
        return any(window.contains(local) for window in self.windows)


class Group(_Model):
    """When `min_alerts` alerts of one rule open across sites within `window_s`, they form
    one incident: notified once, then updated, instead of one notification per alert."""

    window_s: int = Field(default=60, ge=1, le=3600, description="Seconds between alerts.")
    min_alerts: int = Field(default=5, ge=2, le=10_000, description="Alerts that make one.")


class _Rule(_Model):
    name: Name
    severity: Severity = Field(description="The alert's severity when it opens.")
    title: str | None = Field(default=None, max_length=200, description="Human-readable title.")
    escalate_after_s: int | None = Field(
        default=None,
        ge=10,
        le=7 * 86_400,
        description="Unacknowledged this long: one severity step up, notified again, and "
        "again after as long.",
    )
    schedule: Schedule | None = Field(default=None, description="When the rule applies.")
    group: Group | None = Field(
        default=None, description="Alerts of this rule across sites grouped into incidents."
    )


class ImmediateRule(_Rule):
    """An event that matches opens an alert per device (or updates the open one)."""

    kind: Literal["immediate"]
    match: Match = Field(description="The events that raise it.")
    resolve_on: tuple[str, ...] = Field(
        default=(),
        max_length=16,
        description="Event types from the same device that resolve the alert.",
    )

    @model_validator(mode="after")
    def _restores(self) -> Self:
        if self.resolve_on:
            Match(types=self.resolve_on)  # the same type check
            if self.match.event_types() & NEVER_AUTO_RESOLVED:
                message = "panic and duress alerts are resolved by a person, never by an event"
                raise ValueError(message)
        return self


class DurationRule(_Rule):
    """A condition that holds for `for_s` (from a `start` event to a `stop` event)."""

    kind: Literal["duration"]
    start: Match = Field(description="The event that starts the condition.")
    stop: Match = Field(description="The event that ends it (same device).")
    for_s: int = Field(ge=1, le=7 * 86_400, description="How long it must hold, seconds.")
    resolve_on_stop: bool = Field(default=True, description="The stop event resolves the alert.")


class AbsenceRule(_Rule):
    """Something expected did not happen: a site's agent, a device's first report, a canary.

    - `agent`: the site's agent is offline (LWT) for `offline_grace_s`, or its status is
      older than `grace_s` → one alert for the site (`site.blind`); it inhibits the site's
      device alerts while it lasts, and resolves when the agent is back.
    - `never_reported`: an inventoried device that has sent nothing `grace_s` after it
      was inventoried.
    - `canary`: no `test.periodic` event from the site's device `canary_device` for
      `grace_s` (the end-to-end path is broken even if everything looks up).
    - `relay`: a transition of the site's alerts still undelivered to MQTT `grace_s`
      after it was written (the hub's relay is stalled).
    """

    kind: Literal["absence"]
    of: Literal["agent", "never_reported", "canary", "relay"] = Field(
        description="What is awaited."
    )
    grace_s: int = Field(ge=1, le=30 * 86_400, description="How long it may be missing, seconds.")
    offline_grace_s: int = Field(
        default=30, ge=0, le=3600, description="`agent`: how long an LWT offline is tolerated."
    )
    canary_device: str = Field(
        default="canary", pattern=_ID.pattern, description="`canary`: the device id of the canary."
    )
    inhibits_devices: bool = Field(
        default=False,
        description="While open, the site's new device alerts are stored but not notified.",
    )


class CorrelationRule(_Rule):
    """`first` then `then` at one site within `within_s` (by their `at`, in either arrival
    order): one alert for the `first` event's device. With `linked`, the `then` event
    must come from a device linked to it (the file's `links`), e.g. door forced and
    motion on the camera that watches that door."""

    kind: Literal["correlation"]
    first: Match = Field(description="The first event.")
    then: Match = Field(description="The event that confirms it.")
    within_s: int = Field(ge=1, le=86_400, description="Seconds from first to then.")
    linked: bool = Field(default=False, description="`then` must come from a linked device.")


class CountRule(_Rule):
    """`count` matching events at one site within `within_s`: one alert for the site,
    e.g. three alarms in five minutes."""

    kind: Literal["count"]
    match: Match = Field(description="The events counted.")
    count: int = Field(ge=2, le=1000, description="How many make the alert.")
    within_s: int = Field(ge=1, le=86_400, description="The window, seconds.")


class Link(_Model):
    """Devices of one site that watch the same place (a door and its cameras)."""

    site: str = Field(pattern=_ID.pattern, description="The site.")
    device: str = Field(pattern=_ID.pattern, description="One device, e.g. a door.")
    to: tuple[Annotated[str, Field(pattern=_ID.pattern)], ...] = Field(
        min_length=1, max_length=64, description="The devices linked to it, e.g. cameras."
    )


AnyRule = Annotated[
    ImmediateRule | DurationRule | AbsenceRule | CorrelationRule | CountRule,
    Field(discriminator="kind"),
]


class RuleFile(_Model):
    """A rules file: the rules, names unique."""

    rules: tuple[AnyRule, ...] = Field(max_length=500, description="Every rule, in order.")
    links: tuple[Link, ...] = Field(
        default=(), max_length=100_000, description="Device links (both ways)."
    )

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: tuple[AnyRule, ...]) -> tuple[AnyRule, ...]:
        seen: set[str] = set()
        for rule in rules:
            if rule.name in seen:
                raise ValueError(f"rule name {rule.name!r} is used twice")
            seen.add(rule.name)
        return rules
