"""Liveness of the hub's loops, as the hub status and `/health` report it.

Each loop beats once per iteration (ingest at least every second, the relay at least
every few seconds, even when idle). A component is alive when it beat within
`ALIVE_WINDOW_S`; a loop stuck retrying the database reports the trouble as its detail
and stops beating, so it turns not-alive on its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Final

from wire import ComponentHealth, HubComponents

__all__ = ["ALIVE_WINDOW_S", "Health", "Liveness"]

ALIVE_WINDOW_S: Final = 15.0
"""Three times the slowest loop's idle period (the relay's 5 s poll)."""

_MAX_DETAIL: Final = 1024  # the contract's limit on a component's detail


@dataclass(slots=True)
class Liveness:
    """When one loop last made progress, and what it last had to say."""

    window_s: float = ALIVE_WINDOW_S
    last_beat: float | None = None
    detail: str | None = None

    def beat(self, detail: str | None = None) -> None:
        """The loop went round (and all is well, or `detail` says how it is)."""
        self.last_beat = time.monotonic()
        self.detail = detail

    def trouble(self, detail: str) -> None:
        """The loop is stuck on something (it does not count as a beat)."""
        self.detail = detail

    @property
    def alive(self) -> bool:
        """Whether the loop beat recently."""
        return self.last_beat is not None and time.monotonic() - self.last_beat <= self.window_s

    def report(self) -> ComponentHealth:
        """The contract's view of this loop."""
        detail = None if self.detail is None else self.detail[:_MAX_DETAIL]
        return ComponentHealth(alive=self.alive, detail=detail)


@dataclass(slots=True)
class Health:
    """The three loops the hub status reports on."""

    ingest: Liveness = field(default_factory=Liveness)
    rules: Liveness = field(default_factory=Liveness)
    relay: Liveness = field(default_factory=Liveness)

    def components(self) -> HubComponents:
        """All three, as the hub status carries them."""
        return HubComponents(
            ingest=self.ingest.report(), rules=self.rules.report(), relay=self.relay.report()
        )
