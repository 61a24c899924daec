"""Bearer-token authentication and role checks, as FastAPI dependencies.

Every `/api/v1` route declares what it needs: `Viewer` (any valid token), `Admin`, or
`require(role)`; `CallerScope` gives a route the caller's `Scope` as a value, to pass
to the storage reads (which filter by it in SQL). No token, an unknown, malformed or
revoked one: 401 with `WWW-Authenticate: Bearer`. A valid token whose role is too low:
403. `/health` alone is open.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Final

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.api.common import pool
from hub.storage.tokens import Caller, Role, Scope, verify_token

__all__ = ["Admin", "CallerScope", "Viewer", "authenticated", "require"]

# auto_error=False: the 401 is ours, the same for a missing and a wrong token.
_bearer: Final = HTTPBearer(auto_error=False, description="`sw_…` token from `hub token create`")
# RFC 6750 §3: a 401 names the scheme; a bad token also says `invalid_token`.
_CHALLENGE: Final = "Bearer"
_INVALID: Final = f'{_CHALLENGE} error="invalid_token"'
_MISSING: Final = "a bearer token is required"
_REFUSED: Final = "the token is unknown, malformed or revoked"


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
    """The caller the request's bearer token speaks for; 401 if it speaks for no one."""
    if credentials is None:
        raise _unauthorized(_MISSING, _CHALLENGE)
    async with pool(request).connection() as conn:
        caller = await verify_token(conn, credentials.credentials)
    if caller is None:
        raise _unauthorized(_REFUSED, _INVALID)
    return caller


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
