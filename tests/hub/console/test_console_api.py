"""Console sessions against the real API: sign-in, the cookie, CSRF on every change,
roles and site scopes as the token's, expiry, sign-out and revocation."""

import re

import psycopg
import pytest

from hub.api import openapi_document
from hub.config import ConsoleConfig
from hub.console.session import COOKIE, SessionStore
from hub.storage.tokens import Role
from tests.hub.api.alert_support import migrated, open_alert
from tests.hub.api.support import token
from tests.hub.console.support import console, cookie_header, csrf_of, json_of, sign_in

pytestmark = pytest.mark.integration


async def test_sign_in_sets_an_httponly_strict_cookie_that_is_not_the_token(
    database: str,
) -> None:
    """A good token gives a 303 to `/` with an HttpOnly, SameSite=Strict session cookie
    (not Secure over plain HTTP) whose value is not the token."""
    url = await migrated(database)
    operator = await token(url, Role.OPERATOR, ["room-01"])
    async with console(url) as (_, http):
        answer = await sign_in(http, operator)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"
        header = cookie_header(answer, COOKIE).lower()
        assert "httponly" in header
        assert "samesite=strict" in header
        assert "secure" not in header
        assert operator.lower() not in header
        page = await http.get("/")
        assert page.status_code == 200
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert "room-01" in page.text


async def test_the_cookie_is_secure_over_tls(database: str) -> None:
    """Served over HTTPS, the session cookie is marked Secure."""
    url = await migrated(database)
    operator = await token(url, Role.OPERATOR, ["room-01"])
    async with console(url, base_url="https://hub") as (_, http):
        answer = await sign_in(http, operator)
        assert "secure" in cookie_header(answer, COOKIE).lower()


async def test_a_wrong_token_or_a_cross_site_post_gets_no_session(database: str) -> None:
    """A wrong token is a 401 and the form again; a sign-in post without the form's
    nonce cookie (another site's form) is a 403; neither sets a session cookie."""
    url = await migrated(database)
    operator = await token(url, Role.OPERATOR, ["room-01"])
    async with console(url) as (_, http):
        wrong = await sign_in(http, operator[:-2] + "xx")
        assert wrong.status_code == 401
        assert COOKIE not in wrong.headers.get("set-cookie", "")
        http.cookies.clear()
        forged = await http.post("/login", data={"token": operator, "nonce": "guess"})
        assert forged.status_code == 403
        assert COOKIE not in forged.headers.get("set-cookie", "")
        assert (await http.get("/")).status_code == 303


async def test_pages_need_a_session(database: str) -> None:
    """Without a session every page redirects to the sign-in; the API answers 401."""
    url = await migrated(database)
    async with console(url) as (_, http):
        for page in ("/", "/sites", "/devices", "/history"):
            answer = await http.get(page)
            assert answer.status_code == 303, page
            assert answer.headers["location"] == "/login"
        assert (await http.get("/api/v1/alerts")).status_code == 401


async def test_a_session_acts_only_with_its_csrf_token(database: str) -> None:
    """With the cookie alone, acknowledging is a 403 and changes nothing; a wrong CSRF
    token too; the page's token lets it through, audited under the session's token."""
    url = await migrated(database)
    alert_id = await open_alert(url)
    operator = await token(url, Role.OPERATOR, ["room-01"])
    async with console(url) as (_, http):
        await sign_in(http, operator)
        csrf = await csrf_of(http)
        path = f"/api/v1/alerts/{alert_id}/ack"
        missing = await http.post(path, json={"note": "on my way"})
        assert missing.status_code == 403
        assert "X-CSRF-Token" in missing.json()["detail"]
        wrong = await http.post(
            path, json={"note": "on my way"}, headers={"X-CSRF-Token": csrf[:-1] + "A"}
        )
        assert wrong.status_code == 403
        alert = json_of(await http.get(f"/api/v1/alerts/{alert_id}"))
        assert alert["state"] == "open"
        done = await http.post(path, json={"note": "on my way"}, headers={"X-CSRF-Token": csrf})
        assert json_of(done)["state"] == "acknowledged"
        trail = json_of(await http.get(f"/api/v1/alerts/{alert_id}/audit"))
        ack = trail["entries"][-1]
        assert ack["transition"] == "acknowledged"
        assert ack["note"] == "on my way"
        assert ack["actor"].startswith("token:" + operator.split("_")[1])


async def test_a_session_has_its_tokens_role_and_sites(database: str) -> None:
    """A viewer's session may read but not act (403); a room-01 session never sees
    room-02's alert (absent from the listing, 404 by id)."""
    url = await migrated(database)
    mine = await open_alert(url, site="room-01")
    theirs = await open_alert(url, site="room-02")
    viewer = await token(url, Role.VIEWER, ["room-01"])
    async with console(url) as (_, http):
        await sign_in(http, viewer)
        csrf = await csrf_of(http)
        listed = json_of(await http.get("/api/v1/alerts"))["alerts"]
        assert [a["alert_id"] for a in listed] == [str(mine)]
        assert (await http.get(f"/api/v1/alerts/{theirs}")).status_code == 404
        refused = await http.post(
            f"/api/v1/alerts/{mine}/ack", json={"note": "x"}, headers={"X-CSRF-Token": csrf}
        )
        assert refused.status_code == 403
        sites = json_of(await http.get("/api/v1/sites"))["sites"]
        assert all(site["site"] == "room-01" for site in sites)


