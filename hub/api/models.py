"""The API's response bodies (they make the published OpenAPI schema)."""

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AlertOut", "AlertPage", "ComponentOut", "EventOut", "EventPage", "HealthOut"]

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


class AlertPage(_Out):
    """A page of alerts, newest first (by creation)."""

    alerts: list[AlertOut]
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
