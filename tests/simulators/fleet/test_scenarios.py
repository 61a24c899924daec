"""Scenarios: reproducible from a seed, with the faults and alerts their stories declare."""

import pytest

from simulators.fleet.population import build_population
from simulators.fleet.scenarios import SCENARIOS, build_scenario
from wire import EventType, Kind

ROOMS = build_population(6, 0.05, 1)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_replays_from_its_seed(name: str) -> None:
    """The same seed builds the same scenario; its drafts and faults name real rooms."""
    one = build_scenario(name, ROOMS, span_s=7200.0, speed=60.0, seed=5)
    assert one == build_scenario(name, ROOMS, span_s=7200.0, speed=60.0, seed=5)
    sites = {room.site for room in ROOMS}
    assert set(one.injections) <= sites
    assert all(set(fault.sites) <= sites for fault in one.faults)
    assert all(d.site in sites for d in one.declared)


def test_burglary_is_intrusion_then_door_forced_then_motion_on_its_camera() -> None:
    """The burglary forces a door of the guard's room and moves its linked camera."""
    scenario = build_scenario("burglary", ROOMS, span_s=600.0, speed=10.0, seed=2)
    ((site, drafts),) = scenario.injections.items()
    room = next(room for room in ROOMS if room.site == site)
    types = [d.type for d in drafts]
    assert types[:3] == [EventType.ALARM_INTRUSION, EventType.DOOR_FORCED, EventType.MOTION_STARTED]
    assert drafts[2].device == room.links[drafts[1].device]
    assert drafts[2].sim_s - drafts[1].sim_s == 15.0
    rules = {d.rule for d in scenario.declared}
    assert rules == {"intrusion", "door-forced", "confirmed-intrusion"}


def test_power_cut_loses_mains_within_seconds_and_restores_it() -> None:
    """Most rooms' panels lose mains within 5 s and get it back; each declares ac-lost."""
    scenario = build_scenario("power-cut", ROOMS, span_s=3600.0, speed=10.0, seed=2)
    lost = [
        d for ds in scenario.injections.values() for d in ds if d.type is EventType.POWER_AC_LOST
    ]
    back = [
        d
        for ds in scenario.injections.values()
        for d in ds
        if d.type is EventType.POWER_AC_RESTORED
    ]
    assert len(lost) == len(back) == len(scenario.declared) >= 3
    assert max(d.sim_s for d in lost) - min(d.sim_s for d in lost) <= 5.0
    assert all(d.kind is Kind.PANEL for d in lost)
    assert {d.rule for d in scenario.declared} == {"ac-lost"}


@pytest.mark.parametrize(
    ("speed", "rules"),
    [(600.0, set()), (60.0, {"site-blind"}), (5.0, {"site-blind", "canary"})],
)
def test_link_down_declares_what_its_real_length_raises(speed: float, rules: set[str]) -> None:
    """An hour's outage declares nothing at x600, site-blind at x60, and canary too at x5."""
    scenario = build_scenario("link-down", ROOMS, span_s=7200.0, speed=speed, seed=1)
    (fault,) = scenario.faults
    assert fault.down_s == 3600.0
    assert {d.rule for d in scenario.declared} == rules


def test_reconnect_storm_cuts_every_agent_at_once_and_flapping_one_repeatedly() -> None:
    """The storm is one fault over every site; flapping is many faults of one site."""
    (storm,) = build_scenario("reconnect-storm", ROOMS, span_s=600.0, speed=10.0, seed=1).faults
    assert set(storm.sites) == {room.site for room in ROOMS}
    flaps = build_scenario("flapping-agent", ROOMS, span_s=600.0, speed=10.0, seed=1).faults
    assert len(flaps) >= 10
    assert len({fault.sites for fault in flaps}) == 1


def test_an_unknown_scenario_is_refused_with_the_choices() -> None:
    """A misspelt scenario name is refused, listing the known ones."""
    with pytest.raises(ValueError, match="quiet-night"):
        build_scenario("burglery", ROOMS, span_s=60.0, speed=1.0, seed=1)
