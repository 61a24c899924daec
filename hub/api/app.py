"""The FastAPI application, built by `create_app`; its database pool opens in `lifespan`."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import TYPE_CHECKING, Any, Final

import psycopg
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from psycopg_pool import AsyncConnectionPool

from hub.api import (
    alerts,
    routes,
    silences,
    sites,
    snapshots,
    stats,
    stream,
    tokens,
    webhooks,
)
from hub.api import metrics as metrics_route
from hub.api import rules as rules_api
from hub.api.auth import Viewer  # noqa: TC001 - FastAPI reads it at run time
from hub.config import ConsoleConfig, WebhooksConfig
from hub.console.mount import mount_console

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from prometheus_client import CollectorRegistry

    from hub.api.probe import HubProbe
    from hub.config import DatabaseConfig
    from hub.rules import Rules

__all__ = ["create_app", "create_metrics_app", "openapi_document"]

logger = logging.getLogger(__name__)

_HEALTH_TIMEOUT_S: Final = 2.0


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("%s %s: database unavailable: %s", request.method, request.url.path, exc)
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": "database unavailable"},
    )


def create_app(
    database: DatabaseConfig,
    *,
    probe: HubProbe | None = None,
    metrics: CollectorRegistry | None = None,
    webhooks_config: WebhooksConfig | None = None,
    rules: Rules | None = None,
    on_transitions: Callable[[], None] | None = None,
    console: ConsoleConfig | None = None,
) -> FastAPI:
    """The API over the database `database` names, reporting on `probe`'s hub if given,
    and serving `metrics` at `/metrics` if given; webhooks are checked against
    `webhooks_config` (the defaults if None). `rules` are the hub's rules in force (the
    shipped ones if None); `on_transitions` is called after a request queued alert
    transitions (the hub wakes its relays). The operator console (`hub.console`) is
    served at `/` with its sessions bounded by `console` (the defaults if None).

    Every route but `/health` and `/metrics` needs a bearer token from `api_tokens`
    (`hub.api.auth`), `/openapi.json` included (any valid token); there is no
    interactive `/docs` page: `docs/openapi.json` is the published description.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            database.url.get_secret_value(),
            min_size=database.pool_min,
            max_size=database.pool_max,
            timeout=database.connect_timeout_s,
            open=False,
            name="api",
            check=AsyncConnectionPool.check_connection,
        )
        # Not waiting for the pool: the API answers (503) while the database is down.
        await pool.open(wait=False)
        # On app.state (not the lifespan state), so the app also works under an ASGI
        # transport that runs the lifespan by hand (tests, scripts).
        app.state.pool = pool
        app.state.probe = probe
        app.state.on_transitions = on_transitions
        if rules is not None:
            app.state.rules = rules
        app.state.health_timeout_s = min(database.connect_timeout_s, _HEALTH_TIMEOUT_S)
        try:
            yield
        finally:
            await pool.close()

    app = _api(lifespan)
    app.state.webhooks = webhooks_config or WebhooksConfig()
    if metrics is not None:
        app.state.metrics = metrics
        app.include_router(metrics_route.router)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(_caller: Viewer) -> dict[str, Any]:
        return app.openapi()

    mount_console(app, console)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    return app


def _api(lifespan: Any = None) -> FastAPI:
    """The API's routes on an app that serves no description of its own."""
    app = FastAPI(
        title="Shouwang hub",
        version=version("shouwang"),
        summary="Events, alerts and health of a Shouwang hub.",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    # `stream` before `alerts`: /api/v1/alerts/stream is not an /api/v1/alerts/{alert_id}.
    for module in (
        routes,
        snapshots,
        stream,
        alerts,
        silences,
        rules_api,
        sites,
        stats,
        tokens,
        webhooks,
    ):
        app.include_router(module.router)
    return app


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document, as `/openapi.json` serves it with metrics on."""
    app = _api()
    app.include_router(metrics_route.router)
    return app.openapi()


def create_metrics_app(metrics: CollectorRegistry) -> FastAPI:
    """An app serving only `metrics` at `/metrics` (no token, no OpenAPI): for a listen
    address of its own, apart from the API's (`api.metrics_host` / `metrics_port`)."""
    app = FastAPI(title="Shouwang hub metrics", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.metrics = metrics
    app.include_router(metrics_route.router)
    return app
