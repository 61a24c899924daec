"""Liveness: a loop is alive while it beats within its window, whatever its detail says."""

import time

from hub.health import Health, Liveness


def test_a_loop_that_never_beat_is_not_alive() -> None:
    """Before its first iteration a loop is reported not alive."""
    assert not Liveness().alive


def test_beating_keeps_a_loop_alive_until_the_window_passes() -> None:
    """A beat makes the loop alive; silence longer than the window makes it not alive."""
    liveness = Liveness(window_s=0.05)
    liveness.beat("12 events stored")
    assert liveness.report().alive
    assert liveness.report().detail == "12 events stored"
    time.sleep(0.06)  # the window itself is what is under test
    assert not liveness.alive


def test_trouble_is_reported_without_counting_as_a_beat() -> None:
    """`trouble` sets the detail only; a stuck loop goes not-alive on its own."""
    liveness = Liveness(window_s=0.05)
    liveness.trouble("database unavailable")
    assert not liveness.alive
    assert liveness.report().detail == "database unavailable"


def test_detail_is_cut_to_the_contract_limit() -> None:
    """A long error message is cut to the 1,024 characters the hub status allows."""
    liveness = Liveness()
    liveness.trouble("x" * 5000)
    detail = liveness.report().detail
    assert detail is not None
    assert len(detail) == 1024


def test_health_reports_the_three_components() -> None:
    """The hub status carries ingest, rules and relay."""
    health = Health()
    health.relay.beat()
    components = health.components()
    assert (components.ingest.alive, components.rules.alive, components.relay.alive) == (
        False,
        False,
        True,
    )
