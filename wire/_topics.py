"""Topic names: the values they parse into, their builders, and subscription filters.

Every contract topic is `shouwang/v1/...`. A deployment may put a prefix in front
(`TopicSpace("test-4f2a/")`) so that several test runs share one broker without
seeing each other; production uses the empty prefix, which is exactly the contract.

A topic is parsed once, into one of the frozen values of `Topic`; handlers `match` on
the value and never split strings themselves.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Final

from wire._errors import TopicError, quote
from wire._ids import ID_PATTERN, is_valid_id
from wire._types import Kind

__all__ = [
    "DEFAULT_TOPICS",
    "AckTopic",
    "AlertsTopic",
    "EventTopic",
    "HubStatusTopic",
    "InventoryTopic",
    "SnapshotTopic",
    "StateTopic",
    "StatusTopic",
    "Topic",
    "TopicSpace",
    "parse_topic",
    "shared_subscription",
]

ROOT: Final = "shouwang/v1/"
MAX_PREFIX: Final = 128
_QUOTE_NAME: Final = 200  # long enough for any valid topic, so only junk gets cut
# Levels only (`[^/+#]+/` repeated), no NUL, and not `$...`: the broker owns `$SYS`/`$share`.
_PREFIX_RE: Final = re.compile(r"\A(?!\$)(?:[^/+#\x00]+/)+\Z")
_GROUP_RE: Final = re.compile(r"\A[^/+#\x00]{1,128}\Z")
# Where each field sits in `shouwang/v1/{site}/{word}/{kind}/{device}/{event_id}` (1-based).
_SEGMENT: Final = {"site": 3, "kind": 5, "device": 6, "event_id": 7}


class _FieldError(TopicError):
    """A topic field that fails its rule; `parse` turns it into a message with a position."""

    def __init__(self, *, field: str, value: object, rule: str) -> None:
        super().__init__(f"{field} {quote(value)} is not {rule}")
        self.field = field
        self.value = value
        self.rule = rule


def _check_id(field: str, value: str) -> None:
    if not isinstance(value, str) or not is_valid_id(value):
        raise _FieldError(field=field, value=value, rule=f"a valid {field} id ({ID_PATTERN})")


# A dict lookup, not `Kind(value)`: topics are parsed for every message the hub takes.
_KINDS: Final = {kind.value: kind for kind in Kind}


def _check_kind(value: str) -> Kind:
    kind = _KINDS.get(value) if isinstance(value, str) else None
    if kind is None:
        rule = f"a v1 kind ({', '.join(Kind)})"
        raise _FieldError(field="kind", value=value, rule=rule)
    return kind


def _check_event_id(value: str) -> None:
    try:
        canonical = str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError) as exc:
        raise _FieldError(field="event_id", value=value, rule="a UUID") from exc
    if canonical != value:
        rule = "a UUID in lowercase hyphenated form"
        raise _FieldError(field="event_id", value=value, rule=rule)


@dataclass(frozen=True, slots=True)
class EventTopic:
    """`shouwang/v1/{site}/events/{kind}/{device}`: one device's events."""

    site: str
    kind: Kind
    device: str

    def __post_init__(self) -> None:
        _check_id("site", self.site)
        object.__setattr__(self, "kind", _check_kind(self.kind))
        _check_id("device", self.device)

    @property
    def path(self) -> str:
        """The topic name without any deployment prefix."""
        return f"{ROOT}{self.site}/events/{self.kind}/{self.device}"


@dataclass(frozen=True, slots=True)
class StateTopic:
    """`shouwang/v1/{site}/state/{kind}/{device}`: one device's retained current state."""

    site: str
    kind: Kind
    device: str

    def __post_init__(self) -> None:
        _check_id("site", self.site)
        object.__setattr__(self, "kind", _check_kind(self.kind))
        _check_id("device", self.device)

    @property
    def path(self) -> str:
        """The topic name without any deployment prefix."""
        return f"{ROOT}{self.site}/state/{self.kind}/{self.device}"


