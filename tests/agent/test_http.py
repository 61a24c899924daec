"""The HTTP push driver against a real aiohttp server and a real outbox.

Every refusal has its own status and code, a JSON body saying what is wrong, and leaves
the outbox untouched; a good push is answered 201 only once the event is stored.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

import aiohttp
import pytest

import wire
from agent import AgentConfig, Bounds, DriverError, HttpPushServer, Outbox
from tests.agent.support import DOOR, DOOR_TOKEN, PANIC, PANIC_TOKEN, make_config
from wire import DriverState, Kind

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

KIB = 1024


@dataclass(frozen=True, slots=True)
class Rig:
    """A running push server, its outbox, and a client session pointed at it."""

    config: AgentConfig
    outbox: Outbox
    server: HttpPushServer
    session: aiohttp.ClientSession

    async def push(
        self,
        body: object,
        *,
        device: str = DOOR,
        token: str | None = DOOR_TOKEN,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """POST `body` as JSON for `device` with `token`; the status and the JSON answer."""
        sent = {"Content-Type": "application/json"}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.session.post(
            f"/v1/devices/{device}/events", data=data, headers=sent
        ) as response:
            return response.status, await response.json()

    async def stored(self) -> list[wire.Event]:
        """Every event in the outbox."""
        return [wire.decode_event(entry.payload) for entry in await self.outbox.pending()]


@contextlib.asynccontextmanager
async def running(tmp_path: Path, **http: Any) -> AsyncIterator[Rig]:
    """A push server on a free port with the test devices, its outbox in `tmp_path`."""
    config = make_config(tmp_path, http=http, outbox={"lock_timeout_s": 0.05})
    async with (
        Outbox(
            config.outbox.path, site=config.site, lock_timeout_s=config.outbox.lock_timeout_s
        ) as outbox,
        HttpPushServer(config.http, config.devices, outbox) as server,
        aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as session,
    ):
        yield Rig(config, outbox, server, session)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """A push server with the default limits."""
    async with running(tmp_path) as rig:
        yield rig


async def test_good_push_is_stored_then_answered_201(rig: Rig) -> None:
    """201 with id, seq and at; the event is in the outbox with the device's configured kind."""
    status, answer = await rig.push({"type": "door.opened", "data": {"door": 2}})
    assert status == 201
    [event] = await rig.stored()
    assert answer == {"id": str(event.id), "seq": 1, "at": event.at}
    assert (event.site, event.device, event.kind) == ("room-07", DOOR, Kind.DOOR_LOCK)
    assert event.type is wire.EventType.DOOR_OPENED
    assert event.data == {"door": 2}
    assert event.source == {"driver": "http", "remote": "127.0.0.1"}


async def test_kind_comes_from_the_config(rig: Rig) -> None:
    """Each device's events carry the kind its config gives it."""
    status, _ = await rig.push({"type": "alarm.panic"}, device=PANIC, token=PANIC_TOKEN)
    assert status == 201
    [event] = await rig.stored()
    assert (event.device, event.kind, event.data) == (PANIC, Kind.PANIC_ALARM, {})


async def test_device_time_near_the_agent_clock_is_the_events_at(rig: Rig) -> None:
    """A device time with an offset, within 60 s of the agent's clock, becomes `at` (in UTC)."""
    moment = datetime.now(UTC) - timedelta(seconds=20)
    sent = moment.astimezone(timezone(timedelta(hours=8))).isoformat()  # Beijing time
    status, answer = await rig.push({"type": "door.closed", "at": sent})
    assert status == 201
    assert answer["at"] == wire.format_time(moment)
    [event] = await rig.stored()
    assert "device_at" not in event.source


async def test_device_time_far_off_is_replaced_and_kept_in_source(rig: Rig) -> None:
    """A device clock reset to 2000 gives way to the agent's; its time is kept in source."""
    before = datetime.now(UTC)
    status, answer = await rig.push({"type": "door.closed", "at": "2000-01-01T08:00:00+08:00"})
    assert status == 201
    assert wire.parse_time(answer["at"]) >= before
    [event] = await rig.stored()
    assert event.source["device_at"] == "2000-01-01T00:00:00.000000Z"


async def test_charset_utf8_is_accepted(rig: Rig) -> None:
    """`application/json; charset=utf-8` is JSON too."""
    headers = {"Content-Type": "application/json; charset=utf-8"}
    status, _ = await rig.push({"type": "battery.low"}, headers=headers)
    assert status == 201


