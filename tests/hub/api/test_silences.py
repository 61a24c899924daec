"""The silence endpoints: making one (operator, validated), listing, reading, ending; scope."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.storage.tokens import Role
from tests.hub.api.alert_support import migrated
from tests.hub.api.support import api, token
from tests.hub.support import rows
from wire import format_time

pytestmark = pytest.mark.integration


def _in(hours: float) -> str:
    return format_time(datetime.now(UTC) + timedelta(hours=hours))


def _silence(**fields: Any) -> dict[str, Any]:
    return {"site": "room-01", "ends_at": _in(2), "reason": "door contractor on site", **fields}


async def test_an_operator_makes_a_silence_that_starts_now(database: str) -> None:
    """POST makes an active silence of the operator's site, created by its token; a viewer
    gets 403."""
    url = await migrated(database)
    operator = await token(url, Role.OPERATOR, sites=["room-01"])
    operator_id = operator.split("_")[1]
    async with api(url, await token(url, Role.VIEWER)) as http:
        assert (await http.post("/api/v1/silences", json=_silence())).status_code == 403
    async with api(url, operator) as http:
        made = await http.post("/api/v1/silences", json=_silence(device="door-3", rule="door.held"))
        assert made.status_code == 201, made.text
        body = made.json()
        again = await http.get(f"/api/v1/silences/{body['silence_id']}")
    assert (body["site"], body["device"], body["rule"]) == ("room-01", "door-3", "door.held")
    assert (body["active"], body["created_by"]) == (True, f"token:{operator_id}")
    assert body["starts_at"] <= body["created_at"]
    assert again.json() == body


@pytest.mark.parametrize(
    ("fields", "named", "sites"),
    [
        ({"site": None}, "site", ["room-01"]),
        ({"site": "room-02"}, "site", ["room-01"]),
        ({"site": None, "device": "door-1"}, "device", None),
        ({"ends_at": None}, "ends_at", None),
        ({"ends_at": _in(-1)}, "ends_at", None),
        ({"starts_at": _in(3)}, "ends_at", None),
        ({"ends_at": _in(24 * 30 + 1)}, "ends_at", None),
        ({"reason": ""}, "reason", None),
        ({"reason": " "}, "reason", None),
        ({"reason": "x" * 1001}, "reason", None),
    ],
)
async def test_a_malformed_silence_is_a_422_naming_the_field(
    database: str, fields: dict[str, Any], named: str, sites: list[str] | None
) -> None:
    """Missing or outside site, device without site, a past, inverted or over-30-day end,
    a blank or too long reason: each is a 422 on its field, and nothing is stored."""
    url = await migrated(database)
    body = {k: v for k, v in _silence(**fields).items() if v is not None}
    async with api(url, await token(url, Role.OPERATOR, sites=sites)) as http:
        refused = await http.post("/api/v1/silences", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"][-1] == named
    assert await rows(url, "SELECT count(*) FROM silences") == [(0,)]


async def test_silences_are_listed_and_read_within_the_callers_sites(database: str) -> None:
    """A site's token sees its sites' silences only, never an all-sites one; the all-sites
    token sees every one; ending one keeps it, listed only with include_expired."""
    url = await migrated(database)
    async with api(url, await token(url, Role.OPERATOR)) as http:
        made = {}
        for name, site in (("one", "room-01"), ("two", "room-02"), ("all", None)):
            body = {k: v for k, v in _silence(site=site).items() if v is not None}
            response = await http.post("/api/v1/silences", json=body)
            assert response.status_code == 201, response.text
            made[name] = response.json()["silence_id"]
        ended = await http.delete(f"/api/v1/silences/{made['two']}")
        everything = await http.get("/api/v1/silences", params={"include_expired": "true"})
        current = await http.get("/api/v1/silences")
    names = {v: k for k, v in made.items()}
    assert ended.status_code == 200, ended.text
    assert ended.json()["active"] is False
    assert ended.json()["ends_at"] <= format_time(datetime.now(UTC))
    assert [names[s["silence_id"]] for s in everything.json()["silences"]] == ["all", "two", "one"]
    assert [names[s["silence_id"]] for s in current.json()["silences"]] == ["all", "one"]

    async with api(url, await token(url, Role.OPERATOR, sites=["room-01"])) as http:
        listed = await http.get("/api/v1/silences", params={"include_expired": "true"})
        hidden = [
            await http.get(f"/api/v1/silences/{made['all']}"),
            await http.get(f"/api/v1/silences/{made['two']}"),
            await http.delete(f"/api/v1/silences/{made['all']}"),
        ]
    assert [names[s["silence_id"]] for s in listed.json()["silences"]] == ["one"]
    assert [r.status_code for r in hidden] == [404, 404, 404]
    assert await rows(url, "SELECT count(*) FROM silences WHERE ends_at > now()") == [(2,)]


async def test_ending_a_scheduled_silence_leaves_nothing_ahead(database: str) -> None:
    """DELETE of a silence that has not started ends it now; deleting again changes nothing."""
    url = await migrated(database)
    async with api(url, await token(url, Role.OPERATOR)) as http:
        made = await http.post("/api/v1/silences", json=_silence(starts_at=_in(1)))
        silence_id = made.json()["silence_id"]
        first = await http.delete(f"/api/v1/silences/{silence_id}")
        second = await http.delete(f"/api/v1/silences/{silence_id}")
    assert first.status_code == 200, first.text
    assert first.json() == second.json()
    assert first.json()["starts_at"] < first.json()["ends_at"] <= format_time(datetime.now(UTC))
