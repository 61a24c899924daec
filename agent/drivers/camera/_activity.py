"""From per-frame motion to events: onset confirmation, off-delay and rate limiting.

A camera is *idle* or *active*. It turns active after motion in `confirm_frames`
analysed frames in a row (a single frame of rain or a compression glitch never fires),
giving `MotionStarted` with the zones, the union box and the changed fraction of that
frame; it turns idle again after `off_delay_s` without motion, giving `MotionStopped`
with the duration. Two starts are at least `min_interval_s` apart (a start due sooner
waits, idle, until the interval has passed and the motion is still there), and at most
`max_per_hour` starts are reported per rolling hour (an activity over the cap is tracked
but reported by neither a start nor a stop): a camera in a storm cannot flood the outbox.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.drivers.camera._motion import Box, FrameMotion

__all__ = ["ActivityParams", "MotionStarted", "MotionStopped", "MotionTracker"]


@dataclass(frozen=True, slots=True)
class ActivityParams:
    """When frames with motion become an event, and when it ends."""

    confirm_frames: int = 2
    """Frames with motion in a row that start an event."""
    off_delay_s: float = 3.0
    """Seconds without motion before `motion.stopped`."""
    min_interval_s: float = 5.0
    """Least time between two starts of the same camera."""
    max_per_hour: int = 120
    """Most starts reported per rolling hour; the rest are counted as suppressed."""

    def __post_init__(self) -> None:
        if not 1 <= self.confirm_frames <= 100:
            raise ValueError(f"confirm_frames must be 1..100, got {self.confirm_frames}")
        if not 0.0 <= self.off_delay_s <= 600.0 or not 0.0 <= self.min_interval_s <= 3600.0:
            msg = "off_delay_s must be 0..600 and min_interval_s 0..3600"
            raise ValueError(msg)
        if not 1 <= self.max_per_hour <= 3600:
            raise ValueError(f"max_per_hour must be 1..3600, got {self.max_per_hour}")


@dataclass(frozen=True, slots=True)
class MotionStarted:
    """`motion.started`: when, where, the union box and the changed fraction."""

    at: float
    zones: tuple[str, ...]
    box: Box
    fraction: float


@dataclass(frozen=True, slots=True)
class MotionStopped:
    """`motion.stopped`: when, and how long the motion lasted (from its start)."""

    at: float
    duration_s: float


@dataclass(slots=True)
class MotionTracker:
    """The event state of one camera; `step` takes each frame's motion and its time (s)."""

    params: ActivityParams = field(default_factory=ActivityParams)
    active: bool = False
    suppressed: int = 0
    """Starts not reported because of `max_per_hour`."""
    _run: int = 0
    _started_at: float = 0.0
    _last_motion: float = 0.0
    _last_start: float | None = None
    _silent: bool = False  # the current activity's start was not reported
    _starts: deque[float] = field(default_factory=deque)

    def step(self, motion: FrameMotion, now: float) -> MotionStarted | MotionStopped | None:
        """The event this frame causes, if any."""
        p = self.params
        if motion.moving:
            self._run += 1
            self._last_motion = now
        else:
            self._run = 0
        if self.active:
            if not motion.moving and now - self._last_motion >= p.off_delay_s:
                return self._stop(now)
            return None
        if self._run < p.confirm_frames:
            return None
        box = motion.box
        if box is None:  # moving implies a box; keeps the types honest
            return None
        return self._start(now, motion, box)

    def _start(self, now: float, motion: FrameMotion, box: Box) -> MotionStarted | None:
        p = self.params
        if self._last_start is not None and now - self._last_start < p.min_interval_s:
            return None
        while self._starts and now - self._starts[0] >= 3600.0:
            self._starts.popleft()
        self.active = True
        self._started_at = now
        if len(self._starts) >= p.max_per_hour:
            self.suppressed += 1
            self._silent = True
            return None
        self._silent = False
        self._last_start = now
        self._starts.append(now)
        return MotionStarted(now, motion.zones, box, motion.fraction)

    def _stop(self, now: float) -> MotionStopped | None:
        self.active = False
        if self._silent:
            return None
        return MotionStopped(now, now - self._started_at)
