"""Tampering seen in the picture: covered, defocused, turned away.

Three measures of the analysed grey frame, each a pure function:

- `contrast` — the standard deviation of the grey levels. A hand, tape or a bag over the
  lens leaves a near-uniform frame whatever the light.
- `sharpness` — the variance of the Laplacian (after a light blur that takes most sensor
  noise out) divided by the variance of the frame: the share of the picture's energy in
  fine detail. Dividing makes it blind to gain (a darker evening is not a blur); a
  defocused lens collapses it. A frame whose contrast rose well above the reference's
  is a lighting change, not a defocus, and is not judged on sharpness.
- `scene_match` — the correlation of the unsigned horizontal and vertical gradients of two
  coarse frames, the worse of the two. Edges of buildings and kerbs stay where they are
  under any lighting (day, night, IR, a headlight) but move when the camera is turned,
  so this compares structure, not light. Regions where something moves are left out.

`TamperMonitor` learns a reference (the scene and its sharpness) while the picture is
healthy, raises a reason once its condition held for `hold_s`, and clears it after
`clear_s` of health. The reference is only refreshed from healthy frames that still
match it, so a camera turned away never teaches itself its new view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final

import cv2
import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from agent.drivers.camera._motion import Box

__all__ = [
    "TamperCleared",
    "TamperMonitor",
    "TamperParams",
    "TamperRaised",
    "TamperReason",
    "contrast",
    "edge_map",
    "moving_cells",
    "scene_match",
    "sharpness",
]

_LIGHT_CHANGE: Final = 1.5  # contrast ratio past which the light, not the focus, changed
_MAX_IGNORED: Final = 0.3
_EDGE_WIDTH: Final = 48  # coarse enough that people and noise barely move the edge map


class TamperReason(StrEnum):
    """Why the picture is not to be trusted (`alarm.tamper`'s `reason`)."""

    COVERED = "covered"
    DEFOCUSED = "defocused"
    TURNED_AWAY = "turned_away"


@dataclass(frozen=True, slots=True)
class TamperParams:
    """When a picture counts as tampered with."""

    covered_contrast: float = 8.0
    """Grey-level standard deviation under which the lens counts as covered."""
    defocus_ratio: float = 0.3
    """Sharpness below this share of the reference's counts as defocused."""
    min_match: float = 0.4
    """Scene match with the reference below this counts as turned away."""
    refresh_match: float = 0.7
    """Healthy frames matching at least this well refresh the reference."""
    refresh_rate: float = 0.02
    """How much of each refreshing frame goes into the reference."""
    warmup_s: float = 2.0
    """Seconds of frames before the first reference is taken."""
    hold_s: float = 4.0
    """How long a condition must last before `alarm.tamper`."""
    clear_s: float = 4.0
    """How long the picture must be healthy again before `alarm.restore`."""

    def __post_init__(self) -> None:
        if not 0.0 < self.defocus_ratio < 1.0 or not -1.0 < self.min_match < self.refresh_match:
            msg = "need 0 < defocus_ratio < 1 and -1 < min_match < refresh_match"
            raise ValueError(msg)
        if not 0.0 < self.refresh_rate <= 1.0:
            raise ValueError(f"refresh_rate must be in (0, 1], got {self.refresh_rate}")
        if min(self.covered_contrast, self.warmup_s, self.hold_s, self.clear_s) < 0.0:
            msg = "covered_contrast, warmup_s, hold_s and clear_s must be >= 0"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class TamperRaised:
    """`alarm.tamper`: the reason, when it was raised and since when it held."""

    at: float
    reason: TamperReason
    since: float


@dataclass(frozen=True, slots=True)
class TamperCleared:
    """`alarm.restore`: the reason that cleared and how long the tamper lasted."""

    at: float
    reason: TamperReason
    duration_s: float


def contrast(grey: NDArray[np.uint8]) -> float:
    """Standard deviation of the grey levels."""
    return float(np.std(grey))


def sharpness(grey: NDArray[np.uint8]) -> float:
    """Variance of the Laplacian over the variance of the frame (0 for a flat frame)."""
    variance = float(np.var(grey))
    if variance < 1e-6:
        return 0.0
    # A light blur first: sensor noise is fine detail too, and must not pass for focus.
    laplacian = cv2.Laplacian(cv2.GaussianBlur(grey, (3, 3), 0), cv2.CV_32F)
    return float(np.var(laplacian)) / variance


def edge_map(grey: NDArray[np.uint8]) -> NDArray[np.float32]:
    """|horizontal| and |vertical| gradients of a coarse, blurred copy (shape 2 x h x w).

    Kept apart because a camera panned along a street keeps its horizontal lines (kerb,
    roofs) where they were while every vertical one moves, and tilted the other way round;
    kept unsigned because light can turn a dark-on-bright edge into a bright-on-dark one
    (an IR cut-filter does) without moving it.
    """
    h, w = grey.shape
    size = (_EDGE_WIDTH, max(4, round(h * _EDGE_WIDTH / w)))
    coarse = cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    small = cv2.GaussianBlur(coarse, (3, 3), 0)
    gx = np.abs(cv2.Sobel(small, cv2.CV_32F, 1, 0))
    gy = np.abs(cv2.Sobel(small, cv2.CV_32F, 0, 1))
    return np.stack([gx, gy]).astype(np.float32)


def scene_match(
    reference: NDArray[np.float32],
    current: NDArray[np.float32],
    ignore: NDArray[np.bool_] | None = None,
) -> float:
    """How well two edge maps agree (-1..1): the lower of the two directions' correlation.

    `ignore` (h x w, true where something moves) leaves those cells out, so a person
    close to the lens does not pass for a camera turned away. 0 when a map has no
    structure.
    """
    worst = 1.0
    for ref, cur in zip(reference, current, strict=True):
        a, b = (ref, cur) if ignore is None else (ref[~ignore], cur[~ignore])
        a = a.ravel() - float(a.mean()) if a.size else a
        b = b.ravel() - float(b.mean()) if b.size else b
        norm = float(np.sqrt(float(np.dot(a, a)) * float(np.dot(b, b))))
        if norm < 1e-6:
            return 0.0
        worst = min(worst, float(np.dot(a, b)) / norm)
    return worst


def moving_cells(boxes: tuple[Box, ...], shape: tuple[int, ...]) -> NDArray[np.bool_] | None:
    """The cells of an edge map (shape 2 x h x w) under any of `boxes`, or None for none.

    None too when they cover more than `_MAX_IGNORED` of the map: "motion" that large is
    more likely the new view of a camera turned away, which must not hide itself.
    """
    if not boxes:
        return None
    h, w = shape[-2], shape[-1]
    cells = np.zeros((h, w), np.bool_)
    for box in boxes:
        x0, y0 = int(box.x * w), int(box.y * h)
        x1, y1 = int(np.ceil((box.x + box.w) * w)), int(np.ceil((box.y + box.h) * h))
        cells[max(0, y0 - 1) : y1 + 1, max(0, x0 - 1) : x1 + 1] = True
    if np.count_nonzero(cells) > _MAX_IGNORED * cells.size:
        return None
    return cells


@dataclass(slots=True)
class TamperMonitor:
    """The tamper state of one camera; `step` takes each analysed grey frame and its time."""

    params: TamperParams = field(default_factory=TamperParams)
    raised: TamperReason | None = None
    """The reason currently raised, if any."""
    last_match: float = 1.0
    _first: float | None = None
    _edges: NDArray[np.float32] | None = None
    _sharpness: float = 0.0
    _pending: TamperReason | None = None
    _pending_since: float = 0.0
    _raised_at: float = 0.0
    _healthy_since: float | None = None
    _now_edges: NDArray[np.float32] | None = None
    _now_sharpness: float = 0.0
    _now_contrast: float = 0.0
    _contrast: float = 0.0

    def condition(
        self, grey: NDArray[np.uint8], moving: tuple[Box, ...] = ()
    ) -> TamperReason | None:
        """What is wrong with `grey` against the reference (None before there is one).

        `moving` are the regions where the motion detector sees something move: left out
        of the scene match.
        """
        p = self.params
        self._now_contrast = contrast(grey)
        if self._now_contrast < p.covered_contrast:
            return TamperReason.COVERED
        self._now_sharpness = sharpness(grey)
        self._now_edges = edge_map(grey)
        if self._edges is None:
            return None
        if self._now_sharpness < p.defocus_ratio * self._sharpness and _same_light(
            self._now_contrast, self._contrast
        ):
            return TamperReason.DEFOCUSED
        ignore = moving_cells(moving, self._edges.shape)
        self.last_match = scene_match(self._edges, self._now_edges, ignore)
        if self.last_match < p.min_match:
            return TamperReason.TURNED_AWAY
        return None

    def step(
        self, grey: NDArray[np.uint8], now: float, moving: tuple[Box, ...] = ()
    ) -> TamperRaised | TamperCleared | None:
        """The tamper event this frame causes, if any (`moving`: see `condition`)."""
        p = self.params
        if self._first is None:
            self._first = now
        reason = self.condition(grey, moving)
        if reason is None:
            self._learn(now)
            self._pending = None
            return self._maybe_clear(now)
        self._healthy_since = None
        if self.raised is not None:
            return None
        if reason != self._pending:
            self._pending, self._pending_since = reason, now
        if now - self._pending_since >= p.hold_s:
            self.raised, self._raised_at = reason, now
            return TamperRaised(now, reason, self._pending_since)
        return None

    def _maybe_clear(self, now: float) -> TamperCleared | None:
        if self.raised is None:
            return None
        if self._healthy_since is None:
            self._healthy_since = now
        if now - self._healthy_since < self.params.clear_s:
            return None
        reason, self.raised = self.raised, None
        return TamperCleared(now, reason, now - self._raised_at)

    def _learn(self, now: float) -> None:
        p = self.params
        edges = self._now_edges
        if edges is None:
            return
        if self._edges is None:
            if self._first is not None and now - self._first >= p.warmup_s:
                self._edges, self._sharpness = edges, self._now_sharpness
                self._contrast = self._now_contrast
            return
        if self.raised is None and self.last_match >= p.refresh_match:
            rate = p.refresh_rate
            self._edges = np.asarray((1.0 - rate) * self._edges + rate * edges, dtype=np.float32)
            self._sharpness = (1.0 - rate) * self._sharpness + rate * self._now_sharpness
            self._contrast = (1.0 - rate) * self._contrast + rate * self._now_contrast


def _same_light(now: float, reference: float) -> bool:
    """Whether the contrast did not jump above the reference's.

    More light raises the contrast over a fixed sensor noise, so the noise's share of the
    fine detail falls and the sharpness with it: that is no defocus (a defocus only ever
    lowers the contrast), and the reference is relearnt from the new light.
    """
    return now <= reference * _LIGHT_CHANGE
