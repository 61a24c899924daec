"""The silence endpoints: make, list, read and end silences (`hub.storage.silences`).

Reads need any token, making and ending one an operator. A caller sees and makes only
silences of its sites; a silence of every site (no `site`) is for all-sites tokens
only. A silence outside the caller's scope is a 404, the same as a missing one.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from hub.api.alerts import RULE_REGEX, actor, page_position
from hub.api.auth import CallerScope, require
from hub.api.common import ID_REGEX, Cursor, Limit, UtcDatetime, not_found, pool, unprocessable
from hub.api.convert import silence_out
from hub.api.cursor import encode_cursor
from hub.api.models import SilenceOut, SilencePage
from hub.storage import Position
from hub.storage.silences import (
    NewSilence,
    create_silence,
    end_silence,
    get_silence,
    list_silences,
)
from hub.storage.tokens import Caller, Role

__all__ = ["MAX_SILENCE", "SilenceIn", "router"]

router = APIRouter(tags=["silences"])

MAX_SILENCE: Final = timedelta(days=30)
"""The longest a silence may last: a longer mute should be a change of the rules."""

Operator = Annotated[Caller, Depends(require(Role.OPERATOR))]
SilenceId = Annotated[uuid.UUID, Path(description="the silence's id")]

_NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {
    404: {"description": "no such silence in the caller's sites"}
}


class SilenceIn(BaseModel):
    """A silence to make: what it covers (each field given must match), when, and why."""

    model_config = ConfigDict(extra="forbid")

    site: str | None = Field(
        default=None,
        pattern=ID_REGEX,
        description="the monitoring room; required unless the token has every site",
    )
    device: str | None = Field(
        default=None, pattern=ID_REGEX, description="one device of `site` (needs `site`)"
    )
    rule: str | None = Field(
        default=None,
        pattern=RULE_REGEX,
        description="one rule; omitted, every rule",
    )
    starts_at: UtcDatetime | None = Field(default=None, description="omitted: now")
    ends_at: UtcDatetime = Field(description="exclusive; at most 30 days after `starts_at`")
    reason: str = Field(min_length=1, max_length=1000, description="why (shown to operators)")


def _checked(body: SilenceIn, caller: Caller, now: datetime) -> None:
    """422 naming the field unless `body` is a silence `caller` may make at `now`."""
    scope = caller.scope
    if body.site is None and not scope.all_sites:
        raise unprocessable(
            parameter="site", message="a token of some sites must name one", where="body"
        )
    if body.site is not None and not scope.sees(body.site):
        raise unprocessable(
            parameter="site", message=f"{body.site} is outside the token's sites", where="body"
        )
    if body.device is not None and body.site is None:
        raise unprocessable(parameter="device", message="a device needs its `site`", where="body")
    if not body.reason.strip():
        raise unprocessable(parameter="reason", message="`reason` is blank", where="body")
    starts = body.starts_at or now
    if body.ends_at <= max(starts, now):
        raise unprocessable(
            parameter="ends_at", message="`ends_at` must be after now and `starts_at`", where="body"
        )
    if body.ends_at - starts > MAX_SILENCE:
        raise unprocessable(
            parameter="ends_at",
            message=f"a silence lasts at most {MAX_SILENCE.days} days",
            where="body",
        )


@router.post(
    "/api/v1/silences",
    response_model=SilenceOut,
    status_code=status.HTTP_201_CREATED,
    responses={422: {"description": "a malformed silence, or a site outside the token's"}},
)
async def make_silence(request: Request, caller: Operator, body: SilenceIn) -> SilenceOut:
    """Silence alerts matching every field given, from `starts_at` (default now) until
    `ends_at` (operator): they are still stored and audited, but not notified."""
    _checked(body, caller, datetime.now(UTC))
    async with pool(request).connection() as conn:
        made = await create_silence(
            conn,
            NewSilence(
                site=body.site,
                device=body.device,
                rule=body.rule,
                starts_at=body.starts_at,
                ends_at=body.ends_at,
                reason=body.reason,
                created_by=await actor(conn, caller),
            ),
        )
    return silence_out(made)


@router.get("/api/v1/silences", response_model=SilencePage)
async def silences(
    request: Request,
    scope: CallerScope,
    *,
    include_expired: Annotated[
        bool, Query(description="also those that ended; by default, current and scheduled")
    ] = False,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> SilencePage:
    """Silences of the caller's sites, newest first (by creation), a page at a time."""
    after = page_position(cursor)
    async with pool(request).connection() as conn:
        rows = await list_silences(
            conn,
            scope.site_list(),
            include_expired=include_expired,
            after=after,
            limit=limit + 1,
        )
    page, more = rows[:limit], len(rows) > limit
    following = encode_cursor(Position(page[-1].created_at, page[-1].silence_id)) if more else None
    return SilencePage(silences=[silence_out(r) for r in page], next_cursor=following)


@router.get("/api/v1/silences/{silence_id}", response_model=SilenceOut, responses=_NOT_FOUND)
async def silence(request: Request, scope: CallerScope, silence_id: SilenceId) -> SilenceOut:
    """One silence, ended or not."""
    async with pool(request).connection() as conn:
        found = await get_silence(conn, silence_id, scope.site_list())
    if found is None:
        raise not_found(what="silence")
    return silence_out(found)


@router.delete("/api/v1/silences/{silence_id}", response_model=SilenceOut, responses=_NOT_FOUND)
async def end(request: Request, caller: Operator, silence_id: SilenceId) -> SilenceOut:
    """End a silence now (operator): `ends_at` becomes now and the record stays; ending
    one that has ended already changes nothing."""
    async with pool(request).connection() as conn:
        ended = await end_silence(conn, silence_id, caller.scope.site_list())
    if ended is None:
        raise not_found(what="silence")
    return silence_out(ended)
