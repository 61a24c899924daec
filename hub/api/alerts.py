"""The alert endpoints: listing, one alert, its audit trail, and the operator actions.

Reads need any token (viewer or above); acknowledging and resolving need an operator.
An alert outside the caller's sites is a 404, exactly as one that does not exist, for
reads and actions alike. Actions run in one transaction each, through
`hub.storage.alerts` (which writes the transition's audit and outbox rows with it); a
step that does not apply to the alert's state is a 409 saying why.

The live stream (`/api/v1/alerts/stream`) is `hub.api.stream`.
"""

import uuid
from typing import Annotated, Any, Final, Literal

import psycopg
from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, status

from hub.api.auth import CallerScope, require
from hub.api.common import (
    ID_REGEX,
    Cursor,
    Limit,
    UtcDatetime,
    not_found,
    pool,
    transitions_written,
    unprocessable,
)
from hub.api.convert import alert_out, audit_entry_out
from hub.api.cursor import decode_cursor, encode_cursor
from hub.api.models import AlertOut, AlertPage, AuditTrail
from hub.api.routes import MAX_SPAN
from hub.storage import AlertFilter, Position, list_alerts
from hub.storage.audit import actor_of, list_audit
from hub.storage.lifecycle import AlertStateError, acknowledge, resolve
from hub.storage.queries import get_alert_record
from hub.storage.tokens import Caller, Role
from wire import Severity

__all__ = ["MAX_NOTE", "RULE_REGEX", "SEVERITY_ORDER", "actor", "page_position", "router"]

router = APIRouter(tags=["alerts"])

SEVERITY_ORDER: Final = (
    Severity.INFO,
    Severity.LOW,
    Severity.MEDIUM,
    Severity.HIGH,
    Severity.CRITICAL,
)
"""Least to most severe: `severity=high` lists high and critical."""

MAX_NOTE: Final = 4096
"""The longest note: the limit of the transition's `note` (`wire.AlertTransition`)."""

RULE_REGEX: Final = r"^[a-z0-9][a-z0-9_.-]{0,127}$"
"""A rule name: `wire.RULE_PATTERN` in the dialect of pydantic's regex engine (`$`, not `\\Z`)."""

Operator = Annotated[Caller, Depends(require(Role.OPERATOR))]
AlertId = Annotated[uuid.UUID, Path(description="the alert's id")]

_NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {
    404: {"description": "no such alert in the caller's sites"}
}
_CONFLICT: Final[dict[int | str, dict[str, Any]]] = {
    409: {"description": "the step does not apply to the alert's state"}
}


def page_position(cursor: str | None) -> Position | None:
    """Where the page `cursor` asks for starts; a 422 on `cursor` if this API never
    issued it."""
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor)
    except ValueError as exc:
        raise unprocessable(parameter="cursor", message=str(exc)) from exc


async def actor(conn: psycopg.AsyncConnection[Any], caller: Caller) -> str:
    """How the audit trail names `caller`: `token:<id>`, plus ` (<label>)` if the token
    has one (e.g. `token:3f9c2a7d41be (ops desk)`)."""
    return await actor_of(conn, caller.token_id)


def _severities(minimum: Severity | None) -> list[str] | None:
    if minimum is None:
        return None
    return [s.value for s in SEVERITY_ORDER[SEVERITY_ORDER.index(minimum) :]]


