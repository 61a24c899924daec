"""Agent status (and its LWT) and hub status (and its LWT)."""

from collections.abc import Callable
from typing import Any

import pytest

import wire
from tests.wire import samples
from tests.wire.samples import dump
from wire import DriverState, Lane, Presence

Change = Callable[[dict[str, Any]], object]
MANY_DRIVERS = {f"driver-{n}": {"state": "ok"} for n in range(33)}


def test_a_valid_agent_status_decodes() -> None:
    """Status fields, the three lanes and each driver's health come out typed."""
    status = wire.decode_status(dump(samples.status()))
    assert status.state is Presence.ONLINE
    assert status.degraded is False
    assert status.lanes.p1.depth == 2
    assert status.lanes[Lane.P2] == wire.LaneStats(depth=40, bytes=16_000, shed=0)
    assert status.drivers["modbus"] == wire.DriverHealth(
        state=DriverState.DEGRADED, detail="unit 4 timing out"
    )


def test_the_lwt_is_the_same_schema_saying_offline() -> None:
    """An agent's last will decodes as a status with state offline and a reason."""
    payload = samples.status()
    payload.update(state="offline", reason="connection lost")
    status = wire.decode_status(dump(payload))
    assert status.state is Presence.OFFLINE
    assert status.reason == "connection lost"


def test_nullable_fields_may_be_left_out() -> None:
    """`reason` and a driver's `detail` default to null."""
    payload = samples.status()
    del payload["reason"]
    del payload["drivers"]["sia"]["detail"]
    status = wire.decode_status(dump(payload))
    assert status.reason is None
    assert status.drivers["sia"].detail is None


def _lanes(change: Callable[[dict[str, Any]], object]) -> Change:
    return lambda payload: change(payload["lanes"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_lanes(lambda lanes: lanes.pop("p2")), r"\$\.lanes.*missing required field `p2`"),
        (_lanes(lambda lanes: lanes.update(p3={})), r"\$\.lanes.*unknown field `p3`"),
        (_lanes(lambda lanes: lanes["p0"].update(depth=-1)), r"\$\.lanes\.p0\.depth"),
        (_lanes(lambda lanes: lanes["p1"].pop("shed")), r"\$\.lanes\.p1"),
        (lambda payload: payload.update(state="starting"), r"\$\.state"),
        (lambda payload: payload.update(degraded="no"), r"\$\.degraded"),
        (lambda payload: payload.update(version=""), r"\$\.version"),
        (lambda payload: payload.update(clock="2025-03-01T08:15:02.123Z"), r"\$\.clock"),
        (lambda payload: payload.update(started_at="2025-02-30T00:00:00.000000Z"), "started_at"),
        (lambda payload: payload.update(epoch="nope"), r"\$\.epoch"),
        (lambda payload: payload.update(site="Room"), r"\$\.site"),
        (lambda payload: payload["drivers"].update(sia={"state": "fine"}), r"drivers"),
        (lambda payload: payload["drivers"].update(SIA={"state": "ok"}), r"key"),
        (lambda payload: payload["drivers"].update(MANY_DRIVERS), r"\$\.drivers.*<= 32"),
        (lambda payload: payload.pop("drivers"), "missing required field `drivers`"),
    ],
)
def test_bad_statuses_are_refused(change: Change, message: str) -> None:
    """A status missing a lane, with a negative counter or a bad driver is refused."""
    payload = samples.status()
    change(payload)
    with pytest.raises(wire.PayloadInvalid, match=message):
        wire.decode_status(dump(payload))


def test_a_valid_hub_status_decodes() -> None:
    """The hub reports its three components."""
    status = wire.decode_hub_status(dump(samples.hub_status()))
    assert status.hub == "hub-a:4711"
    assert status.components.ingest.alive is True
    assert status.components.relay.detail == "webhooks: 1 retrying"


def test_the_hub_lwt_decodes() -> None:
    """The hub's last will says offline."""
    payload = samples.hub_status()
    payload.update(state="offline", reason="connection lost")
    assert wire.decode_hub_status(dump(payload)).state is Presence.OFFLINE


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda payload: payload["components"].pop("rules"), "missing required field `rules`"),
        (lambda payload: payload["components"]["relay"].update(alive=1), r"relay\.alive"),
        (lambda payload: payload.update(hub=""), r"\$\.hub"),
        (lambda payload: payload.update(hub="hub a"), r"\$\.hub"),
        (lambda payload: payload.update(hub="h" * 129), r"\$\.hub"),
        (lambda payload: payload.update(site="room-07"), "unknown field `site`"),
    ],
)
def test_bad_hub_statuses_are_refused(change: Change, message: str) -> None:
    """A hub status missing a component or with a bad instance id is refused."""
    payload = samples.hub_status()
    change(payload)
    with pytest.raises(wire.PayloadInvalid, match=message):
        wire.decode_hub_status(dump(payload))
