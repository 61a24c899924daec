"""Tokens as values: roles in order, scopes validated, tokens verified by their hash."""

import psycopg
import pytest

from hub.runtime import migrate_database
from hub.storage.tokens import TOKEN_PREFIX, Role, Scope, issue_token, verify_token
from tests.hub.support import rows


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        (Role.VIEWER, Role.VIEWER, True),
        (Role.VIEWER, Role.OPERATOR, False),
        (Role.OPERATOR, Role.VIEWER, True),
        (Role.OPERATOR, Role.ADMIN, False),
        (Role.ADMIN, Role.OPERATOR, True),
    ],
)
def test_each_role_includes_the_ones_below(role: Role, needed: Role, allowed: bool) -> None:
    """viewer < operator < admin."""
    assert role.allows(needed) is allowed


def test_scope_is_all_sites_or_a_list_of_valid_ids() -> None:
    """A scope has every site or a non-empty set of valid site ids, never both."""
    assert Scope(all_sites=True).site_list() is None
    assert Scope.of(["room-02", "room-01"]).site_list() == ["room-01", "room-02"]
    assert Scope.of(["room-01"]).sees("room-01")
    assert not Scope.of(["room-01"]).sees("room-02")
    with pytest.raises(ValueError, match="non-empty"):
        Scope(all_sites=False)
    with pytest.raises(ValueError, match="non-empty"):
        Scope(all_sites=True, sites=frozenset({"room-01"}))
    with pytest.raises(ValueError, match="Room 7"):
        Scope.of(["Room 7"])


@pytest.mark.integration
async def test_only_the_hash_is_stored_and_verified(database: str) -> None:
    """The issued token verifies; the table holds neither it nor its secret part; a
    tampered or truncated token verifies as no one."""
    await migrate_database(database, wait=False)
    async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
        issued = await issue_token(conn, Role.OPERATOR, Scope.of(["room-01"]), "desk")
        caller = await verify_token(conn, issued.token)
        assert caller is not None
        assert (caller.token_id, caller.role) == (issued.id, Role.OPERATOR)
        for wrong in (issued.token[:-2], issued.token + "x", issued.token.upper(), ""):
            assert await verify_token(conn, wrong) is None
    assert issued.token.startswith(f"{TOKEN_PREFIX}{issued.id}_")
    (stored,) = await rows(database, "SELECT api_tokens::text FROM api_tokens")
    secret = issued.token.removeprefix(f"{TOKEN_PREFIX}{issued.id}_")
    assert len(secret) >= 43
    assert secret not in stored[0]
