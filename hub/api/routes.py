"""The API's endpoints for health and events (alerts: `hub.api.alerts`; sites and devices:
`hub.api.sites`)."""

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Final, cast

import psycopg
from fastapi import APIRouter, Header, Path, Query, Request, Response, status

from hub.api.auth import CallerScope
from hub.api.common import ID_REGEX, Cursor, Limit, UtcDatetime, not_found, pool, unprocessable
from hub.api.convert import event_out
from hub.api.cursor import decode_cursor, encode_cursor
from hub.api.export import CSV_MEDIA_TYPE, events_csv, wants_csv
from hub.api.models import ComponentOut, EventOut, EventPage, HealthOut
from hub.storage import EventFilter, Position, database_answers, list_events
from hub.storage.queries import get_event
from wire import EventType, Kind

if TYPE_CHECKING:
    from hub.api.probe import HubProbe

__all__ = ["MAX_SPAN", "router"]

router = APIRouter()

MAX_SPAN: Final = timedelta(days=400)
"""The longest `from`..`to` window a listing may ask for."""

Site = Annotated[str | None, Query(pattern=ID_REGEX, description="monitoring room")]


def _position(cursor: str | None) -> Position | None:
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor)
    except ValueError as exc:
        raise unprocessable(parameter="cursor", message=str(exc)) from exc


@router.get("/health", response_model=HealthOut, tags=["health"])
async def health(request: Request, response: Response) -> HealthOut:
    """Database reachable, broker connected, loops alive: 200 if all are, else 503."""
    detail = None
    try:
        timeout = cast("float", request.app.state.health_timeout_s)
        async with pool(request).connection(timeout=timeout) as conn:
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


@router.get(
    "/api/v1/events",
    response_model=EventPage,
    tags=["events"],
    responses={200: {"content": {CSV_MEDIA_TYPE: {}}, "description": "JSON, or CSV"}},
)
async def events(
    request: Request,
    scope: CallerScope,
    *,
    site: Site = None,
    device: Annotated[str | None, Query(pattern=ID_REGEX, description="device id")] = None,
    kind: Annotated[Kind | None, Query(description="device kind")] = None,
    type: Annotated[EventType | None, Query(description="event type")] = None,  # noqa: A002
    since: Annotated[
        UtcDatetime | None, Query(alias="from", description="at or after (RFC 3339)")
    ] = None,
    until: Annotated[UtcDatetime | None, Query(alias="to", description="before (RFC 3339)")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> EventPage | Response:
    """Stored events in the caller's sites, newest first (by `at`, then `id`), a page at a
    time; as CSV (`X-Next-Cursor` header) with `Accept: text/csv`."""
    if since is not None and until is not None:
        if since > until:
            raise unprocessable(parameter="from", message="`from` is after `to`")
        if until - since > MAX_SPAN:
            raise unprocessable(
                parameter="to", message=f"`from`..`to` spans more than {MAX_SPAN.days} days"
            )
    where = EventFilter(
        scope=scope.site_list(),
        site=site,
        device=device,
        kind=None if kind is None else kind.value,
        type=None if type is None else type.value,
        since=since,
        until=until,
    )
    after = _position(cursor)
    async with pool(request).connection() as conn:
        rows = await list_events(conn, where, after, limit + 1)
    page, more = rows[:limit], len(rows) > limit
    following = encode_cursor(Position(page[-1].at, page[-1].id)) if more else None
    if wants_csv(accept):
        headers = {} if following is None else {"X-Next-Cursor": following}
        return Response(events_csv(page), media_type=CSV_MEDIA_TYPE, headers=headers)
    return EventPage(events=[event_out(r) for r in page], next_cursor=following)


@router.get(
    "/api/v1/events/{event_id}",
    response_model=EventOut,
    tags=["events"],
    responses={404: {"description": "no such event in the caller's sites"}},
)
async def event(
    request: Request,
    scope: CallerScope,
    event_id: Annotated[uuid.UUID, Path(description="the event's id")],
) -> EventOut:
    """One stored event; 404 if there is none, or it is outside the caller's sites."""
    async with pool(request).connection() as conn:
        found = await get_event(conn, event_id, scope.site_list())
    if found is None:
        raise not_found(what="event")
    return event_out(found)
