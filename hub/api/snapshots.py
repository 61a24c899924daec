"""The API's endpoint for camera snapshots: the JPEG sent with an event."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from hub.api.auth import CallerScope
from hub.api.common import not_found, pool
from hub.storage.snapshots import read_snapshot

__all__ = ["router"]

router = APIRouter()


@router.get(
    "/api/v1/events/{event_id}/snapshot",
    response_class=Response,
    tags=["events"],
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "the JPEG, as the camera sent it"},
        404: {"description": "no snapshot for this event in the caller's sites"},
    },
)
async def snapshot(
    request: Request,
    scope: CallerScope,
    event_id: Annotated[uuid.UUID, Path(description="the event's id")],
) -> Response:
    """The snapshot of an event (a camera's `motion.started`), as `image/jpeg`; 404 if there
    is none, or it is outside the caller's sites."""
    async with pool(request).connection() as conn:
        jpeg = await read_snapshot(conn, event_id, scope.site_list())
    if jpeg is None:
        raise not_found(what="snapshot")
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private"})
