"""What the routers share: the pool, 422s shaped like FastAPI's, common query parameters."""

from datetime import UTC, datetime
from typing import Annotated, Any, Final, cast

import psycopg
from fastapi import HTTPException, Query, Request, status
from psycopg_pool import AsyncConnectionPool
from pydantic import AfterValidator, AwareDatetime

__all__ = [
    "ID_REGEX",
    "Cursor",
    "Limit",
    "UtcDatetime",
    "not_found",
    "pool",
    "transitions_written",
    "unprocessable",
]

# Pydantic's regex engine has no `\Z`; its `$` means the very end already.
ID_REGEX: Final = r"^[a-z0-9][a-z0-9_-]{0,63}$"


def _in_utc(value: datetime) -> datetime:
    # PostgreSQL refuses offsets beyond ±15:59 (a 500), Python allows ±23:59: the same
    # instant in UTC is always storable and compares the same.
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+00:01 is before year 1 in UTC
        message = "out of range once converted to UTC"
        raise ValueError(message) from exc


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""An RFC 3339 time with an offset, converted to UTC once it is read."""

Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=300, description="`next_cursor` of the previous page")
]


def pool(request: Request) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
    """The API's connection pool, opened by the lifespan."""
    return cast("AsyncConnectionPool[psycopg.AsyncConnection[Any]]", request.app.state.pool)


def transitions_written(request: Request) -> None:
    """Tell the hub's relays that a commit queued alert transitions (deliver them now,
    not at their next poll); nothing when the app runs without a hub."""
    wake = getattr(request.app.state, "on_transitions", None)
    if wake is not None:
        wake()


def unprocessable(*, parameter: str, message: str, where: str = "query") -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming `parameter`."""
    detail = [{"loc": [where, parameter], "msg": message, "type": "value_error"}]
    return HTTPException(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


def not_found(*, what: str) -> HTTPException:
    """A 404; a resource outside the caller's scope gets exactly the same one."""
    return HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=f"no such {what}")
