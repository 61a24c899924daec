"""Bearer-token authentication and role checks, as FastAPI dependencies.

Every `/api/v1` route declares what it needs: `Viewer` (any valid token), `Admin`, or
`require(role)`; `CallerScope` gives a route the caller's `Scope` as a value, to pass
to the storage reads (which filter by it in SQL). No token, an unknown, malformed or
revoked one: 401 with `WWW-Authenticate: Bearer`. A valid token whose role is too low:
403. `/health` alone is open.

The operator console's session cookie (`hub.console.session`) is accepted in place of the
header: it stands for the token the console signed in with, checked again here on every
request, and a request that changes state must also carry the session's CSRF token
(`X-CSRF-Token`; 403 without it). A bearer header, when present, wins.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Final, cast

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.api.common import pool
from hub.console.session import (
    CSRF_HEADER,
    SAFE_METHODS,
    SessionStore,
    csrf_matches,
    session_id_of,
)
from hub.storage.tokens import Caller, Role, Scope, verify_token

__all__ = [
    "Admin",
    "CallerScope",
    "Viewer",
    "authenticated",
    "presented_token",
    "require",
    "session_alive",
]

# auto_error=False: the 401 is ours, the same for a missing and a wrong token.
_bearer: Final = HTTPBearer(auto_error=False, description="`sw_…` token from `hub token create`")
# RFC 6750 §3: a 401 names the scheme; a bad token also says `invalid_token`.
_CHALLENGE: Final = "Bearer"
_INVALID: Final = f'{_CHALLENGE} error="invalid_token"'
_MISSING: Final = "a bearer token is required"
_REFUSED: Final = "the token is unknown, malformed or revoked"
_ENDED: Final = "the console session has ended: sign in again"
_NO_CSRF: Final = f"a console request that changes state needs the session's {CSRF_HEADER}"


def _unauthorized(message: str, challenge: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=message,
        headers={"WWW-Authenticate": challenge},
    )


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller the request's bearer token (or console session) speaks for; 401 if it
    speaks for no one, 403 for a console request that changes state without its CSRF
    token."""
    if credentials is None:
        return await _session_caller(request)
    async with pool(request).connection() as conn:
        caller = await verify_token(conn, credentials.credentials)
    if caller is None:
        raise _unauthorized(_REFUSED, _INVALID)
    request.state.sw_token = credentials.credentials
    return caller


def _sessions(request: Request) -> SessionStore | None:
    return cast("SessionStore | None", getattr(request.app.state, "console_sessions", None))


async def _session_caller(request: Request) -> Caller:
    """The caller of a console session cookie (see the module docstring)."""
    store, session_id = _sessions(request), session_id_of(request)
    if store is None or session_id is None:
        raise _unauthorized(_MISSING, _CHALLENGE)
    session = store.get(session_id)
    if session is None:
        raise _unauthorized(_ENDED, _CHALLENGE)
    if request.method not in SAFE_METHODS and not csrf_matches(
        session, request.headers.get(CSRF_HEADER)
    ):
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=_NO_CSRF)
    async with pool(request).connection() as conn:
        caller = await verify_token(conn, session.token)
    if caller is None:
        store.close_token(session.token)
        raise _unauthorized(_ENDED, _CHALLENGE)
    request.state.sw_token = session.token
    request.state.sw_session = session_id
    return caller


def presented_token(request: Request) -> str:
    """The token an authenticated request spoke with (its bearer, or its session's)."""
    return cast("str", request.state.sw_token)


def session_alive(request: Request) -> bool:
    """False once the console session an authenticated request came with has ended;
    True for a bearer request."""
    session_id = getattr(request.state, "sw_session", None)
    if session_id is None:
        return True
    store = _sessions(request)
    return store is not None and store.get(session_id, touch=False) is not None


def require(role: Role) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency that lets through callers with `role` or above; 403 for the others."""

    async def check(caller: Annotated[Caller, Depends(authenticated)]) -> Caller:
        if not caller.role.allows(role):
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"this needs the {role.value} role; the token has {caller.role.value}",
            )
        return caller

    return check


Viewer = Annotated[Caller, Depends(require(Role.VIEWER))]
Admin = Annotated[Caller, Depends(require(Role.ADMIN))]


async def _scope(caller: Viewer) -> Scope:
    return caller.scope


CallerScope = Annotated[Scope, Depends(_scope)]
"""The sites a reading caller (viewer or above) may see."""
