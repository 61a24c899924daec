"""The backstop that ends private services a test run forgot: closed at interpreter exit.

Fixtures and `with` blocks close their instances; this registry covers what they cannot
(an instance built outside `with`, a KeyboardInterrupt between start and teardown).
"""

import atexit
from typing import Protocol

__all__ = ["Closable", "forget", "remember"]


class Closable(Protocol):
    """Anything that ends its processes and removes its files on `close()`."""

    def close(self) -> None: ...


_open: dict[int, Closable] = {}


def remember(resource: Closable) -> None:
    """Close `resource` at interpreter exit unless `forget` is called first."""
    _open[id(resource)] = resource


def forget(resource: Closable) -> None:
    """Drop `resource` from the exit-time backstop (it closed itself)."""
    _open.pop(id(resource), None)


@atexit.register
def _close_all() -> None:
    """End every resource still open, newest first."""
    for resource in reversed(list(_open.values())):
        resource.close()
