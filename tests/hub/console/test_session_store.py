"""The console's session store and CSRF check, with a clock the test moves."""

import pytest

from hub.console.session import SessionsFull, SessionStore, csrf_matches


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_after_its_idle_time() -> None:
    """A session not used for `idle_s` is gone; using it restarts the idle time."""
    clock = _Clock()
    store = SessionStore(idle_s=60, max_s=3600, max_sessions=10, clock=clock)
    session_id, _ = store.open("sw_token")
    clock.now += 59
    assert store.get(session_id) is not None
    clock.now += 59
    assert store.get(session_id) is not None
    clock.now += 60
    assert store.get(session_id) is None


def test_a_session_ends_at_its_maximum_age_however_used() -> None:
    """A session in constant use still ends `max_s` after it was opened."""
    clock = _Clock()
    store = SessionStore(idle_s=60, max_s=120, max_sessions=10, clock=clock)
    session_id, _ = store.open("sw_token")
    for _ in range(3):
        clock.now += 40
        store.get(session_id)
    assert store.get(session_id) is None


def test_the_store_is_bounded_and_expired_sessions_make_room() -> None:
    """Beyond `max_sessions` sign-in is refused, until expired sessions are swept."""
    clock = _Clock()
    store = SessionStore(idle_s=60, max_s=3600, max_sessions=2, clock=clock)
    store.open("a")
    store.open("b")
    with pytest.raises(SessionsFull):
        store.open("c")
    clock.now += 61
    store.open("c")
    assert len(store) == 1


def test_closing_ends_a_session_and_closing_a_token_ends_all_of_its_sessions() -> None:
    """Sign-out ends one session; a token that no longer verifies ends all of its own."""
    store = SessionStore(idle_s=60, max_s=3600, max_sessions=10)
    first, _ = store.open("a")
    second, _ = store.open("a")
    other, _ = store.open("b")
    store.close(first)
    assert store.get(first) is None
    store.close_token("a")
    assert store.get(second) is None
    assert store.get(other) is not None


def test_session_ids_are_random_and_unknown_or_oversized_ones_are_refused() -> None:
    """Two sessions never share an id; a made-up or huge cookie finds nothing."""
    store = SessionStore(idle_s=60, max_s=3600, max_sessions=10)
    one, _ = store.open("a")
    two, _ = store.open("a")
    assert one != two
    assert len(one) >= 43  # 256 bits, URL-safe base64
    assert store.get("x" * 43) is None
    assert store.get(one + "x" * 200) is None
    assert store.get("") is None


def test_csrf_must_match_exactly() -> None:
    """The CSRF token matches only itself: not empty, not a prefix, not another's."""
    store = SessionStore(idle_s=60, max_s=3600, max_sessions=10)
    _, session = store.open("a")
    _, other = store.open("a")
    assert csrf_matches(session, session.csrf)
    assert not csrf_matches(session, None)
    assert not csrf_matches(session, "")
    assert not csrf_matches(session, session.csrf[:-1])
    assert not csrf_matches(session, other.csrf)
    assert not csrf_matches(session, "é" * 10)
