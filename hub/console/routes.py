"""The console's pages: sign-in and sign-out, the language switch, and the page shells
whose JavaScript reads the JSON API (`/api/v1/…`) with the session cookie.

Every page but the sign-in needs a live session; without one it redirects to
`/login`. Pages are not in the OpenAPI document (`include_in_schema=False`). The one
JSON read of the console's own (`/console/api/incidents/{id}`) exists because the API
has no incident endpoint; it is scoped in SQL like the API's reads.
"""

import hmac
import json
import secrets
import uuid
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, status
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from hub.api.auth import CallerScope
from hub.api.common import not_found, pool
from hub.config import ConsoleConfig
from hub.console.i18n import LANG_COOKIE, LANGUAGES, Language, language_of, words
from hub.console.session import (
    SessionsFull,
    SessionStore,
    clear_cookie,
    session_id_of,
    set_cookie,
)
from hub.storage.tokens import Caller, Scope, verify_token
from wire import EventType

__all__ = ["HTML_HEADERS", "router"]

router = APIRouter(include_in_schema=False)

_TEMPLATES: Final = Jinja2Templates(directory=Path(__file__).parent / "templates")
_LOGIN_COOKIE: Final = "sw_login"
_MAX_FORM_BYTES: Final = 4096
_MAX_TOKEN_CHARS: Final = 200

HTML_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
"""Sent with every console page: only the hub's own assets, never framed, not cached."""

_PAGES: Final = {
    "queue": "queue.html",
    "sites": "sites.html",
    "devices": "devices.html",
    "history": "history.html",
    "alert": "alert.html",
}


def _store(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.console_sessions
    return store


def _config(request: Request) -> ConsoleConfig:
    config: ConsoleConfig = request.app.state.console_config
    return config


def _json(value: object) -> str:
    """JSON for a `<script type="application/json">` block: `<` escaped, so no string
    can close the block."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def _render(
    request: Request,
    template: str,
    context: dict[str, Any],
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    language = language_of(request)
    table = words(language)
    page = {
        "t": table,
        "lang": language,
        "words_json": _json(table),
        "languages": list(LANGUAGES),
        "path": request.url.path,
        **context,
    }
    response = _TEMPLATES.TemplateResponse(request, template, page, status_code=status_code)
    response.headers.update(HTML_HEADERS)
    return response


async def _signed_in(request: Request) -> tuple[Caller, str] | None:
    """The caller of the request's session and its CSRF token; None without a live one."""
    session_id = session_id_of(request)
    if session_id is None:
        return None
    store = _store(request)
    session = store.get(session_id)
    if session is None:
        return None
    async with pool(request).connection() as conn:
        caller = await verify_token(conn, session.token)
    if caller is None:
        store.close_token(session.token)
        return None
    return caller, session.csrf


def _to_login() -> RedirectResponse:
    return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)


def _zones(config: ConsoleConfig, scope: Scope) -> dict[str, str]:
    return {
        site: zone
        for site, zone in config.site_timezones.items()
        if scope.sees(site)  # another site's name is not the page's business
    }


async def _page(request: Request, name: str, **context: Any) -> Response:
    signed = await _signed_in(request)
    if signed is None:
        return _to_login()
    caller, csrf = signed
    config = _config(request)
    boot = {
        "role": caller.role.value,
        "sites": caller.scope.site_list(),
        "timezone": config.timezone,
        "site_timezones": _zones(config, caller.scope),
        **context,
    }
    return _render(
        request,
        _PAGES[name],
        {
            "csrf": csrf,
            "caller": caller,
            "scope": caller.scope.describe(),
            "boot_json": _json(boot),
            "page": name,
            **context,
        },
    )


@router.get("/")
async def queue_page(request: Request) -> Response:
    """The live alert queue."""
    return await _page(request, "queue")


@router.get("/sites")
async def sites_page(request: Request) -> Response:
    """The site board."""
    return await _page(request, "sites")


@router.get("/devices")
async def devices_page(request: Request) -> Response:
    """Devices of one site or all."""
    return await _page(request, "devices")


@router.get("/history")
async def history_page(request: Request) -> Response:
    """Events with filters, CSV export and charts."""
    return await _page(request, "history", event_types=[t.value for t in EventType])


