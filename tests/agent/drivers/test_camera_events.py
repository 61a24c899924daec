"""Camera events from per-frame results: motion onset, off-delay, rate limits; tamper."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from agent.drivers.camera import (
    ActivityParams,
    Box,
    FrameMotion,
    MotionStarted,
    MotionStopped,
    MotionTracker,
    TamperCleared,
    TamperMonitor,
    TamperParams,
    TamperRaised,
    TamperReason,
)
from agent.drivers.camera._tamper import contrast, edge_map, scene_match, sharpness

MOVING = FrameMotion(boxes=(Box(0.1, 0.2, 0.1, 0.3),), zones=("door",), fraction=0.02)
STILL = FrameMotion()


def feed(tracker: MotionTracker, frames: list[FrameMotion], fps: float = 5.0) -> list[object]:
    """Every event the frames cause, in order."""
    events: list[object] = []
    for n, frame in enumerate(frames):
        event = tracker.step(frame, n / fps)
        if event is not None:
            events.append(event)
    return events


def test_a_single_frame_of_motion_starts_nothing() -> None:
    """One frame with motion (a raindrop, a glitch) is not an event."""
    assert feed(MotionTracker(), [STILL, MOVING, STILL, STILL]) == []


def test_motion_starts_after_confirmation_and_stops_after_the_off_delay() -> None:
    """Two frames in a row start; the stop comes off_delay_s after the last motion."""
    tracker = MotionTracker(ActivityParams(confirm_frames=2, off_delay_s=1.0))
    events = feed(tracker, [STILL, MOVING, MOVING, MOVING, *[STILL] * 10])
    started, stopped = events
    assert isinstance(started, MotionStarted)
    assert started.at == pytest.approx(0.4)
    assert started.zones == ("door",)
    assert started.box == MOVING.boxes[0]
    assert isinstance(stopped, MotionStopped)
    assert stopped.at == pytest.approx(0.6 + 1.0)
    assert stopped.duration_s == pytest.approx(1.2)


def test_gaps_shorter_than_the_off_delay_keep_one_event() -> None:
    """Motion that pauses for less than the off-delay is still the same event."""
    tracker = MotionTracker(ActivityParams(off_delay_s=2.0))
    events = feed(tracker, [MOVING, MOVING, STILL, STILL, STILL, MOVING, MOVING, *[STILL] * 20])
    assert [type(e) for e in events] == [MotionStarted, MotionStopped]


def test_starts_are_spaced_by_min_interval() -> None:
    """A start due sooner than min_interval_s after the previous one waits."""
    tracker = MotionTracker(ActivityParams(off_delay_s=0.2, min_interval_s=3.0))
    frames = [MOVING, MOVING, STILL, STILL, MOVING, MOVING, *[MOVING] * 15, STILL, STILL]
    events = feed(tracker, frames)
    starts = [e.at for e in events if isinstance(e, MotionStarted)]
    assert starts[0] == pytest.approx(0.2)
    assert starts[1] >= 3.2


def test_hourly_cap_suppresses_both_start_and_stop() -> None:
    """Past max_per_hour, an activity is counted but sends neither start nor stop."""
    tracker = MotionTracker(ActivityParams(off_delay_s=0.2, min_interval_s=0.0, max_per_hour=2))
    burst = [MOVING, MOVING, STILL, STILL]
    events = feed(tracker, burst * 4)
    assert [type(e) for e in events] == [MotionStarted, MotionStopped] * 2
    assert tracker.suppressed == 2


def scene(seed: int = 1, size: tuple[int, int] = (160, 90)) -> np.ndarray:
    """A scene with structure: random blocks on a mid-grey ground, lightly blurred."""
    rng = np.random.default_rng(seed)
    w, h = size
    frame = np.full((h, w), 110, np.uint8)
    for _ in range(25):
        x, y = int(rng.integers(0, w - 16)), int(rng.integers(0, h - 16))
        frame[y : y + int(rng.integers(4, 16)), x : x + int(rng.integers(4, 16))] = int(
            rng.integers(20, 240)
        )
    return frame


def test_measures_tell_flat_blurred_and_moved_pictures() -> None:
    """Contrast, sharpness and scene match each separate their tampering from a healthy picture."""
    good = scene()
    assert contrast(np.full((90, 160), 40, np.uint8)) == 0.0
    assert contrast(good) > 20.0
    blurred = np.asarray(cv2.GaussianBlur(good, (0, 0), 3), np.uint8)
    assert sharpness(blurred) < 0.3 * sharpness(good)
    darker = np.clip(good * 0.5, 0, 255).astype(np.uint8)
    assert sharpness(darker) == pytest.approx(sharpness(good), rel=0.2)
    reference = edge_map(good)
    assert scene_match(reference, edge_map((good * 0.6).astype(np.uint8))) > 0.9
    assert scene_match(reference, edge_map(scene(seed=2))) < 0.4


def run(monitor: TamperMonitor, frames: list[np.ndarray], start: float = 0.0) -> list[object]:
    """Every tamper event over frames at 5 fps from `start`."""
    events: list[object] = []
    for n, frame in enumerate(frames):
        event = monitor.step(frame, start + n / 5)
        if event is not None:
            events.append(event)
    return events


@pytest.mark.parametrize(
    ("reason", "bad"),
    [
        (TamperReason.COVERED, np.full((90, 160), 25, np.uint8)),
        (TamperReason.DEFOCUSED, cv2.GaussianBlur(scene(), (0, 0), 4)),
        (TamperReason.TURNED_AWAY, scene(seed=7)),
    ],
)
def test_tamper_is_raised_after_hold_and_cleared_after_recovery(
    reason: TamperReason, bad: np.ndarray
) -> None:
    """Each condition raises its reason after hold_s and clears clear_s after the view returns."""
    monitor = TamperMonitor(TamperParams(warmup_s=1.0, hold_s=2.0, clear_s=1.0))
    good = scene()
    assert run(monitor, [good] * 10) == []
    raised = run(monitor, [bad] * 15, start=2.0)
    assert len(raised) == 1
    assert isinstance(raised[0], TamperRaised)
    assert raised[0].reason is reason
    assert raised[0].at - raised[0].since == pytest.approx(2.0)
    cleared = run(monitor, [good] * 10, start=5.0)
    assert len(cleared) == 1
    assert isinstance(cleared[0], TamperCleared)
    assert cleared[0].reason is reason


def test_a_brief_occlusion_raises_nothing() -> None:
    """A condition shorter than hold_s (someone passing close to the lens) is not tamper."""
    monitor = TamperMonitor(TamperParams(warmup_s=1.0, hold_s=3.0))
    good, dark = scene(), np.full((90, 160), 25, np.uint8)
    assert run(monitor, [good] * 10 + [dark] * 10 + [good] * 10) == []


def test_a_lighting_change_is_no_tamper() -> None:
    """Night (darker, noisier) and a brightness step keep the scene: no tamper."""
    rng = np.random.default_rng(1)
    monitor = TamperMonitor(TamperParams(warmup_s=1.0, hold_s=1.0))
    good = scene()
    night = [
        np.clip(good * 0.4 + 20 + rng.normal(0, 5, good.shape), 0, 255).astype(np.uint8)
        for _ in range(30)
    ]
    bright = np.clip(good * 1.6, 0, 255).astype(np.uint8)
    assert run(monitor, [good] * 10 + night + [bright] * 30) == []
