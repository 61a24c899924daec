"""Sites and devices over a real database: counts, agent status, filters, pages, 404s."""

from datetime import timedelta

import pytest

from tests.hub.api.support import BASE, all_pages, api, events, store, token
from tests.hub.support import rows
from wire import format_time

pytestmark = pytest.mark.integration


async def _seed(url: str) -> None:
    """room-01 and room-02 with door-0..2 each (12 events); room-01's agent online with a
    status, its door-2 offline, and an inventoried camera that never reported."""
    await store(url, events(12))
    await rows(
        url,
        'UPDATE sites SET state = \'online\', status = \'{"v": 1, "state": "online"}\', '
        "last_status_at = %s WHERE site = 'room-01' RETURNING 1",
        [BASE],
    )
    await rows(
        url,
        "UPDATE devices SET online = false WHERE (site, device) = ('room-01', 'door-2') "
        "RETURNING 1",
    )
    await rows(
        url,
        "INSERT INTO devices (site, device, kind, label, checkin_s, inventoried) "
        "VALUES ('room-01', 'cam-9', 'camera', 'Gate', 60, true) RETURNING 1",
    )


async def test_sites_list_with_agent_state_and_device_counts(database: str) -> None:
    """/sites lists every site by id with its agent's state and device counts."""
    await _seed(database)
    async with api(database, await token(database)) as http:
        sites = (await http.get("/api/v1/sites")).json()["sites"]
    assert [s["site"] for s in sites] == ["room-01", "room-02"]
    one, two = sites
    assert (one["state"], one["last_status_at"]) == ("online", format_time(BASE))
    assert one["devices"] == {"total": 4, "online": 2, "offline": 1, "unknown": 1}
    assert (two["state"], two["devices"]["total"]) == (None, 3)
    assert "status" not in one


async def test_one_site_carries_its_agent_status(database: str) -> None:
    """/sites/{site} adds the agent's last status; an unknown site is 404."""
    await _seed(database)
    async with api(database, await token(database)) as http:
        one = (await http.get("/api/v1/sites/room-01")).json()
        missing = await http.get("/api/v1/sites/room-99")
    assert one["status"] == {"v": 1, "state": "online"}
    assert one["devices"]["total"] == 4
    assert missing.status_code == 404


async def test_devices_filter_by_kind_state_and_staleness(database: str) -> None:
    """/devices and /sites/{site}/devices filter by kind, online/offline and stale_since."""
    await _seed(database)
    async with api(database, await token(database)) as http:

        async def keys(path: str, **params: str) -> list[tuple[str, str]]:
            found = await all_pages(http, path, "devices", limit=2, **params)
            return [(d["site"], d["device"]) for d in found]

        every = await keys("/api/v1/devices")
        assert len(every) == 7
        assert every == sorted(every)
        assert await keys("/api/v1/devices", kind="camera") == [("room-01", "cam-9")]
        assert await keys("/api/v1/devices", state="offline") == [("room-01", "door-2")]
        assert len(await keys("/api/v1/devices", state="online")) == 5
        # door-k of room-01 (events n = 0..11, n even) last reports at second (n // 3) * 3.
        stale = await keys(
            "/api/v1/sites/room-01/devices", stale_since=format_time(BASE + timedelta(seconds=9))
        )
        assert stale == [("room-01", "cam-9"), ("room-01", "door-0"), ("room-01", "door-2")]
        in_two = await keys("/api/v1/sites/room-02/devices")
        assert in_two == [("room-02", f"door-{k}") for k in range(3)]
        assert (await http.get("/api/v1/sites/room-99/devices")).status_code == 404


async def test_one_device_with_its_recent_events(database: str) -> None:
    """/sites/{site}/devices/{device} gives the device and its latest events, newest first;
    the same device id in another site is another device."""
    await _seed(database)
    async with api(database, await token(database)) as http:
        door = (await http.get("/api/v1/sites/room-01/devices/door-0")).json()
        short = (await http.get("/api/v1/sites/room-01/devices/door-0?recent=1")).json()
        camera = (await http.get("/api/v1/sites/room-01/devices/cam-9")).json()
        elsewhere = await http.get("/api/v1/sites/room-02/devices/cam-9")
    recent = door["recent_events"]
    assert [(e["site"], e["device"]) for e in recent] == [("room-01", "door-0")] * 2
    assert [e["at"] for e in recent] == sorted((e["at"] for e in recent), reverse=True)
    assert door["last_event_id"] == recent[0]["id"]
    assert short["recent_events"] == recent[:1]
    assert (camera["kind"], camera["label"], camera["checkin_s"]) == ("camera", "Gate", 60)
    assert (camera["online"], camera["recent_events"]) == (None, [])
    assert elsewhere.status_code == 404
