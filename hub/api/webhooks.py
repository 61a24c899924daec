"""The API's webhook endpoints (admin only): register, list, show, delete, rotate the
secret, enable again after a 410, and read the delivery log.

A webhook's sites must lie within the caller's scope; one without sites (every site)
needs an all-sites admin. A webhook outside the caller's scope is a 404, the same as a
missing one. The secret is in the answer to registration and to rotation, and nowhere
else: never listed, never logged.
"""

import base64
import binascii
import logging
import uuid
from datetime import datetime
from typing import Annotated, Any, Final, cast

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import Admin
from hub.api.common import ID_REGEX, Cursor, not_found, pool, unprocessable
from hub.config import WebhooksConfig
from hub.notify import DestinationRefused, check_url, new_secret, policy_of, resolve
from hub.storage.tokens import Caller
from hub.storage.webhooks import (
    AttemptRecord,
    Endpoint,
    NewEndpoint,
    create_endpoint,
    delete_endpoint,
    enable_endpoint,
    get_endpoint,
    list_attempts,
    list_endpoints,
    rotate_secret,
)
from wire import Severity, format_time

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["webhooks"])

MAX_SITES: Final = 1000
Time = Annotated[str, Field(description="RFC 3339 UTC with six fractional digits and Z")]
WebhookPath = Annotated[uuid.UUID, Path(description="the webhook's id")]
_NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {
    404: {"description": "no such webhook in the caller's scope"}
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WebhookIn(_Model):
    """A webhook to register."""

    url: str = Field(min_length=1, max_length=2048, description="https:// URL to POST to")
    description: str | None = Field(default=None, max_length=500, description="what it is for")
    sites: (
        Annotated[
            list[Annotated[str, Field(pattern=ID_REGEX)]],
            Field(min_length=1, max_length=MAX_SITES),
        ]
        | None
    ) = Field(default=None, description="only alerts of these sites; null: every site")
    min_severity: Severity | None = Field(
        default=None, description="only transitions at least this severe; null: all"
    )


class WebhookOut(_Model):
    """A registered webhook, without its secret."""

    id: uuid.UUID
    url: str
    description: str | None
    sites: list[str] | None = Field(description="null: every site")
    min_severity: Severity | None
    enabled: bool = Field(description="false after a 410 Gone, until enabled again")
    disabled_at: Time | None
    disabled_reason: str | None
    previous_secret_expires_at: Time | None = Field(
        description="until then the previous secret also signs (after a rotation)"
    )
    created_by: str = Field(description="the id of the token that registered it")
    created_at: Time
    updated_at: Time


class WebhookSecret(WebhookOut):
    """A webhook with its secret: the only time the secret is shown."""

    secret: str = Field(description="`whsec_…`: verify signatures with it; shown once")


class WebhookList(_Model):
    """Every webhook in the caller's scope, oldest first."""

    webhooks: list[WebhookOut]


class DeliveryOut(_Model):
    """One attempt to deliver one transition."""

    id: int
    webhook_id: str = Field(description="the `webhook-id` header: the same on every attempt")
    alert_id: uuid.UUID
    revision: int
    attempt: int = Field(ge=1)
    at: Time
    status_code: int | None = Field(description="the receiver's answer; null if none")
    error: str | None = Field(description="why there was no answer")
    duration_ms: int
    response_excerpt: str | None = Field(description="the answer's first 4 KiB")
    message_state: str = Field(description="pending, delivered or failed")


class DeliveryPage(_Model):
    """A page of the delivery log, newest first."""

    deliveries: list[DeliveryOut]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def _out(e: Endpoint) -> WebhookOut:
    return WebhookOut(
        id=e.id,
        url=e.url,
        description=e.description,
        sites=None if e.all_sites else e.sites,
        min_severity=None if e.min_severity is None else Severity(e.min_severity),
        enabled=e.enabled,
        disabled_at=_time(e.disabled_at),
        disabled_reason=e.disabled_reason,
        previous_secret_expires_at=_time(e.previous_expires_at),
        created_by=e.created_by,
        created_at=format_time(e.created_at),
        updated_at=format_time(e.updated_at),
    )


def _with_secret(e: Endpoint, secret: str) -> WebhookSecret:
    return WebhookSecret(**_out(e).model_dump(), secret=secret)


def _delivery(r: AttemptRecord) -> DeliveryOut:
    return DeliveryOut(
        id=r.id,
        webhook_id=r.webhook_id,
        alert_id=r.alert_id,
        revision=r.revision,
        attempt=r.attempt,
        at=format_time(r.at),
        status_code=r.status_code,
        error=r.error,
        duration_ms=r.duration_ms,
        response_excerpt=r.response_excerpt,
        message_state=r.message_state,
    )


def _config(request: Request) -> WebhooksConfig:
    return cast("WebhooksConfig", request.app.state.webhooks)


def _sites_for(caller: Caller, sites: list[str] | None) -> list[str] | None:
    """The sites the new webhook covers (None: every site), within the caller's scope."""
    scope = caller.scope
    if sites is None:
        return scope.site_list()
    outside = sorted(site for site in set(sites) if not scope.sees(site))
    if outside:
        raise unprocessable(
            parameter="sites",
            message=f"sites outside the token's scope: {','.join(outside)[:200]}",
            where="body",
        )
    return sites


async def _check_destination(request: Request, url: str) -> None:
    policy = policy_of(_config(request))
    try:
        await resolve(check_url(url, policy), policy)
    except DestinationRefused as exc:
        raise unprocessable(parameter="url", message=str(exc), where="body") from exc


@router.post(
    "/api/v1/webhooks",
    response_model=WebhookSecret,
    status_code=status.HTTP_201_CREATED,
    responses={422: {"description": "a refused URL or sites outside the token's scope"}},
)
async def register(request: Request, caller: Admin, body: WebhookIn) -> WebhookSecret:
    """Register a webhook; the answer holds its secret, shown this once."""
    sites = _sites_for(caller, body.sites)
    await _check_destination(request, body.url)
    new = NewEndpoint(
        url=body.url,
        description=body.description,
        sites=sites,
        min_severity=None if body.min_severity is None else body.min_severity.value,
        secret=new_secret(),
        created_by=caller.token_id,
    )
    async with pool(request).connection() as conn:
        endpoint = await create_endpoint(conn, new)
    logger.info("webhook %s registered by token %s", endpoint.id, caller.token_id)
    return _with_secret(endpoint, new.secret)


@router.get("/api/v1/webhooks", response_model=WebhookList)
async def webhooks(request: Request, caller: Admin) -> WebhookList:
    """Every webhook in the caller's scope, oldest first, without secrets."""
    async with pool(request).connection() as conn:
        found = await list_endpoints(conn, caller.scope.site_list())
    return WebhookList(webhooks=[_out(e) for e in found])


@router.get("/api/v1/webhooks/{webhook}", response_model=WebhookOut, responses=_NOT_FOUND)
async def webhook(request: Request, caller: Admin, webhook: WebhookPath) -> WebhookOut:
    """One webhook, without its secret."""
    async with pool(request).connection() as conn:
        found = await get_endpoint(conn, webhook, caller.scope.site_list())
    if found is None:
        raise not_found(what="webhook")
    return _out(found)


@router.delete(
    "/api/v1/webhooks/{webhook}", status_code=status.HTTP_204_NO_CONTENT, responses=_NOT_FOUND
)
async def delete(request: Request, caller: Admin, webhook: WebhookPath) -> Response:
    """Delete a webhook with its pending messages and its delivery log."""
    async with pool(request).connection() as conn:
        deleted = await delete_endpoint(conn, webhook, caller.scope.site_list())
    if not deleted:
        raise not_found(what="webhook")
    logger.info("webhook %s deleted by token %s", webhook, caller.token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api/v1/webhooks/{webhook}/rotate", response_model=WebhookSecret, responses=_NOT_FOUND
)
async def rotate(request: Request, caller: Admin, webhook: WebhookPath) -> WebhookSecret:
    """A new secret, shown this once; the previous one also signs for the overlap."""
    secret = new_secret()
    overlap = _config(request).rotation_overlap_s
    async with pool(request).connection() as conn:
        found = await rotate_secret(conn, webhook, caller.scope.site_list(), secret, overlap)
    if found is None:
        raise not_found(what="webhook")
    logger.info("webhook %s: secret rotated by token %s", webhook, caller.token_id)
    return _with_secret(found, secret)


@router.post("/api/v1/webhooks/{webhook}/enable", response_model=WebhookOut, responses=_NOT_FOUND)
async def enable(request: Request, caller: Admin, webhook: WebhookPath) -> WebhookOut:
    """Deliver to a webhook again (after a 410 Gone disabled it)."""
    async with pool(request).connection() as conn:
        found = await get_endpoint(conn, webhook, caller.scope.site_list())
        if found is None:
            raise not_found(what="webhook")
        await _check_destination(request, found.url)
        enabled = await enable_endpoint(conn, webhook, caller.scope.site_list())
    if enabled is None:
        raise not_found(what="webhook")
    logger.info("webhook %s enabled by token %s", webhook, caller.token_id)
    return _out(enabled)


def _encode_cursor(attempt_id: int) -> str:
    return base64.urlsafe_b64encode(f"a{attempt_id}".encode()).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        value = int(text.removeprefix("a")) if text.startswith("a") else 0
    except (ValueError, binascii.Error, UnicodeError):
        value = 0
    if value < 1:
        raise unprocessable(
            parameter="cursor", message=f"cursor {cursor[:80]!r} is not one this API issued"
        )
    return value


@router.get(
    "/api/v1/webhooks/{webhook}/deliveries", response_model=DeliveryPage, responses=_NOT_FOUND
)
async def deliveries(
    request: Request,
    caller: Admin,
    webhook: WebhookPath,
    *,
    limit: Annotated[int, Query(ge=1, le=200, description="page size")] = 50,
    cursor: Cursor = None,
) -> DeliveryPage:
    """The webhook's delivery log, newest attempt first, a page at a time."""
    before = None if cursor is None else _decode_cursor(cursor)
    async with pool(request).connection() as conn:
        if await get_endpoint(conn, webhook, caller.scope.site_list()) is None:
            raise not_found(what="webhook")
        rows = await list_attempts(conn, webhook, before, limit + 1)
    page, more = rows[:limit], len(rows) > limit
    following = _encode_cursor(page[-1].id) if more else None
    return DeliveryPage(deliveries=[_delivery(r) for r in page], next_cursor=following)
