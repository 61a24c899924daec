"""API bearer tokens: issued, listed, revoked and verified; only their hash is stored.

A token reads `sw_<id>_<secret>`: `id` (12 hex digits) is public and finds the row,
`secret` (`secrets.token_urlsafe(32)`, 256 random bits) is checked against the SHA-256
kept in `api_tokens.secret_sha256`. The clear token exists once, in `issue_token`'s
answer; it is never stored nor logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from psycopg.rows import class_row

from wire import is_valid_id

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from psycopg import AsyncConnection

__all__ = [
    "TOKEN_PREFIX",
    "Caller",
    "Issued",
    "Role",
    "Scope",
    "TokenInfo",
    "issue_token",
    "list_tokens",
    "revoke_token",
    "verify_token",
]

TOKEN_PREFIX: Final = "sw_"  # noqa: S105 - a marker, not a secret
_ID_HEX_DIGITS: Final = 12


class Role(StrEnum):
    """What a token may do; each role may do everything the ones before it may."""

    VIEWER = "viewer"  # read
    OPERATOR = "operator"  # read, and act on alerts
    ADMIN = "admin"  # everything, tokens included

    def allows(self, needed: Role) -> bool:
        """Whether this role is `needed` or above it."""
        order = list(Role)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True, slots=True)
class Scope:
    """The sites a token may see: every one, or exactly `sites`."""

    all_sites: bool
    sites: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.all_sites == bool(self.sites):
            message = f"a scope is all sites or a non-empty list of sites, not {self!r}"
            raise ValueError(message)
        bad = sorted(site for site in self.sites if not is_valid_id(site))
        if bad:
            message = f"site ids must match [a-z0-9][a-z0-9_-]{{0,63}}: {bad}"
            raise ValueError(message)

    @classmethod
    def of(cls, sites: Iterable[str]) -> Scope:
        """The scope of exactly `sites`."""
        return cls(all_sites=False, sites=frozenset(sites))

    def sees(self, site: str) -> bool:
        """Whether `site` is within this scope."""
        return self.all_sites or site in self.sites

    def site_list(self) -> list[str] | None:
        """The sites for a `site = ANY(...)` condition; None when every site is in scope."""
        return None if self.all_sites else sorted(self.sites)

    def describe(self) -> str:
        """`all sites` or the comma-separated sites."""
        return "all sites" if self.all_sites else ",".join(sorted(self.sites))


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a verified token speaks for."""

    token_id: str
    role: Role
    scope: Scope


@dataclass(frozen=True, slots=True)
class Issued:
    """A token just issued: `token` is its only clear copy."""

    id: str
    token: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What is known about a token, its secret aside."""

    id: str
    role: str
    all_sites: bool
    sites: list[str]
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    """The (id, secret) of a well-formed token, else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    ident, sep, secret = token.removeprefix(TOKEN_PREFIX).partition("_")
    well_formed = (
        sep
        and secret
        and len(ident) == _ID_HEX_DIGITS
        and all(c in "0123456789abcdef" for c in ident)
    )
    return (ident, secret) if well_formed else None


async def issue_token(
    conn: AsyncConnection[Any], role: Role, scope: Scope, label: str | None = None
) -> Issued:
    """Create a token with `role` over `scope`; the answer holds its only clear copy."""
    ident = secrets.token_hex(_ID_HEX_DIGITS // 2)
    secret = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO api_tokens (id, secret_sha256, role, all_sites, sites, label) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        [ident, _digest(secret), role.value, scope.all_sites, sorted(scope.sites), label],
    )
    return Issued(id=ident, token=f"{TOKEN_PREFIX}{ident}_{secret}")


async def list_tokens(conn: AsyncConnection[Any]) -> list[TokenInfo]:
    """Every token ever issued, oldest first, without secrets."""
    async with conn.cursor(row_factory=class_row(TokenInfo)) as cur:
        await cur.execute(
            "SELECT id, role, all_sites, sites, label, created_at, revoked_at, last_used_at "
            "FROM api_tokens ORDER BY created_at, id"
        )
        return await cur.fetchall()


async def revoke_token(conn: AsyncConnection[Any], token_id: str) -> bool:
    """Revoke the token `token_id`; False if there is no such token still valid."""
    cursor = await conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL",
        [token_id],
    )
    return cursor.rowcount == 1


async def verify_token(conn: AsyncConnection[Any], token: str) -> Caller | None:
    """Who `token` speaks for; None if it is malformed, unknown, wrong or revoked."""
    parts = _split(token)
    if parts is None:
        return None
    ident, secret = parts
    cursor = await conn.execute(
        "SELECT secret_sha256, role, all_sites, sites FROM api_tokens "
        "WHERE id = %s AND revoked_at IS NULL",
        [ident],
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    stored, role, all_sites, sites = row
    if not hmac.compare_digest(stored, _digest(secret)):
        return None
    # Written at most once a minute per token, not on every request.
    await conn.execute(
        "UPDATE api_tokens SET last_used_at = now() WHERE id = %s AND "
        "(last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        [ident],
    )
    return Caller(token_id=ident, role=Role(role), scope=Scope(all_sites, frozenset(sites)))
