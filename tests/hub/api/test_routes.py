"""The HTTP API over a real database: health, events with keyset pagination, alerts, 422s."""

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.api import openapi_document
from hub.runtime import migrate_database
from tests.hub.api.support import BASE, SITES, all_pages, api, events, store, token
from tests.hub.support import rows
from wire import format_time

pytestmark = pytest.mark.integration


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
    well_formed = "sw_0123456789ab_" + "x" * 43
    async with api(url, well_formed, connect_timeout_s=0.3) as http:
        health = await http.get("/health")
        listing = await http.get("/api/v1/events")
    assert health.status_code == 503
    assert (health.json()["status"], health.json()["database"]) == ("degraded", False)
    assert listing.status_code == 503


async def test_events_pages_cover_the_filtered_set_exactly(database: str) -> None:
    """Paging by 7 through 100 events gives each once, newest first, as the filters select."""
    await store(database, events(100))
    expected = await rows(database, "SELECT id::text FROM events ORDER BY at DESC, id DESC")
    async with api(database, await token(database)) as http:
        everything = await all_pages(http, "/api/v1/events", "events", limit=7)
        assert [e["id"] for e in everything] == [r[0] for r in expected]

        site_two = await all_pages(http, "/api/v1/events", "events", limit=5, site="room-02")
        assert {e["site"] for e in site_two} == {"room-02"}
        assert len(site_two) == 50

        one = await all_pages(
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
        window = await all_pages(
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
    async with api(database, await token(database)) as http:
        listed = await all_pages(http, "/api/v1/alerts", "alerts", limit=2)
        assert [a["device"] for a in listed] == [f"panic-{n}" for n in reversed(range(9))]
        open_in_two = await all_pages(
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
        ("/api/v1/events", {"kind": "toaster"}, "kind"),
        ("/api/v1/events", {"from": "2024-01-01T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, "to"),
        ("/api/v1/events/not-a-uuid", {}, "event_id"),
        ("/api/v1/alerts", {"cursor": "bm9wZQ"}, "cursor"),
        ("/api/v1/sites/Room 7", {}, "site"),
        ("/api/v1/devices", {"state": "asleep"}, "state"),
        ("/api/v1/devices", {"kind": "toaster"}, "kind"),
        ("/api/v1/devices", {"stale_since": "noon"}, "stale_since"),
        ("/api/v1/devices", {"cursor": "bm9wZQ"}, "cursor"),
        ("/api/v1/devices", {"limit": 1001}, "limit"),
        ("/api/v1/sites/room-01/devices/-x", {}, "device"),
        ("/api/v1/sites/room-01/devices/door-1", {"recent": 101}, "recent"),
    ],
)
async def test_bad_parameters_are_422_naming_the_parameter(
    database: str, path: str, params: dict[str, Any], parameter: str
) -> None:
    """Each bad query parameter gets a 422 whose detail names it."""
    await migrate_database(database, wait=False)
    async with api(database, await token(database)) as http:
        response = await http.get(path, params=params)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(item["loc"][-1] == parameter for item in detail), detail
    assert all(item["loc"][0] in {"query", "path"} for item in detail), detail


async def test_openapi_publishes_the_endpoints(database: str) -> None:
    """The OpenAPI document (to a token holder) lists every endpoint, models and bearer auth."""
    await store(database, [])
    async with api(database, await token(database)) as http:
        document = (await http.get("/openapi.json")).json()
    assert {
        "/health",
        "/api/v1/events",
        "/api/v1/events/{event_id}",
        "/api/v1/alerts",
        "/api/v1/sites",
        "/api/v1/sites/{site}",
        "/api/v1/sites/{site}/devices",
        "/api/v1/sites/{site}/devices/{device}",
        "/api/v1/devices",
        "/api/v1/tokens",
        "/api/v1/stats/events",
    } <= set(document["paths"])
    schemas = set(document["components"]["schemas"])
    assert {"EventPage", "AlertPage", "HealthOut", "SiteDetail", "DeviceDetail"} <= schemas
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_the_published_openapi_document_is_current() -> None:
    """docs/openapi.json is what `python -m hub openapi` prints for this code (regenerate it)."""
    published = json.loads((Path(__file__).parents[3] / "docs" / "openapi.json").read_text())
    regenerate = "run: .venv/bin/python -m hub openapi > docs/openapi.json"
    assert published == openapi_document(), regenerate


async def test_event_by_id_and_kind_filter(database: str) -> None:
    """/events/{id} returns the listed event; 404 for an unknown id; `kind` filters."""
    await store(database, events(6))
    async with api(database, await token(database)) as http:
        listed = (await http.get("/api/v1/events", params={"kind": "door_lock"})).json()
        assert len(listed["events"]) == 6
        first = listed["events"][0]
        assert (await http.get(f"/api/v1/events/{first['id']}")).json() == first
        missing = await http.get(f"/api/v1/events/{uuid.uuid4()}")
        assert missing.status_code == 404
        none = await http.get("/api/v1/events", params={"kind": "camera"})
        assert none.json() == {"events": [], "next_cursor": None}


async def test_events_as_csv_page_by_page(database: str) -> None:
    """`Accept: text/csv` gives a header row and one row per event, the next page's
    cursor in `X-Next-Cursor`; the pages cover the same events as the JSON listing."""
    await store(database, events(10))
    csv_accept = {"Accept": "text/csv"}
    async with api(database, await token(database)) as http:
        listed = await all_pages(http, "/api/v1/events", "events", limit=100)
        first = await http.get("/api/v1/events", params={"limit": 6}, headers=csv_accept)
        assert first.status_code == 200
        assert first.headers["content-type"].startswith("text/csv")
        cursor = first.headers["x-next-cursor"]
        second = await http.get(
            "/api/v1/events", params={"limit": 6, "cursor": cursor}, headers=csv_accept
        )
        assert "x-next-cursor" not in second.headers
    lines = first.text.splitlines() + second.text.splitlines()[1:]
    assert lines[0].startswith("id,at,received_at,site,device,kind,type,lane,epoch,seq")
    assert [line.split(",")[0] for line in lines[1:]] == [e["id"] for e in listed]
    assert '""driver"":""sia""' in lines[1]
