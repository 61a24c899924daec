"""The camera motion pipeline on synthetic frames: each step, then the detector."""

from __future__ import annotations

import numpy as np
import pytest

from agent.drivers.camera import FULL_FRAME, Box, MotionDetector, MotionParams, Zone
from agent.drivers.camera._motion import (
    analysis_size,
    dilate,
    persist,
    regions,
    relative_change,
    structure_match,
    to_grey,
    zone_masks,
)

W, H = 160, 90


def street(seed: int = 1) -> np.ndarray:
    """A textured grey scene: blocks of different shades, like buildings and a road."""
    rng = np.random.default_rng(seed)
    frame = np.full((H, W), 100, np.uint8)
    for _ in range(12):
        x, y = int(rng.integers(0, W - 20)), int(rng.integers(0, H // 2))
        frame[y : y + 30, x : x + 20] = int(rng.integers(40, 200))
    return frame


def with_person(frame: np.ndarray, x: int, y: int = 50, shade: int = 20) -> np.ndarray:
    """`frame` with a 6x16 dark figure whose top-left corner is at (x, y)."""
    out = frame.copy()
    out[y : y + 16, x : x + 6] = shade
    return out


def settle(detector: MotionDetector, frame: np.ndarray, frames: int = 6) -> None:
    """Feed the same frame until the background and calibration have settled."""
    for _ in range(frames):
        detector.step(frame)


def test_analysis_size_keeps_aspect_and_refuses_absurd_frames() -> None:
    """The analysed size keeps the aspect ratio and a frame past 4K is refused."""
    assert analysis_size(640, 360, 160) == (160, 90)
    assert analysis_size(100, 50, 160) == (100, 50)
    with pytest.raises(ValueError, match="outside"):
        analysis_size(10_000, 10_000, 160)


def test_to_grey_takes_bgr_and_grey_only() -> None:
    """A BGR frame becomes one channel, a grey one passes, anything else is refused."""
    assert to_grey(np.zeros((4, 5, 3), np.uint8)).shape == (4, 5)
    assert to_grey(np.zeros((4, 5), np.uint8)).shape == (4, 5)
    with pytest.raises(ValueError, match="shape"):
        to_grey(np.zeros((4, 5, 4), np.uint8))


def test_relative_change_ignores_a_smooth_gain_but_not_an_object() -> None:
    """A frame-wide smooth gain leaves no change; a small object does."""
    base = street().astype(np.float32)
    ramp = np.linspace(1.2, 1.8, W, dtype=np.float32)[None, :]
    assert float(relative_change(np.clip(base * ramp, 0, 255), base).max()) < 0.12
    moved = with_person(street(), 80).astype(np.float32)
    assert float(relative_change(moved, base).max()) > 0.5


def test_structure_match_tells_light_from_occlusion() -> None:
    """A relit patch still correlates with the background; one covered by a figure does not."""
    background = street().astype(np.float32)
    box = Box(0.0, 0.0, 0.5, 0.5)
    assert structure_match(background * 1.4, background, box) > 0.95
    covered = background.copy()
    covered[: H // 2, : W // 2] = 30.0
    covered[10:30, 10:40] = 220.0
    assert structure_match(covered, background, box) < 0.5


def test_regions_apply_min_area_and_normalise_boxes() -> None:
    """Only blobs of at least the given pixels count, with boxes in 0..1 units."""
    mask = np.zeros((H, W), np.uint8)
    mask[10:20, 40:60] = 255  # 200 pixels
    mask[70:72, 5:7] = 255  # 4 pixels
    boxes = regions(mask, 50)
    assert len(boxes) == 1
    assert boxes[0].as_list() == [0.25, round(10 / 90, 4), 0.125, round(10 / 90, 4)]


def test_dilate_joins_close_pieces() -> None:
    """Dilation joins two pieces one pixel apart into one region."""
    mask = np.zeros((20, 20), np.uint8)
    mask[5:10, 5:8] = 255
    mask[5:10, 9:12] = 255
    assert len(regions(mask, 1)) == 2
    assert len(regions(dilate(mask, 3), 1)) == 1


def test_zone_masks_cut_out_masked_areas() -> None:
    """A mask removes its area from every zone."""
    left = Zone("left", ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)))
    clock = Zone("clock", ((0.0, 0.0), (0.2, 0.0), (0.2, 0.2), (0.0, 0.2)))
    masks = zone_masks((100, 100), [left, FULL_FRAME], [clock])
    assert masks["left"][50, 25] == 255
    assert masks["left"][50, 75] == 0
    assert masks["all"][5, 5] == 0
    assert masks["all"][50, 75] == 255


def test_zone_refuses_points_outside_the_frame() -> None:
    """A zone needs three points inside 0..1."""
    with pytest.raises(ValueError, match="outside"):
        Zone("z", ((0.0, 0.0), (1.5, 0.0), (0.0, 1.0)))
    with pytest.raises(ValueError, match="3 points"):
        Zone("z", ((0.0, 0.0), (1.0, 0.0)))


def test_detector_finds_a_figure_and_names_its_zone() -> None:
    """A figure appearing in the right half is motion in the `right` zone only."""
    left = Zone("left", ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)))
    right = Zone("right", ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)))
    detector = MotionDetector(MotionParams(zones=(left, right)))
    scene = street()
    settle(detector, scene)
    motion = detector.step(with_person(scene, 120))
    assert motion.moving
    assert motion.zones == ("right",)
    box = motion.box
    assert box is not None
    assert 0.7 < box.x < 0.78
    assert 0.0 < motion.fraction < 0.05


