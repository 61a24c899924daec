"""Liveness of the hub's loops, as the hub status and `/health` report it.

Each loop beats once per iteration (ingest at least every second, the relay at least
every few seconds, even when idle). A component is alive when it beat within
`ALIVE_WINDOW_S`; a loop stuck retrying the database reports the trouble as its detail
and stops beating, so it turns not-alive on its own.

`Duties` records, for each periodic duty that one hub at a time runs under a PostgreSQL
advisory lock (docs/scale.md), whether this hub won the lock in its latest round; the
`rules` and `relay` components carry it in their detail (`holds: rules; standby: …`), so
the statuses of several hubs together say who holds what.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Final

from wire import ComponentHealth, HubComponents

__all__ = ["ALIVE_WINDOW_S", "RELAY_DUTIES", "RULES_DUTIES", "Duties", "Health", "Liveness"]

ALIVE_WINDOW_S: Final = 15.0
"""Three times the slowest loop's idle period (the relay's 5 s poll)."""

_MAX_DETAIL: Final = 1024  # the contract's limit on a component's detail

RULES_DUTIES: Final = ("rules", "retention", "snapshot-retention")
"""Duties reported in the `rules` component's detail: the rule clock (durations,
absences, escalations, incident notifications) and the retention rounds."""
RELAY_DUTIES: Final = ("relay", "webhook-fanout")
"""Duties reported in the `relay` component's detail: MQTT relay and webhook fan-out."""


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
class Duties:
    """Whether this hub won each duty's advisory lock in that duty's latest round."""

    held: dict[str, bool] = field(default_factory=dict)

    def record(self, duty: str, *, held: bool) -> None:
        """The latest round of `duty` ran here (`held`) or found another hub's lock."""
        self.held[duty] = held

    def describe(self, duties: tuple[str, ...]) -> str | None:
        """`holds: a, b; standby: c` for those of `duties` that have had a round."""
        mine = [d for d in duties if self.held.get(d) is True]
        others = [d for d in duties if self.held.get(d) is False]
        parts = [f"holds: {', '.join(mine)}"] if mine else []
        parts += [f"standby: {', '.join(others)}"] if others else []
        return "; ".join(parts) or None


def _with_duties(report: ComponentHealth, duties: str | None) -> ComponentHealth:
    if duties is None:
        return report
    detail = duties if report.detail is None else f"{report.detail} ({duties})"
    return ComponentHealth(alive=report.alive, detail=detail[:_MAX_DETAIL])


@dataclass(slots=True)
class Health:
    """The three loops the hub status reports on, and the duties this hub holds."""

    ingest: Liveness = field(default_factory=Liveness)
    rules: Liveness = field(default_factory=Liveness)
    relay: Liveness = field(default_factory=Liveness)
    duties: Duties = field(default_factory=Duties)

    def components(self) -> HubComponents:
        """All three, as the hub status carries them."""
        return HubComponents(
            ingest=self.ingest.report(),
            rules=_with_duties(self.rules.report(), self.duties.describe(RULES_DUTIES)),
            relay=_with_duties(self.relay.report(), self.duties.describe(RELAY_DUTIES)),
        )
