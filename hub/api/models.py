"""The API's response bodies (they make the published OpenAPI schema)."""

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AlertOut",
    "AlertPage",
    "AuditEntryOut",
    "AuditTrail",
    "ComponentOut",
    "DeviceCounts",
    "DeviceDetail",
    "DeviceOut",
    "DevicePage",
    "EventCountOut",
    "EventCounts",
    "EventOut",
    "EventPage",
    "HealthOut",
    "SilenceOut",
    "SilencePage",
    "SiteDetail",
    "SiteList",
    "SiteOut",
    "TokenList",
    "TokenOut",
]

Time = Annotated[str, Field(description="RFC 3339 UTC with six fractional digits and Z")]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventOut(_Out):
    """One stored event, as the agent sent it plus the hub's `received_at`."""

    id: uuid.UUID = Field(description="UUIDv7 fixed at the edge")
    at: Time
    received_at: Time = Field(description="when the hub's transaction stored it")
    site: str = Field(description="monitoring room")
    device: str = Field(description="device id, unique within the site")
    kind: str = Field(description="device kind")
    type: str = Field(description="event type")
    lane: int = Field(ge=0, le=2, description="delivery lane: 0 (P0) to 2 (P2)")
    epoch: uuid.UUID = Field(description="the agent outbox's epoch")
    seq: int = Field(ge=1, description="sequence number within the epoch")
    source: dict[str, Any] = Field(description="driver and raw identifiers")
    data: dict[str, Any] = Field(description="the type's own fields")


class EventPage(_Out):
    """A page of events, newest first."""

    events: list[EventOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null at the end"
    )


class AlertOut(_Out):
    """One alert as it stands."""

    alert_id: uuid.UUID
    rule: str
    severity: str
    site: str
    device: str | None
    state: Literal["open", "acknowledged", "resolved"]
    revision: int = Field(ge=1, description="+1 per transition")
    count: int = Field(ge=1, description="events gathered")
    first_at: Time
    last_at: Time
    event_ids: list[uuid.UUID] = Field(description="the first 1,000 events gathered")
    created_at: Time
    updated_at: Time
    title: str | None = Field(description="the rule's one-line description of it")
    acked_by: str | None = Field(description="who acknowledged it (`token:<id> (<label>)`)")
    acked_at: Time | None
    resolved_by: str | None = Field(description="who resolved it (or the rule that did)")
    resolved_at: Time | None
    escalations: int = Field(ge=0, description="times escalated while unacknowledged")
    silence_id: uuid.UUID | None = Field(
        description="muted: the silence that covers it (stored, not notified)"
    )
    inhibited_by: uuid.UUID | None = Field(
        description="muted: the alert that inhibits it (a blind site's `site.blind`)"
    )
    incident_id: uuid.UUID | None = Field(description="the incident it is grouped into")


class AlertPage(_Out):
    """A page of alerts, newest first (by creation)."""

    alerts: list[AlertOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null at the end"
    )


class AuditEntryOut(_Out):
    """One transition of an alert, as recorded when it happened."""

    revision: int = Field(ge=1)
    transition: Literal["opened", "updated", "escalated", "acknowledged", "resolved"]
    severity: str = Field(description="the alert's severity after the transition")
    actor: str = Field(description="`token:<id> (<label>)` for people, `rule:<name>` for rules")
    note: str | None
    notified: bool = Field(description="queued for delivery (false: the alert was muted)")
    at: Time


class AuditTrail(_Out):
    """Every transition of one alert, oldest first (by revision)."""

    alert_id: uuid.UUID
    entries: list[AuditEntryOut]


class SilenceOut(_Out):
    """A silence: matching alerts are stored but not notified during its interval."""

    silence_id: uuid.UUID
    site: str | None = Field(description="null: every site")
    device: str | None = Field(description="null: every device of the site")
    rule: str | None = Field(description="null: every rule")
    starts_at: Time
    ends_at: Time = Field(description="exclusive; set to the time it was ended early")
    created_by: str
    reason: str
    created_at: Time
    active: bool = Field(description="it covers alerts right now")


class SilencePage(_Out):
    """A page of silences, newest first (by creation)."""

    silences: list[SilenceOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null at the end"
    )


class ComponentOut(_Out):
    """One of the hub's loops."""

    alive: bool
    detail: str | None


class HealthOut(_Out):
    """Whether the hub can do its job right now."""

    status: Literal["ok", "degraded"]
    database: bool = Field(description="the database answered just now")
    database_detail: str | None = Field(description="why it did not")
    mqtt_connected: bool | None = Field(description="null when the API runs without a hub")
    components: dict[str, ComponentOut] | None = Field(
        description="ingest, rules, relay; null when the API runs without a hub"
    )


class DeviceCounts(_Out):
    """A site's devices, by whether they answer."""

    total: int = Field(ge=0)
    online: int = Field(ge=0)
    offline: int = Field(ge=0)
    unknown: int = Field(ge=0, description="never reported whether it answers")


class SiteOut(_Out):
    """One monitoring room."""

    site: str
    state: Literal["online", "offline"] | None = Field(
        description="its agent's state (status or LWT); null before the first status"
    )
    last_status_at: Time | None = Field(description="when the hub received the last status")
    inventory_at: Time | None = Field(description="when the latest inventory came")
    inventory_count: int | None = Field(description="devices in the latest inventory")
    first_seen: Time
    devices: DeviceCounts
    degraded: bool | None = Field(
        description="its agent's last status said it is shedding events (outbox full); "
        "null before the first status"
    )


class SiteList(_Out):
    """Every site the caller may see, by id."""

    sites: list[SiteOut]


class SiteDetail(SiteOut):
    """One monitoring room, with its agent's last status as received."""

    status: dict[str, Any] | None = Field(description="the agent status (docs/contract.md)")


class DeviceOut(_Out):
    """One device as the hub knows it (docs/schema.md, `devices`)."""

    site: str
    device: str = Field(description="unique within its site only")
    kind: str
    label: str | None
    checkin_s: int | None = Field(description="expected check-in interval (inventory)")
    inventoried: bool = Field(description="listed in the site's latest inventory")
    first_seen: Time | None
    last_seen: Time | None = Field(description="`at` of its newest event")
    last_event_id: uuid.UUID | None
    last_type: str | None
    last_state: dict[str, Any] | None
    state_at: Time | None
    online: bool | None = Field(description="null: never reported")
    online_at: Time | None


class DevicePage(_Out):
    """A page of devices, by (site, device)."""

    devices: list[DeviceOut]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null at the end"
    )


class DeviceDetail(DeviceOut):
    """One device and its most recent events, newest first."""

    recent_events: list[EventOut]


class TokenOut(_Out):
    """An API token, without its secret."""

    id: str
    role: Literal["viewer", "operator", "admin"]
    all_sites: bool
    sites: list[str]
    label: str | None
    created_at: Time
    revoked_at: Time | None
    last_used_at: Time | None


class TokenList(_Out):
    """Every token issued, oldest first."""

    tokens: list[TokenOut]


class EventCountOut(_Out):
    """How many events of one site, kind and type happened in one bucket."""

    bucket_start: Time = Field(description="the bucket's start, aligned to UTC")
    site: str
    kind: str
    type: str
    count: int = Field(ge=1)


class EventCounts(_Out):
    """Non-zero counts by bucket, then site, kind and type."""

    bucket: Literal["1m", "1h", "1d"] = Field(description="bucket width")
    start: Time = Field(description="`from`, or its default")
    end: Time = Field(description="`to`, or its default")
    counts: list[EventCountOut]
