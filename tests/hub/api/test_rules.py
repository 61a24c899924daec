"""`GET /api/v1/rules`: the rules in force, read-only, to any valid token."""

import pytest

from hub.storage.tokens import Role
from tests.hub.api.support import api, store, token

pytestmark = pytest.mark.integration


async def test_any_token_reads_the_rules_in_force(database: str) -> None:
    """A viewer gets the shipped rules with every field; without a token, 401."""
    await store(database, [])
    async with api(database) as anonymous:
        assert (await anonymous.get("/api/v1/rules")).status_code == 401
    async with api(database, await token(database)) as http:
        answer = await http.get("/api/v1/rules")
    assert answer.status_code == 200
    body = answer.json()
    assert body["source"] == "hub/rules/defaults.yaml"
    panic = next(rule for rule in body["rules"] if rule["name"] == "panic")
    assert (panic["kind"], panic["severity"], panic["escalate_after_s"]) == (
        "immediate",
        "critical",
        120,
    )
    assert panic["match"]["types"] == ["alarm.panic"]


async def test_the_rules_cannot_be_changed_over_the_api(database: str) -> None:
    """Rules live in the file: POST, PUT and DELETE on /api/v1/rules are 405 even to admins."""
    await store(database, [])

    async with api(database, await token(database, Role.ADMIN)) as http:
        for method in ("POST", "PUT", "DELETE"):
            assert (await http.request(method, "/api/v1/rules")).status_code == 405
