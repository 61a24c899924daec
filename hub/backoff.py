"""Jittered exponential backoff for reconnecting and retrying."""

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass(slots=True)
class Backoff:
    """Delays that double from `initial` up to `maximum`, each cut by up to half at random.

    The jitter spreads the retries of many clients (55 agents, several hubs) that lost the
    same server at the same moment.
    """

    initial: float = 0.1
    maximum: float = 30.0
    attempts: int = field(default=0, init=False)

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one attempt."""
        ceiling = min(self.maximum, self.initial * 2.0 ** min(self.attempts, 32))
        self.attempts += 1
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography

    def reset(self) -> None:
        """Start again from `initial` (after a success)."""
        self.attempts = 0
