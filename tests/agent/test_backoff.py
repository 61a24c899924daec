"""Jittered exponential backoff: bounded, doubling, jittered."""

import random

import pytest

from agent._backoff import Backoff


def test_delays_double_up_to_the_cap_within_the_jitter_band() -> None:
    """Attempt n waits within [cap/2, cap], cap = min(max, min * 2**(n+1)), never below min."""
    backoff = Backoff(0.5, 8.0, rng=random.Random(42))
    for attempt, cap in enumerate([1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]):
        for _ in range(50):
            delay = backoff.delay(attempt)
            assert max(0.5, cap / 2) <= delay <= cap


def test_delays_are_jittered() -> None:
    """Two agents reconnecting at once do not pick the same delays."""
    backoff = Backoff(1.0, 60.0)
    assert len({backoff.delay(5) for _ in range(20)}) > 1


def test_the_first_retry_is_jittered_too() -> None:
    """Agents that lost the broker together do not all retry exactly `min_s` later."""
    backoff = Backoff(1.0, 60.0)
    delays = {backoff.delay(0) for _ in range(20)}
    assert len(delays) > 1
    assert all(1.0 <= delay <= 2.0 for delay in delays)


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    """A link down for days does not overflow: the delay stays at most max."""
    assert Backoff(1.0, 60.0).delay(10_000) <= 60.0


@pytest.mark.parametrize(("low", "high"), [(0.0, 1.0), (2.0, 1.0), (-1.0, 1.0)])
def test_bounds_must_be_ordered_and_positive(low: float, high: float) -> None:
    """0 < min <= max, or the backoff refuses to exist."""
    with pytest.raises(ValueError, match="0 < min_s <= max_s"):
        Backoff(low, high)