class Refused(NamedTuple):
    """A push the driver must refuse, and how."""

    status: int
    code: str
    detail: str
    body: object = b'{"type": "door.opened"}'
    device: str = DOOR
    token: str | None = DOOR_TOKEN
    headers: dict[str, str] | None = None


REFUSALS = {
    "malformed json": Refused(400, "bad_json", "not valid JSON", body=b'{"type": '),
    "not an object": Refused(400, "not_an_object", "not an array", body=[1, 2]),
    "NaN is not JSON": Refused(400, "bad_json", "NaN", body=b'{"type": "door.opened", "x": NaN}'),
    "no token": Refused(401, "unauthorized", "Bearer", token=None),
    "wrong token": Refused(401, "unauthorized", "not valid", token="not-a-token-of-anyone"),
    "basic auth": Refused(
        401, "unauthorized", "Bearer", token=None, headers={"Authorization": "Basic eDp5"}
    ),
    "unknown device, bad token": Refused(401, "unauthorized", "not valid", device="x", token="y"),
    "token of another device": Refused(403, "wrong_device", "'door-0042'", token=PANIC_TOKEN),
    "unknown device": Refused(404, "unknown_device", "'door-9999'", device="door-9999"),
    "wrong media type": Refused(
        415, "unsupported_media_type", "'text/plain'", headers={"Content-Type": "text/plain"}
    ),
    "wrong charset": Refused(
        415,
        "unsupported_media_type",
        "latin-1",
        headers={"Content-Type": "application/json; charset=latin-1"},
    ),
    "unknown event type": Refused(
        422,
        "invalid_event",
        "'door.exploded' is not a v1 event type",
        body={"type": "door.exploded"},
    ),
    "type missing": Refused(422, "invalid_event", "'type' is required", body={"data": {}}),
    "type not a string": Refused(422, "invalid_event", "'type' must be a string", body={"type": 3}),
    "unknown field": Refused(
        422, "invalid_event", "unknown field 'device'", body={"type": "door.opened", "device": "x"}
    ),
    "data not an object": Refused(
        422,
        "invalid_event",
        "'data' must be an object, not an array",
        body={"type": "door.opened", "data": []},
    ),
    "at not a time": Refused(
        422, "invalid_event", "'at': 'yesterday'", body={"type": "door.opened", "at": "yesterday"}
    ),
    "at without offset": Refused(
        422,
        "invalid_event",
        "no UTC offset",
        body={"type": "door.opened", "at": "2025-03-01T08:00:00"},
    ),
    "at not a string": Refused(
        422, "invalid_event", "'at' must be a string", body={"type": "door.opened", "at": 17}
    ),
}


@pytest.mark.parametrize("case", [pytest.param(case, id=name) for name, case in REFUSALS.items()])
async def test_bad_push_gets_its_status_and_stores_nothing(rig: Rig, case: Refused) -> None:
    """Each bad push gets its status and a JSON {error, detail} naming the fault; no event kept."""
    status, answer = await rig.push(
        case.body, device=case.device, token=case.token, headers=case.headers
    )
    assert (status, answer["error"]) == (case.status, case.code), answer
    assert set(answer) == {"error", "detail"}
    assert case.detail in answer["detail"]
    assert await rig.stored() == []
    assert rig.outbox.last_seq == 0


async def test_missing_token_is_challenged(rig: Rig) -> None:
    """A 401 says which scheme to use (WWW-Authenticate: Bearer)."""
    async with rig.session.post(
        f"/v1/devices/{DOOR}/events", json={"type": "door.opened"}
    ) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_wrong_method_is_405_with_allow(rig: Rig) -> None:
    """GET on the push path is 405, says POST, and stores nothing."""
    async with rig.session.get(f"/v1/devices/{DOOR}/events") as response:
        assert response.status == 405
        assert response.headers["Allow"] == "POST"
        assert (await response.json())["error"] == "method_not_allowed"
    assert await rig.stored() == []


async def test_unknown_path_is_404_in_json(rig: Rig) -> None:
    """A path that is not the push path gets a JSON 404 naming the right one."""
    async with rig.session.post("/v1/events", json={}) as response:
        assert response.status == 404
        answer = await response.json()
    assert answer["error"] == "not_found"
    assert "/v1/devices/{device}/events" in answer["detail"]


