"""The HTTP API over a real database: health, events with keyset pagination, alerts, 422s."""

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
from hub.runtime import migrate_database
from hub.storage import write_inbound
from tests.hub.support import dump, event, rows
from wire import Event, decode_event, format_time

pytestmark = pytest.mark.integration

BASE = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SITES = ("room-01", "room-02")
TYPES = ("door.opened", "door.closed", "test.periodic")


@asynccontextmanager
async def api(url: str, **database: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The API app over `url`, its lifespan run, behind an in-process HTTP client."""
    app = create_app(DatabaseConfig.model_validate({"url": url, **database}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as http,
    ):
        yield http


def _events(count: int) -> list[Event]:
    """`count` events over two sites, three devices and three types; every third pair
    shares its `at`, so ties are broken by id."""
    made = []
    for n in range(count):
        at = format_time(BASE + timedelta(seconds=n // 3 * 3))
        payload = event(
            seq=n + 1,
            site=SITES[n % 2],
            device=f"door-{n % 3}",
            kind="door_lock",
            type=TYPES[n % 3],
            at=at,
        )
        made.append(decode_event(dump(payload)))
    return made


async def _store(url: str, events: list[Event]) -> None:
    await migrate_database(url, wait=False)
    async with await psycopg.AsyncConnection.connect(url) as conn, conn.cursor() as cur:
        await write_inbound(cur, events)


async def _all_pages(http: httpx.AsyncClient, path: str, key: str, **params: Any) -> list[Any]:
    """Every item of a listing, following `next_cursor` page by page."""
    items: list[Any] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await http.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body[key]) <= params["limit"]
        items += body[key]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def test_health_reports_the_database_alone(database: str) -> None:
    """Without a hub around it, /health is the database's answer (mqtt and loops: null)."""
    async with api(database) as http:
        response = await http.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": True,
        "database_detail": None,
        "mqtt_connected": None,
        "components": None,
    }


async def test_health_is_503_when_the_database_is_unreachable() -> None:
    """An unreachable database makes /health answer 503 with the reason, and listings 503."""
    url = "postgresql://nobody@127.0.0.1:1/none"
    async with api(url, connect_timeout_s=0.3) as http:
        health = await http.get("/health")
        listing = await http.get("/api/v1/events")
    assert health.status_code == 503
    assert (health.json()["status"], health.json()["database"]) == ("degraded", False)
    assert listing.status_code == 503


async def test_events_pages_cover_the_filtered_set_exactly(database: str) -> None:
    """Paging by 7 through 100 events gives each once, newest first, as the filters select."""
    events = _events(100)
    await _store(database, events)
    expected = await rows(database, "SELECT id::text FROM events ORDER BY at DESC, id DESC")
    async with api(database) as http:
        everything = await _all_pages(http, "/api/v1/events", "events", limit=7)
        assert [e["id"] for e in everything] == [r[0] for r in expected]

        site_two = await _all_pages(http, "/api/v1/events", "events", limit=5, site="room-02")
        assert {e["site"] for e in site_two} == {"room-02"}
        assert len(site_two) == 50

        one = await _all_pages(
            http,
            "/api/v1/events",
            "events",
            limit=4,
            site="room-01",
            device="door-0",
            type="door.opened",
        )
        assert one
        assert all(
            (e["site"], e["device"], e["type"]) == ("room-01", "door-0", "door.opened") for e in one
        )

        since, until = (
            format_time(BASE + timedelta(seconds=30)),
            format_time(BASE + timedelta(seconds=60)),
        )
        window = await _all_pages(
            http, "/api/v1/events", "events", limit=6, **{"from": since, "to": until}
        )
        assert len(window) == 30
        assert all(since <= e["at"] < until for e in window)

    first = everything[0]
    assert set(first) == {
        "id",
        "at",
        "received_at",
        "site",
        "device",
        "kind",
        "type",
        "lane",
        "epoch",
        "seq",
        "source",
        "data",
    }
    assert first["source"]["driver"] == "sia"


async def test_alerts_are_listed_newest_first_by_state_and_site(database: str) -> None:
    """Alerts page by creation time; `state` and `site` filter them."""
    await migrate_database(database, wait=False)
    at = format_time(BASE)
    for n in range(9):
        await rows(
            database,
            "INSERT INTO alerts (alert_id, rule, severity, site, device, state, revision, "
            "count, first_at, last_at, event_ids, created_at) VALUES (%s, 'panic', "
            "'critical', %s, %s, %s, 1, 1, %s, %s, '{}', %s) RETURNING 1",
            [
                uuid.uuid4(),
                SITES[n % 2],
                f"panic-{n}",
                "resolved" if n % 3 == 0 else "open",
                at,
                at,
                BASE + timedelta(minutes=n),
            ],
        )
    async with api(database) as http:
        listed = await _all_pages(http, "/api/v1/alerts", "alerts", limit=2)
        assert [a["device"] for a in listed] == [f"panic-{n}" for n in reversed(range(9))]
        open_in_two = await _all_pages(
            http, "/api/v1/alerts", "alerts", limit=10, state="open", site="room-02"
        )
        assert [a["device"] for a in open_in_two] == ["panic-7", "panic-5", "panic-1"]
    assert listed[0]["first_at"] == at


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/v1/events", {"limit": 0}, "limit"),
        ("/api/v1/events", {"limit": 1001}, "limit"),
        ("/api/v1/events", {"site": "Room 7!"}, "site"),
        ("/api/v1/events", {"device": "-x"}, "device"),
        ("/api/v1/events", {"type": "alarm.zombie"}, "type"),
        ("/api/v1/events", {"from": "yesterday"}, "from"),
        ("/api/v1/events", {"from": "2025-03-01T08:00:00"}, "from"),  # no time zone
        ("/api/v1/events", {"from": "2025-03-02T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, "from"),
        ("/api/v1/events", {"cursor": "not-a-cursor"}, "cursor"),
        ("/api/v1/alerts", {"state": "lost"}, "state"),
        ("/api/v1/alerts", {"cursor": "bm9wZQ"}, "cursor"),
    ],
)
async def test_bad_parameters_are_422_naming_the_parameter(
    database: str, path: str, params: dict[str, Any], parameter: str
) -> None:
    """Each bad query parameter gets a 422 whose detail names it."""
    await migrate_database(database, wait=False)
    async with api(database) as http:
        response = await http.get(path, params=params)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(item["loc"] == ["query", parameter] for item in detail), detail


async def test_openapi_publishes_the_endpoints(database: str) -> None:
    """The OpenAPI document lists health, events and alerts with their response models."""
    async with api(database) as http:
        document = (await http.get("/openapi.json")).json()
    assert {"/health", "/api/v1/events", "/api/v1/alerts"} <= set(document["paths"])
    assert {"EventPage", "AlertPage", "HealthOut"} <= set(document["components"]["schemas"])
