"""The API's endpoints for sites and their devices.

Device ids are unique within a site only, so a device is addressed under its site.
A site or device outside the caller's scope is a 404, the same as a missing one.
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from hub.api.auth import CallerScope
from hub.api.common import ID_REGEX, Cursor, Limit, UtcDatetime, not_found, pool, unprocessable
from hub.api.convert import device_out, event_out, site_detail, site_out
from hub.api.cursor import decode_device_cursor, encode_device_cursor
from hub.api.models import DeviceDetail, DevicePage, SiteDetail, SiteList
from hub.storage import EventFilter, list_events
from hub.storage.sites import (
    DeviceFilter,
    DeviceKey,
    get_device,
    get_site,
    list_devices,
    list_sites,
)
from hub.storage.tokens import Scope
from wire import Kind

__all__ = ["router"]

router = APIRouter(tags=["sites"])

SitePath = Annotated[str, Path(pattern=ID_REGEX, description="monitoring room")]
DevicePath = Annotated[str, Path(pattern=ID_REGEX, description="device id within the site")]
KindQuery = Annotated[Kind | None, Query(description="device kind")]
StateQuery = Annotated[
    Literal["online", "offline"] | None, Query(description="whether the device answers")
]
StaleQuery = Annotated[
    UtcDatetime | None,
    Query(description="only devices with no event since then, or none ever (RFC 3339)"),
]


@router.get("/api/v1/sites", response_model=SiteList)
async def sites(request: Request, scope: CallerScope) -> SiteList:
    """Every site the caller may see, by id, with its agent's state and device counts."""
    async with pool(request).connection() as conn:
        found = await list_sites(conn, scope.site_list())
    return SiteList(sites=[site_out(r) for r in found])


@router.get(
    "/api/v1/sites/{site}",
    response_model=SiteDetail,
    responses={404: {"description": "no such site in the caller's scope"}},
)
async def site(request: Request, scope: CallerScope, site: SitePath) -> SiteDetail:
    """One site, with its agent's last status and device counts."""
    async with pool(request).connection() as conn:
        found = await get_site(conn, site, scope.site_list())
    if found is None:
        raise not_found(what="site")
    return site_detail(found)


async def _device_page(
    request: Request, where: DeviceFilter, limit: int, cursor: str | None
) -> DevicePage:
    try:
        after = None if cursor is None else decode_device_cursor(cursor)
    except ValueError as exc:
        raise unprocessable(parameter="cursor", message=str(exc)) from exc
    async with pool(request).connection() as conn:
        if where.site is not None and await get_site(conn, where.site, where.scope) is None:
            raise not_found(what="site")
        rows = await list_devices(conn, where, after, limit + 1)
    page, more = rows[:limit], len(rows) > limit
    following = encode_device_cursor(DeviceKey(page[-1].site, page[-1].device)) if more else None
    return DevicePage(devices=[device_out(r) for r in page], next_cursor=following)


def _filter(
    scope: Scope,
    site: str | None,
    kind: Kind | None,
    state: Literal["online", "offline"] | None,
    stale_since: UtcDatetime | None,
) -> DeviceFilter:
    return DeviceFilter(
        scope=scope.site_list(),
        site=site,
        kind=None if kind is None else kind.value,
        state=state,
        stale_since=stale_since,
    )


@router.get("/api/v1/devices", response_model=DevicePage)
async def devices(
    request: Request,
    scope: CallerScope,
    *,
    kind: KindQuery = None,
    state: StateQuery = None,
    stale_since: StaleQuery = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> DevicePage:
    """Devices of every site the caller may see, by (site, device), a page at a time."""
    where = _filter(scope, None, kind, state, stale_since)
    return await _device_page(request, where, limit, cursor)


@router.get(
    "/api/v1/sites/{site}/devices",
    response_model=DevicePage,
    responses={404: {"description": "no such site in the caller's scope"}},
)
async def site_devices(
    request: Request,
    scope: CallerScope,
    site: SitePath,
    *,
    kind: KindQuery = None,
    state: StateQuery = None,
    stale_since: StaleQuery = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> DevicePage:
    """The devices of one site, by id, a page at a time."""
    where = _filter(scope, site, kind, state, stale_since)
    return await _device_page(request, where, limit, cursor)


@router.get(
    "/api/v1/sites/{site}/devices/{device}",
    response_model=DeviceDetail,
    responses={404: {"description": "no such device in the caller's scope"}},
)
async def device(
    request: Request,
    scope: CallerScope,
    site: SitePath,
    device: DevicePath,
    recent: Annotated[int, Query(ge=0, le=100, description="how many recent events")] = 20,
) -> DeviceDetail:
    """One device, with its most recent events, newest first."""
    sites = scope.site_list()
    async with pool(request).connection() as conn:
        found = await get_device(conn, DeviceKey(site, device), sites)
        if found is None:
            raise not_found(what="device")
        where = EventFilter(scope=sites, site=site, device=device)
        latest = await list_events(conn, where, None, recent) if recent else []
    return DeviceDetail(
        **device_out(found).model_dump(), recent_events=[event_out(e) for e in latest]
    )