async def test_announced_oversized_body_is_413(rig: Rig) -> None:
    """A Content-Length over max_body_bytes is refused 413 without reading the body."""
    body = b'{"type": "door.opened", "data": {"x": "' + b"x" * (64 * KIB) + b'"}}'
    status, answer = await rig.push(body)
    assert (status, answer["error"]) == (413, "too_large")
    assert "65536-byte limit" in answer["detail"]
    assert await rig.stored() == []


async def test_streamed_oversized_body_is_413(rig: Rig) -> None:
    """A chunked body (no Content-Length) that runs past max_body_bytes is refused 413."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"type": "door.opened", "data": {"x": "'
        for _ in range(80):
            yield b"x" * KIB
        yield b'"}}'

    headers = {"Authorization": f"Bearer {DOOR_TOKEN}", "Content-Type": "application/json"}
    async with rig.session.post(
        f"/v1/devices/{DOOR}/events", data=chunks(), headers=headers
    ) as response:
        assert response.status == 413
        assert (await response.json())["error"] == "too_large"
    assert await rig.stored() == []


async def test_event_over_the_wire_limit_is_422(tmp_path: Path) -> None:
    """A body within max_body_bytes whose event would pass 64 KiB is refused 422."""
    async with running(tmp_path, max_body_bytes=128 * KIB) as rig:
        status, answer = await rig.push({"type": "door.opened", "data": {"x": "x" * (65 * KIB)}})
        assert (status, answer["error"]) == (422, "invalid_event")
        assert "over the 65536-byte limit" in answer["detail"]
        assert await rig.stored() == []
        assert (await rig.push({"type": "door.opened"}))[1]["seq"] == 1


async def test_outbox_failure_is_503_and_stores_nothing(rig: Rig) -> None:
    """When the outbox cannot write (locked by another process), 503 with Retry-After."""
    other = sqlite3.connect(rig.config.outbox.path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        headers = {"Authorization": f"Bearer {DOOR_TOKEN}"}
        async with rig.session.post(
            f"/v1/devices/{DOOR}/events", json={"type": "alarm.panic"}, headers=headers
        ) as response:
            assert response.status == 503
            assert response.headers["Retry-After"] == "5"
            assert (await response.json())["error"] == "outbox_unavailable"
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert await rig.stored() == []
    status, answer = await rig.push({"type": "alarm.panic"})
    assert (status, answer["seq"]) == (201, 1)


async def test_health_reports_where_it_listens(rig: Rig) -> None:
    """The driver reports ok and its address while it serves."""
    health = rig.server.health()
    assert health.state is DriverState.OK
    assert health.detail == f"listening on 127.0.0.1:{rig.server.port}"


async def test_port_taken_is_a_driver_error(tmp_path: Path) -> None:
    """A port already in use stops the driver from starting, naming host and port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = make_config(tmp_path, http={"port": port})
        async with Outbox(config.outbox.path, site=config.site) as outbox:
            server = HttpPushServer(config.http, config.devices, outbox)
            with pytest.raises(DriverError, match=f"cannot listen on 127.0.0.1:{port}"):
                await server.__aenter__()
            assert server.health().state is DriverState.DOWN


async def test_event_shed_on_arrival_is_507_and_stored_nowhere(tmp_path: Path) -> None:
    """A P2 push that finds the shared space full of P1 is shed: 507 `shed`, nothing stored."""
    config = make_config(tmp_path)
    tight = Bounds(max_bytes=4 * KIB, p0_reserve_bytes=1 * KIB)  # ~11 events of P1 or P2
    async with (
        Outbox(config.outbox.path, site=config.site, bounds=tight) as outbox,
        HttpPushServer(config.http, config.devices, outbox) as server,
        aiohttp.ClientSession(base_url=f"http://127.0.0.1:{server.port}") as session,
    ):
        rig = Rig(config, outbox, server, session)
        answers = [(await rig.push({"type": "door.opened"}))[0] for _ in range(20)]
        assert set(answers) == {201}  # P1 evicts the oldest P1 once the space is full
        held = len(await rig.stored())
        status, body = await rig.push({"type": "motion.started"})
        assert (status, body["error"]) == (507, "shed")
        assert len(await rig.stored()) == held
        assert outbox.stats()[wire.Lane.P2].shed == 1