@router.get("/api/v1/alerts", response_model=AlertPage)
async def alerts(
    request: Request,
    scope: CallerScope,
    *,
    site: Annotated[str | None, Query(pattern=ID_REGEX, description="monitoring room")] = None,
    state: Annotated[
        Literal["open", "acknowledged", "resolved"] | None, Query(description="alert state")
    ] = None,
    severity: Annotated[
        Severity | None, Query(description="at least this severe (critical > … > info)")
    ] = None,
    rule: Annotated[str | None, Query(pattern=RULE_REGEX, description="rule name")] = None,
    device: Annotated[str | None, Query(pattern=ID_REGEX, description="device id")] = None,
    since: Annotated[
        UtcDatetime | None, Query(alias="from", description="created at or after (RFC 3339)")
    ] = None,
    until: Annotated[
        UtcDatetime | None, Query(alias="to", description="created before (RFC 3339)")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> AlertPage:
    """Alerts in the caller's sites, newest first (by creation, then id), a page at a time."""
    if since is not None and until is not None:
        if since > until:
            raise unprocessable(parameter="from", message="`from` is after `to`")
        if until - since > MAX_SPAN:
            raise unprocessable(
                parameter="to", message=f"`from`..`to` spans more than {MAX_SPAN.days} days"
            )
    where = AlertFilter(
        scope=scope.site_list(),
        site=site,
        state=state,
        severities=_severities(severity),
        rule=rule,
        device=device,
        since=since,
        until=until,
    )
    after = page_position(cursor)
    async with pool(request).connection() as conn:
        rows = await list_alerts(conn, where, after, limit + 1)
    page, more = rows[:limit], len(rows) > limit
    following = encode_cursor(Position(page[-1].created_at, page[-1].alert_id)) if more else None
    return AlertPage(alerts=[alert_out(r) for r in page], next_cursor=following)


@router.get("/api/v1/alerts/{alert_id}", response_model=AlertOut, responses=_NOT_FOUND)
async def alert(request: Request, scope: CallerScope, alert_id: AlertId) -> AlertOut:
    """One alert as it stands: who acknowledged and resolved it, and why it is muted."""
    async with pool(request).connection() as conn:
        found = await get_alert_record(conn, alert_id, scope.site_list())
    if found is None:
        raise not_found(what="alert")
    return alert_out(found)


@router.get("/api/v1/alerts/{alert_id}/audit", response_model=AuditTrail, responses=_NOT_FOUND)
async def audit(request: Request, scope: CallerScope, alert_id: AlertId) -> AuditTrail:
    """Every transition of one alert, oldest first: revision, transition, severity, who,
    the note, whether it was notified, and when."""
    async with pool(request).connection() as conn:
        if await get_alert_record(conn, alert_id, scope.site_list()) is None:
            raise not_found(what="alert")
        entries = await list_audit(conn, alert_id)
    return AuditTrail(alert_id=alert_id, entries=[audit_entry_out(e) for e in entries])


def _conflict(exc: AlertStateError) -> HTTPException:
    return HTTPException(status_code=status.HTTP_409_CONFLICT, detail=str(exc))


@router.post(
    "/api/v1/alerts/{alert_id}/ack", response_model=AlertOut, responses=_NOT_FOUND | _CONFLICT
)
async def ack(
    request: Request,
    caller: Operator,
    alert_id: AlertId,
    note: Annotated[
        str | None, Body(embed=True, max_length=MAX_NOTE, description="why, or what is done")
    ] = None,
) -> AlertOut:
    """Acknowledge an open alert (operator): it stops escalating; the transition is
    audited and notified. 409 if it is already acknowledged or resolved."""
    sites = caller.scope.site_list()
    async with pool(request).connection() as conn:
        try:
            async with conn.transaction(), conn.cursor() as cur:
                done = await acknowledge(
                    cur, alert_id, actor=await actor(conn, caller), note=note or None, sites=sites
                )
        except AlertStateError as exc:
            raise _conflict(exc) from exc
        if done is not None:
            transitions_written(request)
        found = None if done is None else await get_alert_record(conn, alert_id, sites)
    if found is None:
        raise not_found(what="alert")
    return alert_out(found)


@router.post(
    "/api/v1/alerts/{alert_id}/resolve",
    response_model=AlertOut,
    responses=_NOT_FOUND | _CONFLICT,
)
async def resolve_alert(
    request: Request,
    caller: Operator,
    alert_id: AlertId,
    note: Annotated[
        str,
        Body(embed=True, min_length=1, max_length=MAX_NOTE, description="what was found, done"),
    ],
) -> AlertOut:
    """Resolve an open or acknowledged alert (operator); `note` is required. 409 if it
    is already resolved."""
    if not note.strip():
        raise unprocessable(parameter="note", message="`note` is blank", where="body")
    sites = caller.scope.site_list()
    async with pool(request).connection() as conn:
        try:
            async with conn.transaction(), conn.cursor() as cur:
                done = await resolve(
                    cur, alert_id, actor=await actor(conn, caller), note=note, sites=sites
                )
        except AlertStateError as exc:
            raise _conflict(exc) from exc
        if done is not None:
            transitions_written(request)
        found = None if done is None else await get_alert_record(conn, alert_id, sites)
    if found is None:
        raise not_found(what="alert")
    return alert_out(found)
