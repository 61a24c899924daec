"""The alert endpoints: filters, one alert, acknowledge and resolve, the audit trail; roles
and site scope."""

import uuid
from datetime import timedelta

import psycopg
import pytest

from hub.storage.tokens import Role, Scope, issue_token
from tests.hub.api.alert_support import AT, migrated, open_alert
from tests.hub.api.support import all_pages, api, token
from tests.hub.support import rows
from wire import format_time

pytestmark = pytest.mark.integration


async def _labelled(url: str, role: Role, label: str) -> tuple[str, str]:
    """A token over all sites with `label`: (its id, the token)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        issued = await issue_token(conn, role, Scope(all_sites=True), label)
    return issued.id, issued.token


async def test_alert_listing_filters_by_severity_rule_device_state_and_creation_time(
    database: str,
) -> None:
    """`severity` is a minimum; `rule`, `device`, `state` are exact; `from`/`to` bound
    `created_at`; every filter keeps to the caller's sites."""
    url = await migrated(database)
    made = {
        "fire": await open_alert(url, rule="fire", severity="critical", device="smoke-1"),
        "door": await open_alert(url, rule="door.held", severity="medium", device="door-1"),
        "low": await open_alert(url, rule="battery", severity="low", device="door-1"),
        "other": await open_alert(url, rule="fire", severity="high", site="room-02"),
    }
    for n, alert_id in enumerate(made.values()):
        await rows(
            url,
            "UPDATE alerts SET created_at = %s WHERE alert_id = %s RETURNING 1",
            [AT + timedelta(hours=n), alert_id],
        )
    await rows(url, "UPDATE alerts SET state = 'resolved' WHERE rule = 'battery' RETURNING 1")

    async def listed(http_token: str, **params: object) -> list[str]:
        async with api(url, http_token) as http:
            found = await all_pages(http, "/api/v1/alerts", "alerts", limit=2, **params)
        ids = {str(v): k for k, v in made.items()}
        return [ids[a["alert_id"]] for a in found]

    everyone = await token(url)
    assert await listed(everyone) == ["other", "low", "door", "fire"]
    assert await listed(everyone, severity="high") == ["other", "fire"]
    assert await listed(everyone, severity="medium", site="room-01") == ["door", "fire"]
    assert await listed(everyone, rule="fire") == ["other", "fire"]
    assert await listed(everyone, device="door-1", state="open") == ["door"]
    since, until = format_time(AT + timedelta(hours=1)), format_time(AT + timedelta(hours=3))
    assert await listed(everyone, **{"from": since, "to": until}) == ["low", "door"]
    assert await listed(await token(url, sites=["room-02"])) == ["other"]
    assert await listed(await token(url, sites=["room-01"]), rule="fire") == ["fire"]


async def test_one_alert_shows_its_lifecycle_and_is_404_outside_the_scope(database: str) -> None:
    """GET /alerts/{id} gives title, who acked/resolved it and why it is muted; another
    site's caller gets the 404 of an unknown id."""
    url = await migrated(database)
    alert_id = await open_alert(url)
    silence = uuid.uuid4()
    await rows(
        url,
        "INSERT INTO silences (silence_id, site, starts_at, ends_at, created_by, reason) "
        "VALUES (%s, 'room-01', now(), now() + interval '1 hour', 't', 'r') RETURNING 1",
        [silence],
    )
    await rows(
        url,
        "UPDATE alerts SET silence_id = %s WHERE alert_id = %s RETURNING 1",
        [silence, alert_id],
    )
    async with api(url, await token(url, sites=["room-01"])) as http:
        body = (await http.get(f"/api/v1/alerts/{alert_id}")).json()
    assert body["alert_id"] == str(alert_id)
    assert (body["title"], body["state"], body["silence_id"]) == (
        "panic at room-01",
        "open",
        str(silence),
    )
    assert (body["acked_by"], body["resolved_at"], body["escalations"]) == (None, None, 0)
    async with api(url, await token(url, sites=["room-02"])) as http:
        outside = await http.get(f"/api/v1/alerts/{alert_id}")
        unknown = await http.get(f"/api/v1/alerts/{uuid.uuid4()}")
        trail = await http.get(f"/api/v1/alerts/{alert_id}/audit")
    assert (outside.status_code, unknown.status_code, trail.status_code) == (404, 404, 404)
    assert outside.json() == unknown.json()