@dataclass(frozen=True, slots=True)
class SnapshotTopic:
    """`shouwang/v1/{site}/snapshots/{kind}/{device}/{event_id}`: a JPEG for one event."""

    site: str
    kind: Kind
    device: str
    event_id: str

    def __post_init__(self) -> None:
        _check_id("site", self.site)
        object.__setattr__(self, "kind", _check_kind(self.kind))
        _check_id("device", self.device)
        _check_event_id(self.event_id)

    @property
    def path(self) -> str:
        """The topic name without any deployment prefix."""
        return f"{ROOT}{self.site}/snapshots/{self.kind}/{self.device}/{self.event_id}"


@dataclass(frozen=True, slots=True)
class InventoryTopic:
    """`shouwang/v1/{site}/inventory`: every device the site's agent is configured with."""

    site: str

    def __post_init__(self) -> None:
        _check_id("site", self.site)

    @property
    def path(self) -> str:
        """The topic name without any deployment prefix."""
        return f"{ROOT}{self.site}/inventory"


@dataclass(frozen=True, slots=True)
class StatusTopic:
    """`shouwang/v1/{site}/status`: the agent's retained status and its LWT."""

    site: str

    def __post_init__(self) -> None:
        _check_id("site", self.site)

    @property
    def path(self) -> str:
        """The topic name without any deployment prefix."""
        return f"{ROOT}{self.site}/status"


@dataclass(frozen=True, slots=True)
class AckTopic:
    """`shouwang/v1/{site}/ack`: the hub's acks of committed events, to the site's agent."""

    site: str

    def __post_init__(self) -> None:
        _check_id("site", self.site)

    @property
    def path(self) -> str:
        """The topic name without any deployment prefix."""
        return f"{ROOT}{self.site}/ack"


@dataclass(frozen=True, slots=True)
class AlertsTopic:
    """`shouwang/v1/{site}/alerts`: alert transitions about the site, from the hub."""

    site: str

    def __post_init__(self) -> None:
        _check_id("site", self.site)

    @property
    def path(self) -> str:
        """The topic name without any deployment prefix."""
        return f"{ROOT}{self.site}/alerts"


@dataclass(frozen=True, slots=True)
class HubStatusTopic:
    """`shouwang/v1/_hub/status`: the hub's retained health and its LWT."""

    @property
    def path(self) -> str:
        """The topic name without any deployment prefix."""
        return f"{ROOT}_hub/status"


Topic = (
    EventTopic
    | StateTopic
    | SnapshotTopic
    | InventoryTopic
    | StatusTopic
    | AckTopic
    | AlertsTopic
    | HubStatusTopic
)


def _match(segments: list[str]) -> Topic:
    """The topic that `segments` (the name split on `/`, without prefix) spell."""
    topic: Topic
    match segments:
        case ["shouwang", "v1", "_hub", "status"]:
            topic = HubStatusTopic()
        case ["shouwang", "v1", site, "events", kind, device]:
            topic = EventTopic(site, _check_kind(kind), device)
        case ["shouwang", "v1", site, "state", kind, device]:
            topic = StateTopic(site, _check_kind(kind), device)
        case ["shouwang", "v1", site, "snapshots", kind, device, event_id]:
            topic = SnapshotTopic(site, _check_kind(kind), device, event_id)
        case ["shouwang", "v1", site, "inventory"]:
            topic = InventoryTopic(site)
        case ["shouwang", "v1", site, "status"]:
            topic = StatusTopic(site)
        case ["shouwang", "v1", site, "ack"]:
            topic = AckTopic(site)
        case ["shouwang", "v1", site, "alerts"]:
            topic = AlertsTopic(site)
        case ["shouwang", "v1", *_]:
            message = "is not one of the v1 topic shapes"
            raise TopicError(message)
        case ["shouwang", version, *_]:
            raise TopicError(f"has version {quote(version)}; only v1 is known")
        case _:
            message = "is not under shouwang/"
            raise TopicError(message)
    return topic


