"""Storage records to response bodies."""

from datetime import datetime
from typing import Literal, cast

from hub.api.models import (
    AlertOut,
    AuditEntryOut,
    DeviceCounts,
    DeviceOut,
    EventOut,
    SilenceOut,
    SiteDetail,
    SiteOut,
    TokenOut,
)
from hub.storage import AlertRecord, EventRecord
from hub.storage.audit import AuditRecord
from hub.storage.silences import SilenceRecord
from hub.storage.sites import DeviceRecord, SiteRecord
from hub.storage.tokens import TokenInfo
from wire import format_time

__all__ = [
    "alert_out",
    "audit_entry_out",
    "device_out",
    "event_out",
    "silence_out",
    "site_detail",
    "site_out",
    "token_out",
]


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def event_out(r: EventRecord) -> EventOut:
    """The body of one event."""
    return EventOut(
        id=r.id,
        at=format_time(r.at),
        received_at=format_time(r.received_at),
        site=r.site,
        device=r.device,
        kind=r.kind,
        type=r.type,
        lane=r.lane,
        epoch=r.epoch,
        seq=r.seq,
        source=r.source,
        data=r.data,
    )


def alert_out(r: AlertRecord) -> AlertOut:
    """The body of one alert."""
    return AlertOut(
        alert_id=r.alert_id,
        rule=r.rule,
        severity=r.severity,
        site=r.site,
        device=r.device,
        state=cast("Literal['open', 'acknowledged', 'resolved']", r.state),
        revision=r.revision,
        count=r.count,
        first_at=format_time(r.first_at),
        last_at=format_time(r.last_at),
        event_ids=r.event_ids,
        created_at=format_time(r.created_at),
        updated_at=format_time(r.updated_at),
        title=r.title,
        acked_by=r.acked_by,
        acked_at=_time(r.acked_at),
        resolved_by=r.resolved_by,
        resolved_at=_time(r.resolved_at),
        escalations=r.escalations,
        silence_id=r.silence_id,
        inhibited_by=r.inhibited_by,
        incident_id=r.incident_id,
    )


_Transition = Literal["opened", "updated", "escalated", "acknowledged", "resolved"]


def audit_entry_out(r: AuditRecord) -> AuditEntryOut:
    """The body of one audit entry."""
    return AuditEntryOut(
        revision=r.revision,
        transition=cast("_Transition", r.transition),
        severity=r.severity,
        actor=r.actor,
        note=r.note,
        notified=r.notified,
        at=format_time(r.at),
    )


def silence_out(r: SilenceRecord) -> SilenceOut:
    """The body of one silence."""
    return SilenceOut(
        silence_id=r.silence_id,
        site=r.site,
        device=r.device,
        rule=r.rule,
        starts_at=format_time(r.starts_at),
        ends_at=format_time(r.ends_at),
        created_by=r.created_by,
        reason=r.reason,
        created_at=format_time(r.created_at),
        active=r.active,
    )


def site_out(r: SiteRecord) -> SiteOut:
    """The body of one site in a listing."""
    return SiteOut(
        site=r.site,
        state=cast("Literal['online', 'offline'] | None", r.state),
        last_status_at=_time(r.last_status_at),
        inventory_at=_time(r.inventory_at),
        inventory_count=r.inventory_count,
        first_seen=format_time(r.first_seen),
        devices=DeviceCounts(
            total=r.devices,
            online=r.online,
            offline=r.offline,
            unknown=r.devices - r.online - r.offline,
        ),
        degraded=None if r.status is None else r.status.get("degraded") is True,
    )


def site_detail(r: SiteRecord) -> SiteDetail:
    """The body of one site on its own, with its agent's status."""
    return SiteDetail(**site_out(r).model_dump(), status=r.status)


def device_out(r: DeviceRecord) -> DeviceOut:
    """The body of one device."""
    return DeviceOut(
        site=r.site,
        device=r.device,
        kind=r.kind,
        label=r.label,
        checkin_s=r.checkin_s,
        inventoried=r.inventoried,
        first_seen=_time(r.first_seen),
        last_seen=_time(r.last_seen),
        last_event_id=r.last_event_id,
        last_type=r.last_type,
        last_state=r.last_state,
        state_at=_time(r.state_at),
        online=r.online,
        online_at=_time(r.online_at),
    )


def token_out(r: TokenInfo) -> TokenOut:
    """The body of one token, never its secret."""
    return TokenOut(
        id=r.id,
        role=cast("Literal['viewer', 'operator', 'admin']", r.role),
        all_sites=r.all_sites,
        sites=r.sites,
        label=r.label,
        created_at=format_time(r.created_at),
        revoked_at=_time(r.revoked_at),
        last_used_at=_time(r.last_used_at),
    )
