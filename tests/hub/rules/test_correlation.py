"""Correlation rules: first then then at one site within the window, by `at`, linked."""

from collections.abc import Callable

import pytest

from tests.hub.rules.support import T0, alerts, ev, ingest, migrated, minutes, rules
from wire import Event

pytestmark = pytest.mark.integration

RULES = rules("""rules:
  - name: confirmed-intrusion
    kind: correlation
    first: {types: [door.forced]}
    then: {types: [motion.started], kinds: [camera]}
    within_s: 60
    linked: true
    severity: critical
links:
  - {site: room-07, device: door-3, to: [cam-1]}
""")


def forced(at_min: float, device: str = "door-3", site: str = "room-07") -> Event:
    """The door forced `at_min` minutes after T0."""
    return ev("door.forced", at=T0 + minutes(at_min), device=device, site=site)


def motion(at_min: float, device: str = "cam-1", site: str = "room-07") -> Event:
    """Motion on a camera `at_min` minutes after T0."""
    return ev("motion.started", at=T0 + minutes(at_min), device=device, site=site, kind="camera")


async def test_forced_then_linked_motion_within_a_minute_is_confirmed(database: str) -> None:
    """Door forced, then its camera sees motion 30 s later: one critical alert on the door."""
    await migrated(database)
    assert await ingest(database, RULES, [forced(0)], now=T0) == 0
    assert await ingest(database, RULES, [motion(0.5)], now=T0) == 1
    (alert,) = await alerts(database)
    assert (alert.rule, alert.device, alert.severity) == (
        "confirmed-intrusion",
        "door-3",
        "critical",
    )


async def test_arrival_order_does_not_matter(database: str) -> None:
    """The motion stored first and the forced door second (late delivery) still pair."""
    await migrated(database)
    await ingest(database, RULES, [motion(0.5)], now=T0)
    assert await ingest(database, RULES, [forced(0)], now=T0) == 1


async def test_both_in_one_batch_pair_once(database: str) -> None:
    """A pair arriving in one batch opens one alert with both events, not two repeats."""
    await migrated(database)
    assert await ingest(database, RULES, [forced(0), motion(0.5)], now=T0) == 1
    (alert,) = await alerts(database)
    assert alert.count == 2


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(lambda: motion(1.5), id="too late"),
        pytest.param(lambda: motion(-0.5), id="before the door"),
        pytest.param(lambda: motion(0.5, device="cam-9"), id="camera not linked"),
        pytest.param(lambda: motion(0.5, site="room-08"), id="other site"),
    ],
)
async def test_no_confirmation_outside_window_link_or_site(
    database: str, second: Callable[[], Event]
) -> None:
    """Motion 90 s later, before the door, on an unlinked camera or elsewhere: nothing."""
    await migrated(database)
    await ingest(database, RULES, [forced(0), second()], now=T0)
    assert await alerts(database) == []
