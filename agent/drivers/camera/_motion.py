"""Motion in one frame: small pure steps from a camera frame to changed regions.

The pipeline (each step a function; `MotionDetector` holds the only state, the
background)::

    frame ─ to_grey ─ downscale ─ blur ─┬─ relative_change vs running background
                                         ─ threshold ─ zone mask ─ dilate ─ regions
                                         ─ drop regions only lit differently (structure_match)
                                         ─ keep small regions only once they persist (persist)

Everything runs on a small grey frame (`analysis_width`, 160 pixels by default), whatever
the camera's resolution, so the cost per camera is fixed.

Light is a gain: a headlight sweep, a cloud or the exposure stepping multiplies the
picture by a smooth field. So the change is measured as a ratio, the log of frame over
background, and its smooth part (a very blurred copy) is taken out: what is left is
change at the scale of objects, which lighting does not make. What gets through anyway
(a wall saturating under a headlight) keeps its pattern, so a region whose picture still
correlates with the background's is dropped (`relit_match`). And when most of the zone
area changes at once (lights switched, the IR cut-filter flipping, the camera knocked),
that is no motion but a new picture: the lighting guard resets the background to it.

A small region (a far figure, a few pixels tall) is too small for the structure check: the
pattern around it dominates any patch drawn around it. It counts instead once it has
persisted: found in `small_persist` analysed frames in a row, each time touching (within
a pixel) a small region of the frame before. A real object, even a slow one, is where it
was a fifth of a second earlier; rain speckle and noise are not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import cv2
import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

__all__ = [
    "Box",
    "FrameMotion",
    "MotionDetector",
    "MotionParams",
    "Zone",
    "analysis_size",
    "dilate",
    "downscale",
    "persist",
    "regions",
    "relative_change",
    "structure_match",
    "to_grey",
    "zone_masks",
]

MAX_SOURCE_PIXELS: Final = 4096 * 2160
"""Largest frame analysed (4K UHD); a bigger one is refused, not silently slowed down on."""
_LIGHT_CELL: Final = 16  # analysis pixels per cell of the smooth (lighting) part of a change
_DARK: Final = 24.0  # grey levels added before a ratio: dark noise is not a large change
_CLIPPED: Final = 235  # grey level from which a pixel is taken as saturated
_PAD: Final = 2  # pixels around a region compared for structure: its edges are the pattern
_FLAT: Final = 25.0  # variance (grey levels²) under which a patch has no pattern to compare
_TRACK_GAP: Final = 1  # analysis pixels between a small region and its previous position


@dataclass(frozen=True, slots=True)
class Zone:
    """A named polygon in normalised coordinates (0..1 across the width and height)."""

    name: str
    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.points) < 3:
            raise ValueError(f"zone {self.name!r} needs at least 3 points, got {len(self.points)}")
        for x, y in self.points:
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"zone {self.name!r}: point ({x}, {y}) is outside 0..1")


FULL_FRAME: Final = Zone("all", ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)))


@dataclass(frozen=True, slots=True)
class MotionParams:
    """How motion is told from noise; every figure is resolution independent."""

    analysis_width: int = 160
    """Width of the grey frame analysed, in pixels (the height keeps the aspect ratio)."""
    blur: int = 3
    """Gaussian blur kernel (odd) before differencing: sensor noise and JPEG blocks."""
    alpha: float = 0.02
    """Background learning rate per analysed frame (0.02 at 5 fps: a 10 s time constant)."""
    threshold: float = 0.2
    """Relative change of a pixel that counts (the log of the ratio: 0.2 is about 22 %)."""
    dilate: int = 3
    """Dilation kernel: joins a person's pieces into one region."""
    min_area: float = 0.0007
    """Smallest region that is motion, as a fraction of the analysed frame."""
    small_area: float = 0.0042
    """A region whose box covers at most this fraction of the frame is small: it skips the
    structure check and must persist for `small_persist` frames."""
    small_persist: int = 3
    """Analysed frames in a row a small region must be seen, each near the last, to count."""
    lighting_fraction: float = 0.45
    """Share of the zone area changing at once that is a lighting change, not motion."""
    relit_match: float = 0.8
    """A region whose picture still correlates this well with the background's is only
    lit differently (a headlight on a wall): the structure is there, nothing moved."""
    calibration_frames: int = 3
    """Frames after a reset during which the background settles and nothing is reported."""
    zones: tuple[Zone, ...] = (FULL_FRAME,)
    """Where motion counts; a region outside every zone is ignored."""
    masks: tuple[Zone, ...] = ()
    """Areas never analysed (a clock overlay, a tree), even inside a zone."""

    def __post_init__(self) -> None:
        if not 32 <= self.analysis_width <= 640:
            raise ValueError(f"analysis_width must be 32..640, got {self.analysis_width}")
        for name in ("blur", "dilate"):
            size = getattr(self, name)
            if size < 1 or size % 2 == 0 or size > 31:
                raise ValueError(f"{name} must be an odd kernel size 1..31, got {size}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        fractions = (self.min_area, self.small_area, self.lighting_fraction)
        if not all(0.0 < value <= 1.0 for value in fractions) or self.min_area >= 1.0:
            msg = "min_area, small_area and lighting_fraction are fractions of the frame"
            raise ValueError(msg)
        if not 1 <= self.small_persist <= 50:
            raise ValueError(f"small_persist must be 1..50 frames, got {self.small_persist}")
        if not self.zones:
            msg = "at least one zone is needed"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in normalised coordinates: left, top, width, height (0..1)."""

    x: float
    y: float
    w: float
    h: float

    def union(self, other: Box) -> Box:
        """The smallest box holding both."""
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1 = max(self.x + self.w, other.x + other.w)
        y1 = max(self.y + self.h, other.y + other.h)
        return Box(x0, y0, x1 - x0, y1 - y0)

    def as_list(self) -> list[float]:
        """`[x, y, w, h]` rounded to 4 decimals, as events carry it."""
        return [round(v, 4) for v in (self.x, self.y, self.w, self.h)]


@dataclass(frozen=True, slots=True)
class FrameMotion:
    """What one analysed frame shows: regions, their union, zones hit and changed share."""

    boxes: tuple[Box, ...] = ()
    zones: tuple[str, ...] = ()
    fraction: float = 0.0
    """Share of the zone area that changed (after thresholding, before dilation)."""
    recalibrated: bool = False
    """True when the lighting guard reset the background on this frame."""

    @property
    def moving(self) -> bool:
        """Whether the frame shows motion."""
        return bool(self.boxes)

    @property
    def box(self) -> Box | None:
        """The union of every region, or None."""
        if not self.boxes:
            return None
        union = self.boxes[0]
        for box in self.boxes[1:]:
            union = union.union(box)
        return union


def analysis_size(width: int, height: int, analysis_width: int) -> tuple[int, int]:
    """The analysed frame's (width, height) for a source of `width` by `height`."""
    if width <= 0 or height <= 0 or width * height > MAX_SOURCE_PIXELS:
        raise ValueError(f"frame size {width}x{height} is outside 1..{MAX_SOURCE_PIXELS} pixels")
    w = min(analysis_width, width)
    return w, max(8, round(height * w / width))


def to_grey(frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """A BGR (or already grey) frame as one grey channel."""
    if frame.ndim == 2:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 3:
        return np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    raise ValueError(f"expected a grey or BGR frame, got shape {frame.shape}")


def downscale(grey: NDArray[np.uint8], size: tuple[int, int]) -> NDArray[np.uint8]:
    """`grey` resized to `size` (width, height) by area averaging."""
    if (grey.shape[1], grey.shape[0]) == size:
        return grey
    return np.asarray(cv2.resize(grey, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def relative_change(
    current: NDArray[np.float32], background: NDArray[np.float32]
) -> NDArray[np.float32]:
    """|log(current / background)| with its smooth part taken out: change lighting can't make.

    Both are blurred grey frames (0-255). `_DARK` is added to both so that noise in the
    dark is not blown up by the ratio.
    """
    ratio = np.log(current + _DARK) - np.log(background + _DARK)
    h, w = ratio.shape
    cells = (max(1, w // _LIGHT_CELL), max(1, h // _LIGHT_CELL))
    coarse = cv2.resize(ratio, cells, interpolation=cv2.INTER_AREA)
    smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.asarray(np.abs(ratio - smooth), dtype=np.float32)


def dilate(mask: NDArray[np.uint8], size: int) -> NDArray[np.uint8]:
    """`mask` dilated with a square kernel of `size` (1: unchanged)."""
    if size <= 1:
        return mask
    kernel = np.ones((size, size), np.uint8)
    return np.asarray(cv2.dilate(mask, kernel), dtype=np.uint8)


def regions(mask: NDArray[np.uint8], min_pixels: float) -> tuple[Box, ...]:
    """Bounding boxes (normalised) of the mask's outer contours of at least `min_pixels`."""
    h, w = mask.shape
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for contour in contours:
        if cv2.contourArea(contour) < min_pixels:
            continue
        x, y, bw, bh = cv2.boundingRect(contour)
        boxes.append(Box(x / w, y / h, bw / w, bh / h))
    return tuple(sorted(boxes, key=lambda b: (b.x, b.y)))


def structure_match(
    current: NDArray[np.float32], background: NDArray[np.float32], box: Box
) -> float:
    """Correlation (-1..1) of `current` and `background` inside `box`; 0 on a flat patch.

    A person walking in front of a wall replaces the wall's pattern (low correlation);
    light falling on the wall scales it (high correlation). A flat background patch has
    no pattern to keep, so any change there counts as a change.
    """
    h, w = current.shape
    x0, y0 = max(0, int(box.x * w) - _PAD), max(0, int(box.y * h) - _PAD)
    x1 = min(w, round((box.x + box.w) * w) + _PAD)
    y1 = min(h, round((box.y + box.h) * h) + _PAD)
    a = current[y0:y1, x0:x1].ravel()
    b = background[y0:y1, x0:x1].ravel()
    a = a - float(a.mean())
    b = b - float(b.mean())
    norm = float(np.sqrt(float(np.dot(a, a)) * float(np.dot(b, b))))
    if norm < _FLAT * a.size:
        return 0.0
    return float(np.dot(a, b)) / norm


Track = tuple[Box, int]
"""A small region and for how many analysed frames in a row it (or its nearest
predecessor) has been seen."""


def persist(
    small: Sequence[Box], previous: Sequence[Track], size: tuple[int, int]
) -> tuple[Track, ...]:
    """Each small region with its run length: one more than the longest run it touches.

    `size` is the analysed frame's (width, height); touching means the boxes are at most
    `_TRACK_GAP` pixels apart in both directions.
    """
    w, h = size
    tracks = []
    for box in small:
        run = 1
        for before, length in previous:
            gap_x = max(before.x - (box.x + box.w), box.x - (before.x + before.w)) * w
            gap_y = max(before.y - (box.y + box.h), box.y - (before.y + before.h)) * h
            if gap_x <= _TRACK_GAP + 1e-6 and gap_y <= _TRACK_GAP + 1e-6:
                run = max(run, length + 1)
        tracks.append((box, run))
    return tuple(tracks)


def zone_masks(
    size: tuple[int, int], zones: Sequence[Zone], masks: Sequence[Zone] = ()
) -> dict[str, NDArray[np.uint8]]:
    """One 0/255 mask per zone at `size` (width, height), with the masked areas cut out."""
    w, h = size
    scale = np.array([w - 1, h - 1], dtype=np.float64)
    excluded = np.zeros((h, w), np.uint8)
    for masked in masks:
        cv2.fillPoly(excluded, [np.round(np.array(masked.points) * scale).astype(np.int32)], 255)
    out: dict[str, NDArray[np.uint8]] = {}
    for zone in zones:
        area = np.zeros((h, w), np.uint8)
        cv2.fillPoly(area, [np.round(np.array(zone.points) * scale).astype(np.int32)], 255)
        area[excluded > 0] = 0
        out[zone.name] = area
    return out


@dataclass(slots=True)
class MotionDetector:
    """The pipeline for one camera; `step` takes each analysed frame in turn."""

    params: MotionParams = field(default_factory=MotionParams)
    _size: tuple[int, int] | None = None
    _background: NDArray[np.float32] | None = None
    _zones: dict[str, NDArray[np.uint8]] = field(default_factory=dict)
    _union: NDArray[np.uint8] = field(default_factory=lambda: np.zeros((0, 0), np.uint8))
    _area: int = 0
    _settling: int = 0
    _tracks: tuple[Track, ...] = ()

    def prepare(self, frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """The frame as the small grey image every other step works on (before blur)."""
        grey = to_grey(frame)
        size = analysis_size(grey.shape[1], grey.shape[0], self.params.analysis_width)
        if size != self._size:
            self._resize(size)
        return downscale(grey, size)

    def step(self, small: NDArray[np.uint8]) -> FrameMotion:
        """Motion in `small` (the output of `prepare`) against the background so far."""
        p = self.params
        if (small.shape[1], small.shape[0]) != self._size:
            self._resize((small.shape[1], small.shape[0]))
        raw = np.asarray(cv2.GaussianBlur(small, (p.blur, p.blur), 0), dtype=np.float32)
        background = self._background
        if background is None or background.shape != raw.shape:
            self._reset(raw)
            return FrameMotion(recalibrated=True)
        changed = relative_change(raw, background)
        if self._settling > 0:
            self._settling -= 1
            cv2.accumulateWeighted(raw, background, p.alpha)
            return FrameMotion()
        binary = np.where(changed > p.threshold, np.uint8(255), np.uint8(0))
        binary &= self._union
        # A clipped pixel's change says nothing: its ratio is wherever the sensor ran out.
        saturated = (small >= _CLIPPED) | (background >= _CLIPPED)
        clipped = np.where(saturated, np.uint8(255), np.uint8(0))
        binary[dilate(clipped, p.blur + 2) > 0] = 0
        fraction = float(np.count_nonzero(binary)) / max(1, self._area)
        if fraction >= p.lighting_fraction:
            self._reset(raw)
            return FrameMotion(fraction=fraction, recalibrated=True)
        found = self._moving(raw, background, binary)
        cv2.accumulateWeighted(raw, background, p.alpha)
        if not found:
            return FrameMotion(fraction=fraction)
        hit = tuple(
            name
            for name, zone in self._zones.items()
            if any(_overlaps(zone, box) for box in found) and np.any(binary & zone)
        )
        return FrameMotion(boxes=found, zones=hit, fraction=fraction)

    def reset(self) -> None:
        """Forget the background (the next frame becomes it), e.g. after a reconnect."""
        self._background = None
        self._tracks = ()

    def _moving(
        self,
        raw: NDArray[np.float32],
        background: NDArray[np.float32],
        binary: NDArray[np.uint8],
    ) -> tuple[Box, ...]:
        """The regions that are motion: large ones not merely relit, small ones persisting."""
        p = self.params
        h, w = raw.shape
        found = regions(dilate(binary, p.dilate), p.min_area * h * w)
        small = [box for box in found if box.w * box.h <= p.small_area]
        self._tracks = persist(small, self._tracks, (w, h))
        large = [
            box
            for box in found
            if box.w * box.h > p.small_area
            and structure_match(raw, background, box) < p.relit_match
        ]
        lasting = [box for box, run in self._tracks if run >= p.small_persist]
        return tuple(sorted([*large, *lasting], key=lambda b: (b.x, b.y)))

    def _resize(self, size: tuple[int, int]) -> None:
        self._size = size
        self._zones = zone_masks(size, self.params.zones, self.params.masks)
        union = np.zeros((size[1], size[0]), np.uint8)
        for zone in self._zones.values():
            union |= zone
        self._union = union
        self._area = int(np.count_nonzero(union))
        self._background = None

    def _reset(self, raw: NDArray[np.float32]) -> None:
        self._background = raw.copy()
        self._settling = self.params.calibration_frames
        self._tracks = ()


def _overlaps(zone: NDArray[np.uint8], box: Box) -> bool:
    """Whether any pixel of `zone` lies inside `box`."""
    h, w = zone.shape
    x0, y0 = int(box.x * w), int(box.y * h)
    x1, y1 = max(x0 + 1, round((box.x + box.w) * w)), max(y0 + 1, round((box.y + box.h) * h))
    return bool(np.any(zone[y0:y1, x0:x1]))