async def test_signing_out_and_revoking_end_the_session(database: str) -> None:
    """After sign-out the old cookie is a 401; a revoked token's session is a 401 too."""
    url = await migrated(database)
    operator = await token(url, Role.OPERATOR, ["room-01"])
    async with console(url) as (_, http):
        await sign_in(http, operator)
        old = http.cookies[COOKIE]
        csrf = await csrf_of(http)
        refused = await http.post("/logout", data={"csrf": "wrong"})
        assert refused.status_code == 403
        out = await http.post("/logout", data={"csrf": csrf})
        assert out.status_code == 303
        http.cookies.clear()
        http.cookies.set(COOKIE, old)
        assert (await http.get("/api/v1/alerts")).status_code == 401
        assert (await http.get("/")).status_code == 303

        http.cookies.clear()
        await sign_in(http, operator)
        assert (await http.get("/api/v1/alerts")).status_code == 200
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(
                "UPDATE api_tokens SET revoked_at = now() WHERE id = %s",
                [operator.split("_")[1]],
            )
        assert (await http.get("/api/v1/alerts")).status_code == 401


async def test_an_idle_session_expires(database: str) -> None:
    """A session unused for longer than `session_idle_s` is refused (401)."""
    url = await migrated(database)
    operator = await token(url, Role.OPERATOR, ["room-01"])
    now = [1000.0]
    config = ConsoleConfig(session_idle_s=60, session_max_s=3600)
    async with console(url, config=config) as (app, http):
        app.state.console_sessions = SessionStore(
            idle_s=60, max_s=3600, max_sessions=10, clock=lambda: now[0]
        )
        await sign_in(http, operator)
        assert (await http.get("/api/v1/alerts")).status_code == 200
        now[0] += 61
        assert (await http.get("/api/v1/alerts")).status_code == 401


async def test_pages_speak_chinese_by_default_and_english_when_chosen(database: str) -> None:
    """The sign-in page is in Simplified Chinese; after `/lang/en` it is in English; the
    language switch only redirects to a local path."""
    url = await migrated(database)
    async with console(url) as (_, http):
        page = await http.get("/login")
        assert '<html lang="zh-CN">' in page.text
        assert "值班员登录" in page.text
        switched = await http.get("/lang/en", params={"next": "//evil.example/"})
        assert switched.headers["location"] == "/"
        page = await http.get("/login")
        assert '<html lang="en">' in page.text
        assert "Operator sign-in" in page.text


async def test_every_asset_is_served_by_the_hub(database: str) -> None:
    """Pages link only to the hub's own paths, and every script and stylesheet they name
    is served (no CDN)."""
    url = await migrated(database)
    operator = await token(url, Role.OPERATOR, ["room-01"])
    async with console(url) as (_, http):
        await sign_in(http, operator)
        for page in ("/", "/sites", "/devices", "/history"):
            text = (await http.get(page)).text
            links = re.findall(r'(?:src|href)="([^"]+)"', text)
            assert all(link.startswith(("/", "#", "data:,")) for link in links), links
            for asset in (link for link in links if link.startswith("/static/")):
                assert (await http.get(asset)).status_code == 200, asset


async def test_incidents_are_counted_within_the_callers_sites(database: str) -> None:
    """The console's incident read counts and names only the caller's sites' alerts."""
    url = await migrated(database)
    first = await open_alert(url, site="room-01", rule="ac-lost", severity="low")
    second = await open_alert(url, site="room-02", rule="ac-lost", severity="low")
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO incidents (incident_id, rule, opened_at, last_at, count, sites, "
            "leader) VALUES (gen_random_uuid(), 'ac-lost', now(), now(), 2, "
            "ARRAY['room-01','room-02'], %s)",
            [first],
        )
        await conn.execute(
            "UPDATE alerts SET incident_id = (SELECT incident_id FROM incidents) "
            "WHERE alert_id = ANY(%s)",
            [[first, second]],
        )
        incident = await (await conn.execute("SELECT incident_id FROM incidents")).fetchone()
    assert incident is not None
    everyone = await token(url, Role.VIEWER)
    one_site = await token(url, Role.VIEWER, ["room-01"])
    path = f"/console/api/incidents/{incident[0]}"
    async with console(url) as (_, http):
        await sign_in(http, everyone)
        assert json_of(await http.get(path))["count"] == 2
    async with console(url) as (_, http):
        await sign_in(http, one_site)
        body = json_of(await http.get(path))
        assert body["count"] == 1
        assert body["sites"] == ["room-01"]


def test_console_pages_are_not_in_the_openapi_document() -> None:
    """The published OpenAPI document describes the API only, no console page."""
    paths = set(openapi_document()["paths"])
    assert not {"/", "/login", "/logout", "/sites"} & paths
    assert not any(path.startswith(("/console", "/static", "/lang")) for path in paths)