async def test_acting_needs_an_operator_of_the_alerts_site(database: str) -> None:
    """A viewer gets 403 on ack and resolve; an operator of another site gets 404 and the
    alert does not change."""
    url = await migrated(database)
    alert_id = await open_alert(url, site="room-02")
    note = {"note": "checked"}
    async with api(url, await token(url, Role.VIEWER)) as http:
        assert (await http.post(f"/api/v1/alerts/{alert_id}/ack")).status_code == 403
        resolved = await http.post(f"/api/v1/alerts/{alert_id}/resolve", json=note)
        assert resolved.status_code == 403
    async with api(url, await token(url, Role.OPERATOR, sites=["room-01"])) as http:
        assert (await http.post(f"/api/v1/alerts/{alert_id}/ack")).status_code == 404
        resolved = await http.post(f"/api/v1/alerts/{alert_id}/resolve", json=note)
        assert resolved.status_code == 404
    assert await rows(url, "SELECT state, revision FROM alerts") == [("open", 1)]


async def test_ack_and_resolve_record_who_and_why(database: str) -> None:
    """An operator's ack and resolve answer the alert as it now stands, named after the
    token and its label; the audit trail lists every transition in order."""
    url = await migrated(database)
    alert_id = await open_alert(url)
    token_id, operator = await _labelled(url, Role.OPERATOR, "ops desk")
    actor = f"token:{token_id} (ops desk)"
    async with api(url, operator) as http:
        acked = await http.post(f"/api/v1/alerts/{alert_id}/ack", json={"note": "on my way"})
        resolved = await http.post(
            f"/api/v1/alerts/{alert_id}/resolve", json={"note": "customer pressed by mistake"}
        )
        trail = await http.get(f"/api/v1/alerts/{alert_id}/audit")
    assert acked.status_code == 200, acked.text
    assert (acked.json()["state"], acked.json()["acked_by"]) == ("acknowledged", actor)
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["state"], body["revision"], body["resolved_by"]) == ("resolved", 3, actor)
    assert body["acked_at"] is not None
    assert body["acked_at"] <= body["resolved_at"]
    entries = trail.json()["entries"]
    assert [(e["revision"], e["transition"], e["actor"], e["note"]) for e in entries] == [
        (1, "opened", "rule:panic", None),
        (2, "acknowledged", actor, "on my way"),
        (3, "resolved", actor, "customer pressed by mistake"),
    ]
    assert all(e["notified"] and e["severity"] == "critical" for e in entries)


async def test_resolve_needs_a_note_and_happens_once(database: str) -> None:
    """Resolve without a note, or with a blank or too long one, is a 422 naming `note`;
    resolving twice is a 409, and so is acknowledging a resolved alert."""
    url = await migrated(database)
    alert_id = await open_alert(url)
    path = f"/api/v1/alerts/{alert_id}"
    async with api(url, await token(url, Role.OPERATOR)) as http:
        for body in (None, {}, {"note": ""}, {"note": "   "}, {"note": "x" * 4097}):
            refused = await http.post(f"{path}/resolve", json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert refused.json()["detail"][0]["loc"][-1] == "note", refused.text
        assert (await http.post(f"{path}/resolve", json={"note": "done"})).status_code == 200
        again = await http.post(f"{path}/resolve", json={"note": "done again"})
        late_ack = await http.post(f"{path}/ack")
    assert again.status_code == 409
    assert "resolved" in again.json()["detail"]
    assert late_ack.status_code == 409
    assert await rows(url, "SELECT count(*) FROM alert_audit") == [(2,)]


async def test_acknowledging_twice_is_a_conflict(database: str) -> None:
    """A second ack is a 409 and records nothing; an ack note may be left out."""
    url = await migrated(database)
    alert_id = await open_alert(url)
    async with api(url, await token(url, Role.OPERATOR)) as http:
        first = await http.post(f"/api/v1/alerts/{alert_id}/ack")
        second = await http.post(f"/api/v1/alerts/{alert_id}/ack", json={"note": "me too"})
    assert (first.status_code, second.status_code) == (200, 409)
    assert await rows(url, "SELECT revision, note FROM alert_audit ORDER BY revision") == [
        (1, None),
        (2, None),
    ]
