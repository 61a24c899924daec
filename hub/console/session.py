"""Console sessions: a sign-in with an API token becomes an HttpOnly cookie; a CSRF
token guards every state-changing request made with that cookie.

A session maps to the token it was opened with: every request made with the cookie is
checked again with `hub.storage.tokens.verify_token` (so a revoked token's sessions stop
at once, and the role and sites are the token's). The token stays in this process's
memory only, never in the cookie, a log or the database. Sessions are per hub process
(several hubs behind one address need sticky sessions; docs/console.md).

A session ends `idle_s` after its last request, `max_s` after it was opened, or when
its owner signs out. The store holds at most `max_sessions`; beyond that, sign-in is
refused until some end.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request
    from starlette.responses import Response

__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "Session",
    "SessionStore",
    "SessionsFull",
    "clear_cookie",
    "csrf_matches",
    "session_id_of",
    "set_cookie",
]

COOKIE: Final = "sw_session"
"""The session cookie: HttpOnly, SameSite=Strict, Secure over TLS."""

CSRF_HEADER: Final = "X-CSRF-Token"
"""The header every state-changing request made with the cookie must carry."""

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

_ID_BYTES: Final = 32  # 256 random bits
_MAX_COOKIE_CHARS: Final = 100


class SessionsFull(Exception):  # noqa: N818 - a state, not a failure of the caller
    """The store already holds its maximum of live sessions."""


@dataclass(slots=True)
class Session:
    """One signed-in console: the token it speaks with and its CSRF token."""

    token: str = field(repr=False)
    csrf: str = field(repr=False)
    opened: float
    seen: float


def _key(session_id: str) -> str:
    # Stored under a hash, so the store's keys are not usable cookies.
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


class SessionStore:
    """The live sessions of one hub process, bounded in number and in time."""

    def __init__(
        self,
        *,
        idle_s: float,
        max_s: float,
        max_sessions: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_s = idle_s
        self.max_s = max_s
        self._max_sessions = max_sessions
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, token: str) -> tuple[str, Session]:
        """A new session for `token`: its id (the cookie's value) and the session."""
        self._sweep()
        if len(self._sessions) >= self._max_sessions:
            message = f"{self._max_sessions} console sessions are open already"
            raise SessionsFull(message)
        session_id = secrets.token_urlsafe(_ID_BYTES)
        now = self._clock()
        session = Session(token=token, csrf=secrets.token_urlsafe(_ID_BYTES), opened=now, seen=now)
        self._sessions[_key(session_id)] = session
        return session_id, session

    def get(self, session_id: str, *, touch: bool = True) -> Session | None:
        """The live session `session_id` names (its idle time restarted if `touch`);
        None if it never existed, ended or expired."""
        if not session_id or len(session_id) > _MAX_COOKIE_CHARS:
            return None
        key = _key(session_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self._clock()
        if now - session.opened >= self.max_s or now - session.seen >= self.idle_s:
            del self._sessions[key]
            return None
        if touch:
            session.seen = now
        return session

    def close(self, session_id: str) -> None:
        """End `session_id` (signing out); nothing if it is not open."""
        self._sessions.pop(_key(session_id), None)

    def close_token(self, token: str) -> None:
        """End every session opened with `token` (it no longer verifies)."""
        for key in [k for k, s in self._sessions.items() if s.token == token]:
            del self._sessions[key]

    def _sweep(self) -> None:
        now = self._clock()
        expired = [
            key
            for key, s in self._sessions.items()
            if now - s.opened >= self.max_s or now - s.seen >= self.idle_s
        ]
        for key in expired:
            del self._sessions[key]


def csrf_matches(session: Session, offered: str | None) -> bool:
    """Whether `offered` is the session's CSRF token (compared in constant time)."""
    if not offered or len(offered) > _MAX_COOKIE_CHARS:
        return False
    return hmac.compare_digest(session.csrf.encode("ascii"), offered.encode("utf-8"))


def session_id_of(request: Request) -> str | None:
    """The session cookie the request carries, if any."""
    return request.cookies.get(COOKIE)


def _secure(request: Request) -> bool:
    # uvicorn applies X-Forwarded-Proto from a trusted (loopback) proxy to the scheme.
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, session_id: str, max_age_s: int) -> None:
    """Put the session cookie on `response`: HttpOnly, SameSite=Strict, Secure over TLS."""
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=max_age_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def clear_cookie(response: Response, request: Request) -> None:
    """Tell the browser to forget the session cookie."""
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request)
    )
