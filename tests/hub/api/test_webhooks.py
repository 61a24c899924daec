"""The webhook endpoints of the API: admins only, the secret shown once, the caller's
site scope, destination checks as 422s naming the field, rotation, enabling, the log."""

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from hub.api import create_app
from hub.config import DatabaseConfig
from hub.storage.tokens import Role
from hub.storage.webhook_queue import Attempt, record_attempt
from hub.storage.webhooks import disable_endpoint
from tests.hub.api.support import store, token
from tests.hub.notify.support import webhooks_config
from tests.hub.support import rows
from wire import AlertTransition, Severity, Transition, encode, parse_time

pytestmark = pytest.mark.integration

HOOK = "http://127.0.0.1:9/hook"
ADMIN_ROUTES = (
    ("POST", "/api/v1/webhooks"),
    ("GET", "/api/v1/webhooks"),
    ("GET", "/api/v1/webhooks/{id}"),
    ("DELETE", "/api/v1/webhooks/{id}"),
    ("POST", "/api/v1/webhooks/{id}/rotate"),
    ("POST", "/api/v1/webhooks/{id}/enable"),
    ("GET", "/api/v1/webhooks/{id}/deliveries"),
)


@asynccontextmanager
async def api(url: str, bearer: str | None, **webhooks: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The API over `url` with test webhook settings (loopback and http allowed unless
    `webhooks` says otherwise), behind an in-process client sending `bearer`."""
    app = create_app(
        DatabaseConfig.model_validate({"url": url}),
        webhooks_config=webhooks_config(rotation_overlap_s=3600, **webhooks),
    )
    headers = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hub", headers=headers
        ) as http,
    ):
        yield http


async def _admin(url: str, sites: list[str] | None = None) -> str:
    await store(url, [])
    return await token(url, Role.ADMIN, sites)


async def _create(http: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await http.post("/api/v1/webhooks", json={"url": HOOK, **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.mark.parametrize("role", [None, Role.VIEWER, Role.OPERATOR])
async def test_only_admins_manage_webhooks(database: str, role: Role | None) -> None:
    """No token is a 401 and a viewer's or operator's is a 403, on every webhook route."""
    await store(database, [])
    bearer = None if role is None else await token(database, role)
    path_id = str(uuid.uuid4())
    async with api(database, bearer) as http:
        for method, path in ADMIN_ROUTES:
            body = {"url": HOOK} if method == "POST" else None
            response = await http.request(method, path.format(id=path_id), json=body)
            assert response.status_code == (401 if role is None else 403), (path, response.text)


async def test_the_secret_is_shown_once_and_never_logged(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Registration answers the secret; reads and listings never show it; no log line does."""
    caplog.set_level(logging.DEBUG)
    async with api(database, await _admin(database)) as http:
        created = await _create(http, description="ops desk", min_severity="high")
        secret = created["secret"]
        assert secret.startswith("whsec_")
        assert (created["sites"], created["min_severity"], created["enabled"]) == (
            None,
            "high",
            True,
        )
        one = await http.get(f"/api/v1/webhooks/{created['id']}")
        listing = await http.get("/api/v1/webhooks")
    assert one.status_code == listing.status_code == 200
    assert "secret" not in one.json()
    assert [w["id"] for w in listing.json()["webhooks"]] == [created["id"]]
    for text in (one.text, listing.text):
        assert secret not in text
    assert not [r for r in caplog.records if secret in r.getMessage()]
    assert any(created["id"] in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("body", "field", "settings"),
    [
        ({"url": "http://127.0.0.1:9/hook"}, "url", {"allow_networks": []}),
        ({"url": "http://10.1.2.3/hook"}, "url", {}),
        ({"url": "http://169.254.169.254/latest"}, "url", {}),
        ({"url": "http://127.0.0.1:9/hook"}, "url", {"allow_http": False}),
        ({"url": "http://user:pw@127.0.0.1:9/hook"}, "url", {}),
        ({"url": "gopher://127.0.0.1/"}, "url", {}),
        ({"url": "http://127.0.0.1/" + "a" * 2048}, "url", {}),
        ({"url": HOOK, "min_severity": "urgent"}, "min_severity", {}),
        ({"url": HOOK, "sites": ["Room 1"]}, "sites", {}),
        ({"url": HOOK, "sites": []}, "sites", {}),
        ({"url": HOOK, "colour": "blue"}, "colour", {}),
    ],
)
async def test_bad_registrations_are_422_naming_the_field(
    database: str, body: dict[str, Any], field: str, settings: dict[str, Any]
) -> None:
    """Refused destinations and invalid fields are 422s whose detail names the field."""
    async with api(database, await _admin(database), **settings) as http:
        response = await http.post("/api/v1/webhooks", json=body)
    assert response.status_code == 422, response.text
    assert any(item["loc"][:2] == ["body", field] for item in response.json()["detail"])
    assert await rows(database, "SELECT count(*) FROM webhook_endpoints") == [(0,)]


async def test_scope_limits_what_an_admin_registers_and_sees(database: str) -> None:
    """A room-01 admin registers only room-01 webhooks and cannot see or touch an
    all-sites one (404); an all-sites admin sees both."""
    everything = await _admin(database)
    scoped = await token(database, Role.ADMIN, ["room-01"])
    async with api(database, everything) as http:
        wide = await _create(http)
    async with api(database, scoped) as http:
        refused = await http.post("/api/v1/webhooks", json={"url": HOOK, "sites": ["room-02"]})
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "sites"]
        narrow = await _create(http)
        assert narrow["sites"] == ["room-01"]
        listing = (await http.get("/api/v1/webhooks")).json()["webhooks"]
        assert [w["id"] for w in listing] == [narrow["id"]]
        for method, path in ADMIN_ROUTES[2:]:
            response = await http.request(method, path.format(id=wide["id"]))
            assert response.status_code == 404, (path, response.text)
            assert response.json() == {"detail": "no such webhook"}
    async with api(database, everything) as http:
        listing = (await http.get("/api/v1/webhooks")).json()["webhooks"]
        assert {w["id"] for w in listing} == {wide["id"], narrow["id"]}


