"""The per-site ingest rate cap: a token bucket per site, so one agent cannot starve others.

Each site may have `burst` messages taken at once and `rate_per_s` more each second.
What the cap refuses is not stored and not acked to the agent: it stays in the agent's
outbox and is resent later (docs/contract.md, "Ack": inputs the hub refuses to take now
are not acked). P0 events are never refused and take no tokens (`Ingest` decides what
is capped; this module only counts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["SiteRateCap"]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class SiteRateCap:
    """Token buckets by site: `take(site)` says whether one more message may be taken now."""

    def __init__(
        self, rate_per_s: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            message = f"the rate cap needs rate_per_s > 0 and burst >= 1, got {rate_per_s}, {burst}"
            raise ValueError(message)
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, site: str) -> bool:
        """Take one token of `site`'s bucket; False (and nothing taken) when it is empty."""
        now = self._clock()
        bucket = self._buckets.get(site)
        if bucket is None:
            bucket = self._buckets[site] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) * self._rate)
        bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True
