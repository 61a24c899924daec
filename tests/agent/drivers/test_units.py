"""Drivers made of units: health from the failing units, bounded detail."""

from agent.drivers._units import MAX_DETAIL, unit_health
from wire import DriverState


def test_health_is_ok_degraded_or_down_by_the_failing_units() -> None:
    """None failing: ok; some: degraded, naming them; all or not running: down."""
    ok = unit_health(3, [], running=True, ok="3 answering", trouble="not answering")
    assert (ok.state, ok.detail) == (DriverState.OK, "3 answering")
    some = unit_health(3, ["a (timeout)"], running=True, ok="", trouble="not answering")
    assert some.state is DriverState.DEGRADED
    assert some.detail == "1 of 3 not answering: a (timeout)"
    every = unit_health(2, ["a", "b"], running=True, ok="", trouble="x")
    assert every.state is DriverState.DOWN
    stopped = unit_health(2, [], running=False, ok="", trouble="x")
    assert stopped.state is DriverState.DOWN


def test_the_detail_is_cut_to_the_contracts_bound() -> None:
    """Hundreds of failing units still give a detail within the contract's 1,024 characters."""
    names = [f"controller-{i} (connection refused)" for i in range(200)]
    health = unit_health(300, names, running=True, ok="", trouble="not answering")
    assert health.detail is not None
    assert len(health.detail) == MAX_DETAIL
    assert health.detail.endswith("…")