async def test_rotation_returns_a_new_secret_and_keeps_the_old_for_the_overlap(
    database: str,
) -> None:
    """Rotating answers a new secret (once) and when the previous one stops signing."""
    async with api(database, await _admin(database)) as http:
        created = await _create(http)
        before = datetime.now(UTC)
        rotated = await http.post(f"/api/v1/webhooks/{created['id']}/rotate")
        again = await http.get(f"/api/v1/webhooks/{created['id']}")
    assert rotated.status_code == 200, rotated.text
    secret = rotated.json()["secret"]
    assert secret.startswith("whsec_")
    assert secret != created["secret"]
    until = parse_time(rotated.json()["previous_secret_expires_at"])
    assert timedelta(minutes=59) < until - before < timedelta(minutes=61)
    assert secret not in again.text
    stored = await rows(database, "SELECT secret, previous_secret FROM webhook_endpoints")
    assert stored == [(secret, created["secret"])]


async def test_enable_after_a_410_and_delete(database: str) -> None:
    """A disabled webhook is enabled again through the API; a deleted one is gone (404)."""
    async with api(database, await _admin(database)) as http:
        created = await _create(http)
        async with await psycopg.AsyncConnection.connect(database, autocommit=True) as conn:
            await disable_endpoint(conn, uuid.UUID(created["id"]), "the receiver answered 410")
        disabled = (await http.get(f"/api/v1/webhooks/{created['id']}")).json()
        assert (disabled["enabled"], disabled["disabled_reason"]) == (
            False,
            "the receiver answered 410",
        )
        enabled = await http.post(f"/api/v1/webhooks/{created['id']}/enable")
        assert enabled.status_code == 200, enabled.text
        assert (enabled.json()["enabled"], enabled.json()["disabled_reason"]) == (True, None)
        assert (await http.delete(f"/api/v1/webhooks/{created['id']}")).status_code == 204
        assert (await http.get(f"/api/v1/webhooks/{created['id']}")).status_code == 404
        assert (await http.delete(f"/api/v1/webhooks/{created['id']}")).status_code == 404


async def _log(url: str, endpoint: uuid.UUID, attempts: int) -> None:
    """One message of a transition, with `attempts` failed attempts in its log."""
    alert = uuid.uuid4()
    at = "2025-03-01T08:15:02.123456Z"
    await rows(
        url,
        "INSERT INTO alerts (alert_id, rule, severity, site, device, revision, count, "
        "first_at, last_at, event_ids) VALUES (%s, 'panic', 'critical', 'room-01', 'p1', 1, 1, "
        "%s, %s, '{}') RETURNING 1",
        [alert, at, at],
    )
    payload = encode(
        AlertTransition(
            v=1,
            alert_id=alert,
            revision=1,
            transition=Transition.OPENED,
            rule="panic",
            severity=Severity.CRITICAL,
            site="room-01",
            device="p1",
            count=1,
            first_at=at,
            last_at=at,
            event_ids=(),
        )
    )
    message = await rows(
        url,
        "WITH o AS (INSERT INTO alert_outbox (alert_id, revision, transition, site, payload) "
        "VALUES (%s, 1, 'opened', 'room-01', %s) RETURNING id) "
        "INSERT INTO webhook_messages (endpoint_id, outbox_id, alert_id, revision, expires_at) "
        "SELECT %s, id, %s, 1, now() + interval '1 day' FROM o RETURNING id",
        [alert, payload, endpoint, alert],
    )
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for n in range(1, attempts + 1):
            await record_attempt(
                conn,
                Attempt(
                    message_id=message[0][0],
                    endpoint_id=endpoint,
                    attempt=n,
                    status_code=500,
                    error=None,
                    duration_ms=12,
                    excerpt="busy",
                    outcome="retry",
                    retry_at=datetime.now(UTC),
                ),
            )


async def test_the_delivery_log_is_paginated_newest_first(database: str) -> None:
    """Five attempts come back two at a time, newest first, each page bounded; a foreign
    cursor is a 422 naming it."""
    async with api(database, await _admin(database)) as http:
        created = await _create(http)
        await _log(database, uuid.UUID(created["id"]), 5)
        path = f"/api/v1/webhooks/{created['id']}/deliveries"
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await http.get(path, params=params)).json()
            assert len(page["deliveries"]) <= 2
            seen += page["deliveries"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        bad = await http.get(path, params={"cursor": "bm9wZQ"})
        too_many = await http.get(path, params={"limit": 201})
    assert [d["attempt"] for d in seen] == [5, 4, 3, 2, 1]
    first = seen[-1]
    assert (first["status_code"], first["error"], first["response_excerpt"]) == (500, None, "busy")
    assert first["webhook_id"] == f"msg_{uuid.UUID(first['alert_id']).hex}_1"
    assert first["message_state"] == "pending"
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "cursor"]
    assert too_many.status_code == 422