def test_detector_ignores_masked_motion() -> None:
    """A figure inside a mask is not motion."""
    masked = Zone("tree", ((0.6, 0.3), (1.0, 0.3), (1.0, 1.0), (0.6, 1.0)))
    detector = MotionDetector(MotionParams(masks=(masked,)))
    scene = street()
    settle(detector, scene)
    assert not detector.step(with_person(scene, 120)).moving
    assert detector.step(with_person(scene, 40)).moving


def test_detector_sees_no_motion_in_noise_or_a_brightness_step() -> None:
    """Sensor noise and a global brightness step are not motion."""
    rng = np.random.default_rng(3)
    detector = MotionDetector()
    scene = street()
    settle(detector, scene)
    for _ in range(20):
        noisy = np.clip(scene + rng.normal(0, 6, scene.shape), 0, 255).astype(np.uint8)
        assert not detector.step(noisy).moving
    brighter = np.clip(scene * 1.5, 0, 255).astype(np.uint8)
    assert not detector.step(brighter).moving


def test_lighting_guard_recalibrates_on_a_new_picture() -> None:
    """A change over most of the frame resets the background instead of reporting motion."""
    rng = np.random.default_rng(5)
    before, after = (rng.integers(30, 220, (H // 6, W // 8)).astype(np.uint8) for _ in range(2))
    detector = MotionDetector()
    settle(detector, np.kron(before, np.ones((6, 8), np.uint8)))
    new_view = np.kron(after, np.ones((6, 8), np.uint8))
    motion = detector.step(new_view)
    assert motion.recalibrated
    assert not motion.moving
    for _ in range(5):
        assert not detector.step(new_view).moving


def test_persist_counts_runs_of_touching_small_regions() -> None:
    """A small region touching one of the last frame's extends its run; a distant one restarts."""
    first = persist([Box(0.10, 0.5, 0.02, 0.06)], (), (W, H))
    assert [run for _, run in first] == [1]
    near = Box(0.12 + 0.5 / W, 0.5, 0.02, 0.06)  # half a pixel to the right of the first
    far = Box(0.60, 0.2, 0.02, 0.06)
    second = persist([near, far], first, (W, H))
    assert [run for _, run in second] == [2, 1]
    assert [run for _, run in persist([near], second, (W, H))] == [3]


def test_detector_reports_a_small_figure_once_it_persists() -> None:
    """A far figure a few pixels tall counts from its third frame in a row, not its first."""
    detector = MotionDetector()
    scene = street()
    settle(detector, scene)
    seen = []
    for step in range(5):
        frame = scene.copy()
        frame[60:66, 20 + 2 * step : 22 + 2 * step] = 20  # 2x6 px, walking 2 px per frame
        seen.append(detector.step(frame).moving)
    assert seen == [False, False, True, True, True]


def test_detector_ignores_small_specks_that_do_not_persist() -> None:
    """Rain-like specks at new places every frame never become motion."""
    rng = np.random.default_rng(7)
    detector = MotionDetector()
    scene = street()
    settle(detector, scene)
    for _ in range(40):
        frame = scene.copy()
        for _ in range(3):
            x, y = int(rng.integers(0, W - 3)), int(rng.integers(0, H - 3))
            frame[y : y + 2, x : x + 3] = 200
        assert not detector.step(frame).moving


def test_params_refuse_bad_values() -> None:
    """Kernel sizes must be odd and fractions inside 0..1."""
    with pytest.raises(ValueError, match="odd"):
        MotionParams(blur=4)
    with pytest.raises(ValueError, match="fractions"):
        MotionParams(min_area=1.5)
    with pytest.raises(ValueError, match="small_persist"):
        MotionParams(small_persist=0)