@dataclass(frozen=True, slots=True)
class TopicSpace:
    """The contract's topics under a deployment prefix (`""` in production).

    A non-empty prefix is one or more topic levels ending with `/` (`"ci-7/"`), at most
    `MAX_PREFIX` characters, without wildcards, NUL or a leading `$`.
    """

    prefix: str = ""

    def __post_init__(self) -> None:
        if self.prefix and (len(self.prefix) > MAX_PREFIX or _PREFIX_RE.match(self.prefix) is None):
            raise TopicError(
                f"topic prefix {quote(self.prefix)} must be at most {MAX_PREFIX} characters "
                "of non-empty levels each ending with '/', without '+', '#', NUL or a leading '$'"
            )

    def name(self, topic: Topic) -> str:
        """The full topic name of `topic` in this space."""
        return self.prefix + topic.path

    def parse(self, name: str) -> Topic:
        """The topic that `name` is, or `TopicError` saying what is wrong and where."""
        if not name.startswith(self.prefix):
            raise TopicError(
                f"topic {quote(name, _QUOTE_NAME)} is not under the prefix {self.prefix!r}"
            )
        try:
            return _match(name[len(self.prefix) :].split("/"))
        except _FieldError as exc:
            segment = self.prefix.count("/") + _SEGMENT[exc.field]
            raise TopicError(
                f"topic {quote(name, _QUOTE_NAME)}: segment {segment} {quote(exc.value)} "
                f"is not {exc.rule}"
            ) from exc
        except TopicError as exc:
            raise TopicError(f"topic {quote(name, _QUOTE_NAME)} {exc}") from exc

    # Builders, one per contract topic.

    def events(self, site: str, kind: Kind, device: str) -> str:
        """Where an agent publishes one device's events."""
        return self.prefix + EventTopic(site, kind, device).path

    def state(self, site: str, kind: Kind, device: str) -> str:
        """Where an agent keeps one device's current state (retained)."""
        return self.prefix + StateTopic(site, kind, device).path

    def snapshot(self, site: str, kind: Kind, device: str, event_id: uuid.UUID | str) -> str:
        """Where an agent publishes the JPEG that goes with one event."""
        return self.prefix + SnapshotTopic(site, kind, device, str(event_id)).path

    def inventory(self, site: str) -> str:
        """Where an agent keeps its list of configured devices (retained)."""
        return self.prefix + InventoryTopic(site).path

    def status(self, site: str) -> str:
        """Where an agent keeps its status and sets its LWT (retained)."""
        return self.prefix + StatusTopic(site).path

    def ack(self, site: str) -> str:
        """Where the hub acks a site's events; the agent subscribes to exactly this."""
        return self.prefix + AckTopic(site).path

    def alerts(self, site: str) -> str:
        """Where the hub publishes one site's alert transitions (also its filter)."""
        return self.prefix + AlertsTopic(site).path

    def hub_status(self) -> str:
        """Where the hub keeps its health and sets its LWT (retained)."""
        return self.prefix + HubStatusTopic().path

    # Subscription filters.

    def all_events(self) -> str:
        """Every site's events: what the hub's ingest subscribes to."""
        return f"{self.prefix}{ROOT}+/events/#"

    def site_events(self, site: str) -> str:
        """One site's events, every kind and device."""
        _check_id("site", site)
        return f"{self.prefix}{ROOT}{site}/events/#"

    def all_states(self) -> str:
        """Every device's retained state, every site."""
        return f"{self.prefix}{ROOT}+/state/#"

    def all_snapshots(self) -> str:
        """Every site's snapshots."""
        return f"{self.prefix}{ROOT}+/snapshots/#"

    def all_inventories(self) -> str:
        """Every site's inventory."""
        return f"{self.prefix}{ROOT}+/inventory"

    def all_statuses(self) -> str:
        """Every agent's status (and LWT)."""
        return f"{self.prefix}{ROOT}+/status"

    def all_alerts(self) -> str:
        """Every site's alert transitions."""
        return f"{self.prefix}{ROOT}+/alerts"


DEFAULT_TOPICS: Final = TopicSpace()
"""The production space: the contract's topic names exactly."""


def parse_topic(name: str) -> Topic:
    """Parse a topic name of the production space (no prefix); `TopicError` if it is none."""
    return DEFAULT_TOPICS.parse(name)


def shared_subscription(group: str, topic_filter: str) -> str:
    """`$share/{group}/{filter}`: one copy of each message per group, spread over members."""
    if _GROUP_RE.match(group) is None:
        raise TopicError(f"share group {quote(group)} must be 1-128 characters without /, +, #")
    return f"$share/{group}/{topic_filter}"
