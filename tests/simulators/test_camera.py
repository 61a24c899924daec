"""The camera simulator: seeded labelled scenes, the fixed split suite, MJPEG over HTTP."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from simulators.camera import (
    BOUNDARY,
    NEGATIVE_S,
    NEGATIVES,
    POSITIVES,
    TAMPERS,
    LabelKind,
    MjpegCamera,
    Split,
    Walker,
    build,
    render,
    suite,
)

ROOT = Path(__file__).resolve().parents[2]


def frames(family: str, seed: int, seconds: float, size: tuple[int, int] = (160, 90)) -> np.ndarray:
    """The first `seconds` of a scene's frames, stacked."""
    scene = dataclasses.replace(build(family, seed), duration_s=seconds)
    return np.stack(list(render(scene, *size)))


def test_scenes_are_reproducible_from_family_and_seed() -> None:
    """The same family and seed give the same labels and the same pixels; another seed does not."""
    assert build("walkers", 5) == build("walkers", 5)
    assert np.array_equal(frames("walkers", 5, 1.0), frames("walkers", 5, 1.0))
    assert not np.array_equal(frames("walkers", 5, 1.0), frames("walkers", 6, 1.0))


def test_walker_label_is_when_it_is_half_in_view() -> None:
    """A walker crossing from x=-0.1 to 1.1 in 12 s is labelled from 1 s to 11 s."""
    walker = Walker(0.0, 12.0, -0.1, 1.1, 0.9, 0.3, (20, 20, 20))
    start, end = walker.visible()
    assert start == pytest.approx(1.0)
    assert end == pytest.approx(11.0)


def test_suite_splits_do_not_share_seeds_and_cover_every_family() -> None:
    """Tuning and held-back scenes never share a seed; each has every family."""
    tuning, held = suite(Split.TUNING), suite(Split.HELD_BACK)
    assert not {s.seed for s in tuning} & {s.seed for s in held}
    families = {*POSITIVES, *NEGATIVES, *TAMPERS}
    assert {s.family for s in tuning} == families == {s.family for s in held}
    negative_hours = sum(s.duration_s for s in tuning if s.family in NEGATIVES) / 3600
    assert negative_hours >= 10.0
    assert all(s.labels for s in tuning if s.family in POSITIVES + TAMPERS)
    assert all(not s.labels and s.duration_s == NEGATIVE_S for s in held if s.family in NEGATIVES)


def test_a_hand_over_the_lens_makes_a_dark_flat_picture() -> None:
    """During its `covered` label the frame is dark and nearly uniform."""
    scene = build("covered", 1)
    label = scene.labels[0]
    assert label.kind is LabelKind.COVERED
    before = int(label.start_s - 2) * 5
    during = int(label.start_s + 2) * 5
    shots = list(render(dataclasses.replace(scene, duration_s=label.start_s + 3), 160, 90))
    assert shots[during].std() < 10 < shots[before].std()
    assert shots[during].mean() < shots[before].mean()


def test_a_knock_moves_the_view() -> None:
    """After the knock the picture is a different part of the street."""
    scene = build("knocked", 1)
    at = scene.labels[0].start_s
    shots = list(render(dataclasses.replace(scene, duration_s=at + 1), 160, 90))
    before, after = shots[int(at - 1) * 5].astype(float), shots[-1].astype(float)
    assert np.abs(before - after).mean() > 20


def test_render_refuses_absurd_sizes() -> None:
    """Frames are bounded: 16x16 up to 1920x1080."""
    with pytest.raises(ValueError, match="outside"):
        next(render(build("walkers", 1), 4000, 3000))


@pytest.mark.integration
async def test_mjpeg_server_sends_jpeg_parts_and_labels() -> None:
    """The stream is multipart JPEG parts at the scene's pace; labels come as JSON."""
    scene = dataclasses.replace(build("walkers", 2), duration_s=2.0)
    async with MjpegCamera(scene, size=(160, 90)) as camera, aiohttp.ClientSession() as http:
        async with http.get(camera.url) as response:
            assert response.content_type == "multipart/x-mixed-replace"
            data = b""
            while data.count(b"\xff\xd8\xff") < 3:
                data += await response.content.readany()
        assert data.startswith(f"--{BOUNDARY}\r\nContent-Type: image/jpeg".encode())
        async with http.get(camera.url.replace("stream.mjpg", "labels.json")) as response:
            labels = (await response.json())["labels"]
        assert labels[0]["kind"] == "motion"


def test_quality_harness_ci_subset_meets_the_targets(tmp_path: Path) -> None:
    """bench/bench_motion.py --ci (one scene per family of the tuning split) meets every target."""
    out = tmp_path / "motion.json"
    result = subprocess.run(
        [sys.executable, "bench/bench_motion.py", "--ci", "--split", "tuning", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "recall" in out.read_text()
