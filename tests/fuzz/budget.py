"""The fuzz tests' shared example budget: all of tests/fuzz together stay under a minute
on CI's 2-core machine (docs/testing.md); `bench/bench_fuzz.py` runs the same properties
for longer."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["FUZZ", "examples"]

_SCALE_ENV = "SHOUWANG_FUZZ_SCALE"


def examples(count: int) -> int:
    """`count` times `$SHOUWANG_FUZZ_SCALE` (1 by default; the bench sets it higher)."""
    return max(1, int(count * float(os.environ.get(_SCALE_ENV, "1"))))


FUZZ = settings(
    deadline=None,  # a budget in examples, not in time per example: CI machines vary
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,  # no example database written into the work tree
)
