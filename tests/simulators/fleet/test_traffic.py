"""Rates, the day curve and each room's traffic timeline."""

from collections import Counter

import pytest

from simulators.fleet.population import build_population
from simulators.fleet.rates import Rates, activity
from simulators.fleet.traffic import Draft, RoomTraffic
from wire import EventType, Kind


def _play(traffic: RoomTraffic, until_s: float, step_s: float) -> list[Draft]:
    out: list[Draft] = []
    t = 0.0
    while t < until_s:
        t = min(t + step_s, until_s)
        out += traffic.due(t)
    return out


def test_the_day_curve_is_low_at_night_and_peaks_at_rush_hours() -> None:
    """Activity is 0.05 at 3 am, 1.0 at 8 am and 6 pm, interpolated and modulo 24 h."""
    assert activity(3.0) == pytest.approx(0.05)
    assert activity(8.0) == activity(18.0) == 1.0
    assert 0.35 < activity(6.5) < 0.8
    assert activity(27.0) == activity(3.0)


def test_the_same_seed_replays_the_same_traffic_whatever_the_step() -> None:
    """A room's drafts depend on the seed only, not on how often `due` is called."""
    room = build_population(2, 0.2, 1)[1]
    coarse = _play(RoomTraffic(room, Rates(), 9, 8.0), 1800.0, 7.0)
    fine = _play(RoomTraffic(room, Rates(), 9, 8.0), 1800.0, 0.5)
    assert coarse == fine
    assert len(coarse) > 100
    assert _play(RoomTraffic(room, Rates(), 10, 8.0), 1800.0, 7.0) != coarse


def test_drafts_come_in_time_order_from_the_rooms_devices() -> None:
    """Every draft is due, in order, from a device of the room with its own kind."""
    room = build_population(1, 0.2, 2)[0]
    devices = {device.id: device.kind for device in room.devices}
    drafts = _play(RoomTraffic(room, Rates(), 1, 12.0), 3600.0, 10.0)
    assert [d.sim_s for d in drafts] == sorted(d.sim_s for d in drafts)
    assert all(devices[d.device] is d.kind for d in drafts)


def test_nights_are_quieter_than_days() -> None:
    """The same hour of traffic has far fewer passages at 3 am than at 8 am."""
    room = build_population(1, 1.0, 2)[0]
    night = Counter(d.type for d in _play(RoomTraffic(room, Rates(), 1, 3.0), 3600.0, 60.0))
    day = Counter(d.type for d in _play(RoomTraffic(room, Rates(), 1, 8.0), 3600.0, 60.0))
    assert day[EventType.ACCESS_GRANTED] > 5 * night[EventType.ACCESS_GRANTED]


def test_a_passage_is_five_events_of_one_door() -> None:
    """A door passage reads access.granted, unlocked, opened, closed, locked, in order."""
    room = build_population(1, 0.05, 2)[0]
    rates = Rates(door_passages_per_hour=10, held_open_share=0.0, contact_openings_per_hour=0,
                  camera_motion_per_hour=0, heartbeats=False)  # fmt: skip
    drafts = _play(RoomTraffic(room, rates, 1, 8.0), 3600.0, 30.0)
    first = drafts[0]
    mine = [d.type for d in drafts if d.device == first.device][:5]
    assert mine == [
        EventType.ACCESS_GRANTED,
        EventType.DOOR_UNLOCKED,
        EventType.DOOR_OPENED,
        EventType.DOOR_CLOSED,
        EventType.DOOR_LOCKED,
    ]


def test_heartbeats_come_at_each_devices_checkin_interval() -> None:
    """With only heartbeats, each device sends test.periodic once per check-in interval."""
    room = build_population(1, 0.05, 2)[0]
    quiet = Rates(door_passages_per_hour=0, contact_openings_per_hour=0, camera_motion_per_hour=0,
                  intrusion_per_day=0, panic_per_day=0, tamper_per_day=0, battery_low_per_day=0,
                  camera_offline_per_day=0)  # fmt: skip
    drafts = _play(RoomTraffic(room, quiet, 1, 0.0), 3600.0, 60.0)
    assert {d.type for d in drafts} == {EventType.TEST_PERIODIC}
    cameras = [d for d in drafts if d.kind is Kind.CAMERA]
    assert len(cameras) == 6 * room.count(Kind.CAMERA)  # every 600 s for an hour


def test_injected_drafts_join_the_timeline() -> None:
    """A scenario's draft comes out at its time among the background."""
    room = build_population(1, 0.05, 2)[0]
    traffic = RoomTraffic(room, Rates(), 1, 12.0)
    alarm = Draft(50.0, "guard-01", Kind.SHOP_GUARD, EventType.ALARM_INTRUSION, tag="test")
    traffic.inject([alarm])
    assert alarm not in traffic.due(49.9)
    assert alarm in traffic.due(50.0)


def test_negative_rates_are_refused() -> None:
    """A negative rate is refused, naming it."""
    with pytest.raises(ValueError, match="door_passages_per_hour"):
        Rates(door_passages_per_hour=-1.0)
    with pytest.raises(ValueError, match="panic_per_day"):
        Rates(panic_per_day=-0.5)
