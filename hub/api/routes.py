"""The API's endpoints: `/health`, `/api/v1/events`, `/api/v1/alerts`."""

from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, cast

import psycopg
from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from psycopg_pool import AsyncConnectionPool
from pydantic import AwareDatetime

from hub.api.cursor import decode_cursor, encode_cursor
from hub.api.models import AlertOut, AlertPage, ComponentOut, EventOut, EventPage, HealthOut
from hub.storage import (
    AlertFilter,
    AlertRecord,
    EventFilter,
    EventRecord,
    Position,
    database_answers,
    list_alerts,
    list_events,
)
from wire import EventType, format_time

if TYPE_CHECKING:
    from hub.api.probe import HubProbe

__all__ = ["router"]

router = APIRouter()

# Pydantic's regex engine has no `\Z`; its `$` means the very end already.
_ID: Final = r"^[a-z0-9][a-z0-9_-]{0,63}$"

Site = Annotated[str | None, Query(pattern=_ID, description="monitoring room")]
Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page")
]


def _pool(request: Request) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
    return cast("AsyncConnectionPool[psycopg.AsyncConnection[Any]]", request.app.state.pool)


def _unprocessable(*, parameter: str, message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors."""
    detail = [{"loc": ["query", parameter], "msg": message, "type": "value_error"}]
    return HTTPException(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


def _position(cursor: str | None) -> Position | None:
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor)
    except ValueError as exc:
        raise _unprocessable(parameter="cursor", message=str(exc)) from exc


@router.get("/health", response_model=HealthOut, tags=["health"])
async def health(request: Request, response: Response) -> HealthOut:
    """Database reachable, broker connected, loops alive: 200 if all are, else 503."""
    detail = None
    try:
        timeout = cast("float", request.app.state.health_timeout_s)
        async with _pool(request).connection(timeout=timeout) as conn:
            database = await database_answers(conn)
    except psycopg.Error as exc:
        database, detail = False, str(exc)
    probe = cast("HubProbe | None", request.app.state.probe)
    mqtt = None if probe is None else probe.mqtt_connected()
    components = None
    if probe is not None:
        parts = probe.components()
        components = {
            name: ComponentOut(alive=part.alive, detail=part.detail)
            for name, part in (
                ("ingest", parts.ingest),
                ("rules", parts.rules),
                ("relay", parts.relay),
            )
        }
    ok = database and mqtt is not False and all(c.alive for c in (components or {}).values())
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthOut(
        status="ok" if ok else "degraded",
        database=database,
        database_detail=detail,
        mqtt_connected=mqtt,
        components=components,
    )


def _event_out(r: EventRecord) -> EventOut:
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


@router.get("/api/v1/events", response_model=EventPage, tags=["events"])
async def events(
    request: Request,
    *,
    site: Site = None,
    device: Annotated[str | None, Query(pattern=_ID, description="device id")] = None,
    type: Annotated[EventType | None, Query(description="event type")] = None,  # noqa: A002
    since: Annotated[
        AwareDatetime | None, Query(alias="from", description="at or after (RFC 3339)")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(alias="to", description="before (RFC 3339)")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> EventPage:
    """Stored events, newest first (by `at`, then `id`), a page at a time."""
    if since is not None and until is not None and since > until:
        raise _unprocessable(parameter="from", message="`from` is after `to`")
    where = EventFilter(
        site=site,
        device=device,
        type=None if type is None else type.value,
        since=since,
        until=until,
    )
    async with _pool(request).connection() as conn:
        rows = await list_events(conn, where, _position(cursor), limit + 1)
    page, more = rows[:limit], len(rows) > limit
    after = encode_cursor(Position(page[-1].at, page[-1].id)) if more else None
    return EventPage(events=[_event_out(r) for r in page], next_cursor=after)


def _alert_out(r: AlertRecord) -> AlertOut:
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
    )


@router.get("/api/v1/alerts", response_model=AlertPage, tags=["alerts"])
async def alerts(
    request: Request,
    *,
    site: Site = None,
    state: Annotated[
        Literal["open", "acknowledged", "resolved"] | None, Query(description="alert state")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> AlertPage:
    """Alerts, newest first (by creation, then id), a page at a time."""
    where = AlertFilter(site=site, state=state)
    async with _pool(request).connection() as conn:
        rows = await list_alerts(conn, where, _position(cursor), limit + 1)
    page, more = rows[:limit], len(rows) > limit
    after = encode_cursor(Position(page[-1].created_at, page[-1].alert_id)) if more else None
    return AlertPage(alerts=[_alert_out(r) for r in page], next_cursor=after)
