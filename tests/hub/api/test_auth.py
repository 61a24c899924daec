"""Bearer tokens on the API: 401 versus 403, revocation, and site scope on every endpoint."""

import uuid
from typing import Any

import httpx
import psycopg
import pytest

from hub.storage.tokens import Role, revoke_token
from tests.hub.api.support import BASE, all_pages, api, events, store, token
from tests.hub.support import rows

pytestmark = pytest.mark.integration

ENDPOINTS = (
    "/api/v1/events",
    f"/api/v1/events/{uuid.uuid4()}",
    "/api/v1/alerts",
    "/api/v1/sites",
    "/api/v1/sites/room-01",
    "/api/v1/sites/room-01/devices",
    "/api/v1/sites/room-01/devices/door-0",
    "/api/v1/devices",
    "/api/v1/tokens",
    "/api/v1/stats/events",
)


async def _seed(url: str) -> None:
    """Twelve events over room-01 and room-02, and one alert in each."""
    await store(url, events(12))
    for site in ("room-01", "room-02"):
        await rows(
            url,
            "INSERT INTO alerts (alert_id, rule, severity, site, device, revision, count, "
            "first_at, last_at, event_ids) VALUES (%s, 'panic', 'critical', %s, 'door-0', 1, 1, "
            "%s, %s, '{}') RETURNING 1",
            [uuid.uuid4(), site, BASE, BASE],
        )


def _assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_no_token_is_401_with_a_bearer_challenge(database: str, path: str) -> None:
    """Every /api/v1 endpoint answers 401 with `WWW-Authenticate: Bearer` to no token."""
    await store(database, [])
    async with api(database) as http:
        _assert_401(await http.get(path))


async def test_only_health_is_open(database: str) -> None:
    """/health answers without a token; the API's description needs one; no /docs page."""
    await store(database, [])
    async with api(database) as http:
        assert (await http.get("/health")).status_code == 200
        _assert_401(await http.get("/openapi.json"))
        assert (await http.get("/docs")).status_code == 404
        assert (await http.get("/redoc")).status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer nonsense",
        "Bearer sw_0123456789ab_" + "A" * 43,  # well formed, unknown
        "Bearer sw_XYZ_secret",
    ],
)
async def test_bad_credentials_are_401(database: str, authorization: str) -> None:
    """Another scheme, a malformed or an unknown token: 401."""
    await store(database, [])
    async with api(database) as http:
        _assert_401(await http.get("/api/v1/events", headers={"Authorization": authorization}))


async def test_a_wrong_secret_for_a_real_id_is_401(database: str) -> None:
    """A token whose id exists but whose secret is not the issued one is refused."""
    await store(database, [])
    issued = await token(database)
    forged = issued[:-1] + ("B" if issued.endswith("A") else "A")
    async with api(database, forged) as http:
        _assert_401(await http.get("/api/v1/events"))


async def test_a_revoked_token_is_401_at_once(database: str) -> None:
    """A token works until it is revoked, then gets 401 on the next request."""
    await store(database, [])
    issued = await token(database)
    async with api(database, issued) as http:
        assert (await http.get("/api/v1/events")).status_code == 200
        async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
            assert await revoke_token(conn, issued.split("_")[1])
        _assert_401(await http.get("/api/v1/events"))


async def test_too_low_a_role_is_403_not_401(database: str) -> None:
    """A valid viewer or operator token on the admin-only token list gets 403; admin 200."""
    await store(database, [])
    for role in (Role.VIEWER, Role.OPERATOR):
        async with api(database, await token(database, role)) as http:
            response = await http.get("/api/v1/tokens")
        assert response.status_code == 403
        assert "admin" in response.json()["detail"]
    async with api(database, await token(database, Role.ADMIN)) as http:
        listed = (await http.get("/api/v1/tokens")).json()["tokens"]
    assert {t["role"] for t in listed} == {"viewer", "operator", "admin"}
    assert all(t["last_used_at"] is not None for t in listed)
    assert all("secret" not in key for t in listed for key in t)


async def test_a_site_token_never_sees_another_site(database: str) -> None:
    """A room-01 token: room-02 is absent from every listing and CSV, and each of its
    resources is a 404 with the same body as a resource that does not exist."""
    await _seed(database)
    other = await rows(database, "SELECT id::text FROM events WHERE site = 'room-02' LIMIT 1")
    async with api(database, await token(database, sites=["room-01"])) as http:
        listed = await all_pages(http, "/api/v1/events", "events", limit=5)
        assert {e["site"] for e in listed} == {"room-01"}
        assert len(listed) == 6
        asked: dict[str, Any] = {"site": "room-02", "limit": 10}
        assert (await http.get("/api/v1/events", params=asked)).json()["events"] == []
        exported = await http.get("/api/v1/events", headers={"Accept": "text/csv"})
        assert "room-02" not in exported.text
        assert exported.text.count("room-01") == 6
        alerts = (await http.get("/api/v1/alerts")).json()["alerts"]
        assert [a["site"] for a in alerts] == ["room-01"]
        sites = (await http.get("/api/v1/sites")).json()["sites"]
        assert [s["site"] for s in sites] == ["room-01"]
        devices = await all_pages(http, "/api/v1/devices", "devices", limit=2)
        assert {d["site"] for d in devices} == {"room-01"}

        pairs = [
            (f"/api/v1/events/{other[0][0]}", f"/api/v1/events/{uuid.uuid4()}"),
            ("/api/v1/sites/room-02", "/api/v1/sites/room-99"),
            ("/api/v1/sites/room-02/devices", "/api/v1/sites/room-99/devices"),
            ("/api/v1/sites/room-02/devices/door-0", "/api/v1/sites/room-01/devices/door-9"),
        ]
        for hidden, missing in pairs:
            refused, absent = await http.get(hidden), await http.get(missing)
            assert (refused.status_code, refused.json()) == (absent.status_code, absent.json())
            assert refused.status_code == 404
    async with api(database, await token(database, sites=["room-02"])) as http:
        assert (await http.get(f"/api/v1/events/{other[0][0]}")).status_code == 200
