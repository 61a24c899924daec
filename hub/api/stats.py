"""The API's statistics endpoint: event counts per time bucket, site, kind and type.

Each bucket width has a longest window (`MAX_WINDOW`) so one request stays a bounded
read: at most ~10,000 minute buckets, ~2,200 hour buckets or 400 day buckets per series.
"""

from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Annotated, Final

from fastapi import APIRouter, Query, Request

from hub.api.auth import CallerScope
from hub.api.common import ID_REGEX, UtcDatetime, pool, unprocessable
from hub.api.models import EventCountOut, EventCounts
from hub.storage import Bucket, event_counts
from wire import EventType, Kind, format_time

__all__ = ["DEFAULT_WINDOW", "MAX_WINDOW", "router"]

router = APIRouter(tags=["stats"])

MAX_WINDOW: Final[MappingProxyType[Bucket, timedelta]] = MappingProxyType(
    {"1m": timedelta(days=7), "1h": timedelta(days=90), "1d": timedelta(days=400)}
)
"""The longest `from`..`to` window each bucket width may ask for."""

DEFAULT_WINDOW: Final[MappingProxyType[Bucket, timedelta]] = MappingProxyType(
    {"1m": timedelta(hours=1), "1h": timedelta(days=1), "1d": timedelta(days=30)}
)
"""The window before `to` when `from` is not given."""


@router.get("/api/v1/stats/events", response_model=EventCounts)
async def event_stats(
    request: Request,
    scope: CallerScope,
    *,
    bucket: Annotated[Bucket, Query(description="bucket width, aligned to UTC")] = "1h",
    site: Annotated[str | None, Query(pattern=ID_REGEX, description="monitoring room")] = None,
    kind: Annotated[Kind | None, Query(description="device kind")] = None,
    type: Annotated[EventType | None, Query(description="event type")] = None,  # noqa: A002
    since: Annotated[
        UtcDatetime | None,
        Query(alias="from", description="at or after (RFC 3339; default: `to` minus a window)"),
    ] = None,
    until: Annotated[
        UtcDatetime | None, Query(alias="to", description="before (RFC 3339; default: now)")
    ] = None,
) -> EventCounts:
    """Non-zero event counts in the caller's sites, by bucket, then site, kind and type.

    A bucket is counted whole when its start lies in `[from, to)`; the window may span at
    most 7 days for `1m`, 90 days for `1h` and 400 days for `1d`.
    """
    end = until or datetime.now(UTC)
    try:
        start = since or end - DEFAULT_WINDOW[bucket]
    except OverflowError:  # `to` in year 1: the default window would start before it
        raise unprocessable(parameter="to", message="`to` is too early: give `from`") from None
    if start > end:
        raise unprocessable(parameter="from", message="`from` is after `to`")
    longest = MAX_WINDOW[bucket]
    if end - start > longest:
        raise unprocessable(
            parameter="to",
            message=f"`from`..`to` spans more than {longest.days} days, "
            f"the most for bucket {bucket}",
        )
    async with pool(request).connection() as conn:
        found = await event_counts(
            conn,
            bucket=bucket,
            start=start,
            end=end,
            sites=None if scope.all_sites else scope.sites,
            site=site,
            kind=None if kind is None else kind.value,
            type_=None if type is None else type.value,
        )
    return EventCounts(
        bucket=bucket,
        start=format_time(start),
        end=format_time(end),
        counts=[
            EventCountOut(
                bucket_start=format_time(r.bucket_start),
                site=r.site,
                kind=r.kind,
                type=r.type,
                count=r.count,
            )
            for r in found
        ],
    )
