"""Jittered exponential backoff for reconnect loops."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between reconnect attempts: doubling from `min_s` up to `max_s`, jittered.

    Attempt n (0-based) waits a uniformly random time in [cap/2, cap] with
    cap = min(max_s, min_s * 2**(n+1)), and never less than `min_s`: the first retry waits
    between `min_s` and twice it. The jitter keeps the 55 agents of a district from
    reconnecting in lockstep after the broker comes back; it matters most on the first
    retry, which is the one they all make together (a band ending at `min_s` would collapse
    to exactly `min_s`).
    """

    min_s: float
    max_s: float
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def __post_init__(self) -> None:
        if not 0 < self.min_s <= self.max_s:
            raise ValueError(f"backoff needs 0 < min_s <= max_s, got {self.min_s}, {self.max_s}")

    def delay(self, attempt: int) -> float:
        """How long to wait before retry number `attempt` (0 for the first retry)."""
        # Cap the exponent: 2**64 seconds is already past any sane max_s.
        cap = min(self.max_s, self.min_s * 2 ** min(max(attempt, 0) + 1, 64))
        return max(self.min_s, self.rng.uniform(cap / 2, cap))
