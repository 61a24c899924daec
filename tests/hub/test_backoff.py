"""Backoff: delays double up to the ceiling, jittered down by at most half, and reset."""

from hub.backoff import Backoff


def test_delays_double_up_to_the_maximum_with_jitter() -> None:
    """Attempt n waits between half and all of min(maximum, initial * 2**n)."""
    backoff = Backoff(initial=0.1, maximum=1.0)
    for ceiling in (0.1, 0.2, 0.4, 0.8, 1.0, 1.0):
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling


def test_reset_starts_again_from_the_initial_delay() -> None:
    """After a success the next delay is the initial one again."""
    backoff = Backoff(initial=0.1, maximum=10.0)
    for _ in range(10):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 0.1
