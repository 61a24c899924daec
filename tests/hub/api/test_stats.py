"""Event counts per bucket over plain PostgreSQL: sums, alignment, scope, filters, 422s."""

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from hub.runtime import migrate_database
from tests.hub.api.support import BASE, api, events, store, token
from wire import format_time

pytestmark = pytest.mark.integration

PATH = "/api/v1/stats/events"
HOUR = {"from": format_time(BASE), "to": format_time(BASE + timedelta(hours=1))}


def _totals(counts: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    totals: Counter[tuple[str, str]] = Counter()
    for row in counts:
        totals[row["site"], row["type"]] += row["count"]
    return totals


async def test_minute_counts_add_up_to_the_stored_events(database: str) -> None:
    """Per-minute rows, ordered by bucket, sum per (site, type) to what was stored."""
    stored = events(100)
    await store(database, stored)
    async with api(database, await token(database)) as http:
        response = await http.get(PATH, params={"bucket": "1m", **HOUR})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["bucket"], body["start"], body["end"]) == ("1m", HOUR["from"], HOUR["to"])
    counts = body["counts"]
    assert _totals(counts) == Counter((e.site, e.type) for e in stored)
    # 100 events 0..99 s after 08:00: two minute buckets, aligned to the minute.
    starts = [row["bucket_start"] for row in counts]
    assert starts == sorted(starts)
    assert {s[11:] for s in starts} == {"08:00:00.000000Z", "08:01:00.000000Z"}
    assert set(counts[0]) == {"bucket_start", "site", "kind", "type", "count"}


async def test_day_buckets_start_at_utc_midnight_and_filters_narrow(database: str) -> None:
    """`1d` rows start at 00:00Z; `site`, `kind` and `type` narrow the rows."""
    await store(database, events(30))
    window = {"from": "2025-03-01T00:00:00Z", "to": "2025-03-02T00:00:00Z"}
    async with api(database, await token(database)) as http:
        days = (await http.get(PATH, params={"bucket": "1d", **window})).json()["counts"]
        narrowed = await http.get(
            PATH,
            params={
                "bucket": "1d",
                "site": "room-02",
                "kind": "door_lock",
                "type": "door.closed",
                **window,
            },
        )
    assert {row["bucket_start"] for row in days} == {"2025-03-01T00:00:00.000000Z"}
    assert sum(row["count"] for row in days) == 30
    rows = narrowed.json()["counts"]
    assert [(r["site"], r["kind"], r["type"]) for r in rows] == [
        ("room-02", "door_lock", "door.closed")
    ]
    assert rows[0]["count"] == sum(
        1 for e in events(30) if (e.site, e.type) == ("room-02", "door.closed")
    )


async def test_a_site_token_counts_only_its_own_site(database: str) -> None:
    """A room-01 token sees room-01's counts only, and nothing when it asks for room-02."""
    await store(database, events(30))
    async with api(database, await token(database, sites=["room-01"])) as http:
        own = (await http.get(PATH, params={"bucket": "1h", **HOUR})).json()["counts"]
        other = await http.get(PATH, params={"bucket": "1h", "site": "room-02", **HOUR})
    assert {row["site"] for row in own} == {"room-01"}
    assert sum(row["count"] for row in own) == 15
    assert other.status_code == 200
    assert other.json()["counts"] == []


async def test_the_default_window_ends_now(database: str) -> None:
    """Without `from` and `to`, the window is the last day (for `1h`), ending now."""
    await store(database, events(3))  # in 2025: outside the default window
    async with api(database, await token(database)) as http:
        body = (await http.get(PATH)).json()
    assert body["bucket"] == "1h"
    assert body["counts"] == []
    assert body["start"] < body["end"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"bucket": "5m"}, "bucket"),
        ({"kind": "toaster"}, "kind"),
        ({"type": "no.such"}, "type"),
        ({"site": "Room 1"}, "site"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2025-03-01T08:00:00"}, "to"),  # no time zone
        ({"from": "2025-03-02T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, "from"),
        ({"bucket": "1m", "from": "2025-03-01T00:00:00Z", "to": "2025-03-08T00:00:01Z"}, "to"),
        ({"bucket": "1h", "from": "2025-01-01T00:00:00Z", "to": "2025-04-02T00:00:00Z"}, "to"),
        ({"bucket": "1d", "from": "2024-01-01T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, "to"),
    ],
)
async def test_bad_parameters_are_422_naming_the_parameter(
    database: str, params: dict[str, str], parameter: str
) -> None:
    """Each bad parameter, and a window too long for its bucket, is a 422 naming it."""
    await migrate_database(database, wait=False)
    async with api(database, await token(database)) as http:
        response = await http.get(PATH, params=params)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(item["loc"] == ["query", parameter] for item in detail), detail


async def test_the_longest_window_per_bucket_is_allowed(database: str) -> None:
    """Exactly 7 days of minutes is accepted (the bound is inclusive)."""
    await migrate_database(database, wait=False)
    window = {"from": "2025-03-01T00:00:00Z", "to": "2025-03-08T00:00:00Z"}
    async with api(database, await token(database)) as http:
        response = await http.get(PATH, params={"bucket": "1m", **window})
    assert response.status_code == 200, response.text
