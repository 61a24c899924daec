"""`/metrics`: the hub's Prometheus metrics (`hub.metrics`), open like `/health`."""

from typing import cast

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "text format"}},
)
async def metrics(request: Request) -> Response:
    """The hub's metrics in the Prometheus text format; no token needed."""
    registry = cast("CollectorRegistry", request.app.state.metrics)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