@router.get("/alerts/{alert_id}")
async def alert_page(request: Request, alert_id: Annotated[uuid.UUID, PathParam()]) -> Response:
    """One alert: its events, snapshots, the device's recent events and the audit trail."""
    return await _page(request, "alert", alert_id=str(alert_id))


@router.get("/login")
async def login_page(request: Request) -> Response:
    """The sign-in form (with a one-time token against cross-site sign-in)."""
    return _login_form(request)


def _login_form(
    request: Request, error: str | None = None, status_code: int = status.HTTP_200_OK
) -> Response:
    nonce = secrets.token_urlsafe(32)
    response = _render(
        request, "login.html", {"nonce": nonce, "error": error}, status_code=status_code
    )
    response.set_cookie(
        _LOGIN_COOKIE,
        nonce,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form body; an oversized one reads as empty."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=4)
    return {key: values[0] for key, values in fields.items() if values}


@router.post("/login")
async def login(request: Request) -> Response:
    """Sign in with a token: a session cookie if the token verifies, the form again if not."""
    form = await _form(request)
    nonce = request.cookies.get(_LOGIN_COOKIE, "")
    offered = form.get("nonce", "")
    table = words(language_of(request))
    if not nonce or not hmac.compare_digest(nonce.encode(), offered.encode()):
        return _login_form(request, table["token_refused"], status.HTTP_403_FORBIDDEN)
    token = form.get("token", "").strip()[:_MAX_TOKEN_CHARS]
    async with pool(request).connection() as conn:
        caller = await verify_token(conn, token)
    if caller is None:
        return _login_form(request, table["token_refused"], status.HTTP_401_UNAUTHORIZED)
    store = _store(request)
    try:
        session_id, _ = store.open(token)
    except SessionsFull:
        return _login_form(request, table["sessions_full"], status.HTTP_503_SERVICE_UNAVAILABLE)
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    set_cookie(response, request, session_id, int(store.max_s))
    response.delete_cookie(_LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out: the session ends (CSRF token required, from the page's form)."""
    session_id = session_id_of(request)
    store = _store(request)
    session = None if session_id is None else store.get(session_id, touch=False)
    form = await _form(request)
    if session is not None and session_id is not None:
        offered = form.get("csrf", "") or request.headers.get("X-CSRF-Token", "")
        if not hmac.compare_digest(session.csrf.encode(), offered.encode()):
            return JSONResponse(
                {"detail": "signing out needs the session's CSRF token"},
                status_code=status.HTTP_403_FORBIDDEN,
            )
        store.close(session_id)
    response = _to_login()
    clear_cookie(response, request)
    return response


@router.get("/lang/{language}")
async def choose_language(request: Request, language: str) -> Response:
    """Switch the console's language (a cookie), back to the page it was chosen on."""
    back = request.query_params.get("next", "/")
    if not back.startswith("/") or back.startswith("//") or "\\" in back or len(back) > 500:
        back = "/"
    response = RedirectResponse(back, status_code=status.HTTP_303_SEE_OTHER)
    if language in LANGUAGES:
        chosen: Language = "en" if language == "en" else "zh-CN"
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=365 * 86_400,
            path="/",
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


_INCIDENT: Final = """
SELECT i.rule, count(a.alert_id)::int, coalesce(array_agg(DISTINCT a.site), '{}')
FROM incidents i JOIN alerts a ON a.incident_id = i.incident_id
WHERE i.incident_id = %(incident)s
  AND (%(scope)s::text[] IS NULL OR a.site = ANY(%(scope)s::text[]))
GROUP BY i.rule
"""


@router.get("/console/api/incidents/{incident_id}")
async def incident(
    request: Request,
    scope: CallerScope,
    incident_id: Annotated[uuid.UUID, PathParam()],
) -> dict[str, Any]:
    """An incident as far as the caller's sites go: its rule, how many of its alerts and
    which sites (other sites' alerts are neither counted nor named)."""
    async with pool(request).connection() as conn:
        cursor = await conn.execute(
            _INCIDENT, {"incident": incident_id, "scope": scope.site_list()}
        )
        row = await cursor.fetchone()
    if row is None:
        raise not_found(what="incident")
    rule, count, sites = row
    return {"incident_id": str(incident_id), "rule": rule, "count": count, "sites": sorted(sites)}
