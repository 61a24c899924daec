"""Synthetic camera scenes with ground truth: what is in them, and their frames.

A `Scene` is data: a seeded street (a panorama wider than the view), the things that move
through it and the effects on the picture, each at given times, plus the `Label`s a
detector is judged against. `render` turns it into frames (BGR, `uint8`), the same
frames for the same scene every time, at any resolution: every position and size is a
fraction of the view.

Objects: walkers (people-sized, or small far figures, or slow movers) crossing on a line.
Effects (hard negatives unless labelled): a global brightness step, a headlight sweep (a
broad moving pool of light), the IR cut-filter switching to a grey noisy picture and back,
rain-like speckle, sensor noise, a hand covering the lens (label `covered`), the camera
knocked to a new view (label `turned_away`), the lens defocused (label `defocused`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final

import cv2
import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterator

    from numpy.typing import NDArray

__all__ = [
    "Cover",
    "Defocus",
    "Effect",
    "Headlight",
    "IrSwitch",
    "Knock",
    "Label",
    "LabelKind",
    "Lighting",
    "Rain",
    "Scene",
    "Walker",
    "render",
]

MAX_PIXELS: Final = 1920 * 1080
_NOISE_BANK: Final = 8  # pre-drawn noise frames, picked at random: drawing per frame is slow
_PANORAMA: Final = 2.0  # panorama width in view widths: room to be knocked to a new view


class LabelKind(StrEnum):
    """What a label says is happening."""

    MOTION = "motion"
    COVERED = "covered"
    TURNED_AWAY = "turned_away"
    DEFOCUSED = "defocused"


@dataclass(frozen=True, slots=True)
class Label:
    """Ground truth: `kind` holds from `start_s` to `end_s` (seconds into the scene)."""

    kind: LabelKind
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Walker:
    """A figure whose feet go from (x0, y) to (x1, y) between `start_s` and `end_s`."""

    start_s: float
    end_s: float
    x0: float
    x1: float
    y: float
    height: float
    """Figure height as a fraction of the view's height."""
    shade: tuple[int, int, int]

    def at(self, t: float) -> tuple[float, float] | None:
        """Feet position at `t`, or None outside its walk."""
        if not self.start_s <= t <= self.end_s:
            return None
        f = (t - self.start_s) / (self.end_s - self.start_s)
        return self.x0 + f * (self.x1 - self.x0), self.y

    def visible(self) -> tuple[float, float]:
        """When the feet are inside the view, so at least half the figure shows (its label).

        A walk that never enters the view gives an empty interval at its start.
        """
        a, b = sorted((self.x0, self.x1))
        lo, hi = max(a, 0.0), min(b, 1.0)
        if hi <= lo or self.x0 == self.x1:
            return (self.start_s, self.start_s)
        speed = (self.x1 - self.x0) / (self.end_s - self.start_s)
        t_lo = self.start_s + ((lo if speed > 0 else hi) - self.x0) / speed
        t_hi = self.start_s + ((hi if speed > 0 else lo) - self.x0) / speed
        return (t_lo, t_hi)


@dataclass(frozen=True, slots=True)
class Lighting:
    """From `at_s`, the picture's gain is multiplied by `gain` (lights, clouds, exposure)."""

    at_s: float
    gain: float


@dataclass(frozen=True, slots=True)
class Headlight:
    """A broad pool of light sweeping across the view from `start_s` for `duration_s`."""

    start_s: float
    duration_s: float
    strength: float
    leftward: bool = False


@dataclass(frozen=True, slots=True)
class IrSwitch:
    """From `at_s` the camera is in IR night mode (grey, other reflectances, noisy) or not."""

    at_s: float
    on: bool


@dataclass(frozen=True, slots=True)
class Rain:
    """Bright speckle (drops lit by a lamp) from `start_s` to `end_s`, per-frame random."""

    start_s: float
    end_s: float
    density: float
    """Drops per pixel per frame."""


@dataclass(frozen=True, slots=True)
class Cover:
    """A hand over the lens from `start_s` (closing over 0.6 s) until `end_s`."""

    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Knock:
    """From `at_s` the camera looks elsewhere: the view moved by `shift` view widths."""

    at_s: float
    shift: float
    tilt_deg: float


@dataclass(frozen=True, slots=True)
class Defocus:
    """From `at_s` the lens is out of focus (a Gaussian blur of `sigma` view heights)."""

    at_s: float
    sigma: float


Effect = Lighting | Headlight | IrSwitch | Rain | Cover | Knock | Defocus


@dataclass(frozen=True, slots=True)
class Scene:
    """One labelled scene: a seeded street, walkers, effects, labels and its timing."""

    name: str
    family: str
    seed: int
    duration_s: float
    fps: float = 5.0
    noise: float = 2.0
    """Sensor noise: standard deviation in grey levels."""
    walkers: tuple[Walker, ...] = ()
    effects: tuple[Effect, ...] = ()
    labels: tuple[Label, ...] = field(default=())

    @property
    def frames(self) -> int:
        """How many frames the scene has."""
        return int(self.duration_s * self.fps)

    @property
    def positive(self) -> bool:
        """Whether it has motion to find."""
        return any(label.kind is LabelKind.MOTION for label in self.labels)


def _panorama(seed: int, width: int, height: int) -> NDArray[np.uint8]:
    """A street: sky, buildings with windows, a kerb, a textured road. Seeded."""
    rng = np.random.default_rng(seed)
    w = int(width * _PANORAMA)
    image = np.zeros((height, w, 3), np.float32)
    sky = np.linspace(200, 150, height // 3, dtype=np.float32)[:, None, None]
    image[: height // 3] = sky * np.array([1.0, 0.95, 0.85], np.float32)
    image[height // 3 :] = np.array([90, 95, 100], np.float32)
    x = 0
    while x < w:
        bw = int(rng.integers(width // 10, width // 4))
        top = int(rng.integers(height // 10, height // 2))
        colour = rng.integers(60, 200, 3).astype(np.float32)
        image[top : int(height * 0.62), x : x + bw] = colour
        for wy in range(top + 6, int(height * 0.58), max(6, height // 18)):
            for wx in range(x + 4, x + bw - 6, max(8, width // 30)):
                lit = rng.random() < 0.4
                shade = 230.0 if lit else 40.0
                image[wy : wy + max(2, height // 40), wx : wx + max(3, width // 80)] = shade
        x += bw + int(rng.integers(0, width // 20))
    image[int(height * 0.62) : int(height * 0.64)] = 170.0  # the kerb
    texture = cv2.GaussianBlur(rng.normal(0.0, 18.0, (height, w)).astype(np.float32), (0, 0), 1.5)
    image += texture[:, :, None]
    return np.clip(image, 0, 255).astype(np.uint8)


@dataclass(slots=True)
class _State:
    """What the effects amount to at one instant."""

    gain: float = 1.0
    shift: float = 0.0
    tilt: float = 0.0
    ir: bool = False
    rain: float = 0.0
    cover: float = 0.0
    blur: float = 0.0
    light: tuple[float, float] | None = None  # headlight centre (view widths) and strength


def _state(scene: Scene, t: float) -> _State:
    state = _State()
    for effect in scene.effects:
        match effect:
            case Lighting(at_s=at, gain=gain) if t >= at:
                state.gain *= gain
            case Headlight(start_s=s, duration_s=d, strength=k, leftward=left) if s <= t <= s + d:
                f = (t - s) / d
                state.light = ((1.0 - f if left else f) * 2.0 - 0.5, k)
            case IrSwitch(at_s=at, on=on) if t >= at:
                state.ir = on
            case Rain(start_s=s, end_s=e, density=density) if s <= t < e:
                state.rain = density
            case Cover(start_s=s, end_s=e) if s <= t < e:
                state.cover = min(1.0, (t - s) / 0.6)
            case Knock(at_s=at, shift=shift, tilt_deg=tilt) if t >= at:
                state.shift, state.tilt = shift, tilt
            case Defocus(at_s=at, sigma=sigma) if t >= at:
                state.blur = sigma
            case _:
                pass
    return state


def render(scene: Scene, width: int, height: int) -> Iterator[NDArray[np.uint8]]:
    """Every frame of `scene` at `width` by `height`, BGR."""
    if not (width >= 16 and height >= 16 and width * height <= MAX_PIXELS):
        raise ValueError(f"frame size {width}x{height} is outside 16x16..{MAX_PIXELS} pixels")
    panorama = _panorama(scene.seed, width, height)
    rng = np.random.default_rng(scene.seed + 1)
    bank = rng.normal(0.0, 1.0, (_NOISE_BANK, height, width, 1)).astype(np.float32)
    columns = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    hand = _hand(scene.seed, width, height)
    for n in range(scene.frames):
        t = n / scene.fps
        s = _state(scene, t)
        view = _view(panorama, width, height, s).astype(np.float32)
        for walker in scene.walkers:
            feet = walker.at(t)
            if feet is not None:
                _draw_walker(view, walker, feet)
        gain = np.float32(s.gain)
        if s.light is not None:
            centre, strength = s.light
            pool = strength * np.exp(-((columns - centre) ** 2) / (2 * 0.35**2))
            view *= (gain * (1.0 + pool))[:, :, None]
        else:
            view *= gain
        noise = scene.noise
        if s.ir:
            grey = view[:, :, 2] * 0.55 + view[:, :, 1] * 0.35 + view[:, :, 0] * 0.1
            view[:] = (grey * 0.8 + 30.0)[:, :, None]
            noise = max(noise, 6.0)
        if s.cover > 0.0:
            view = view * (1.0 - s.cover * hand[1]) + s.cover * hand[1] * hand[0]
        if s.blur > 0.0:
            view = np.asarray(cv2.GaussianBlur(view, (0, 0), s.blur * height), np.float32)
        if s.rain > 0.0:
            drops = rng.random((height, width)) < s.rain
            view[drops] = 235.0
        view += bank[int(rng.integers(_NOISE_BANK))] * np.float32(noise)
        yield np.clip(view, 0, 255).astype(np.uint8)


def _view(panorama: NDArray[np.uint8], width: int, height: int, s: _State) -> NDArray[np.uint8]:
    x = round((0.25 + s.shift) * width) % (panorama.shape[1] - width)
    view = panorama[:, x : x + width]
    if s.tilt:
        m = cv2.getRotationMatrix2D((width / 2, height / 2), s.tilt, 1.15)
        turned = cv2.warpAffine(view, m, (width, height), borderMode=cv2.BORDER_REFLECT)
        return np.asarray(turned, np.uint8)
    return np.ascontiguousarray(view)


def _draw_walker(view: NDArray[np.float32], walker: Walker, feet: tuple[float, float]) -> None:
    height, width = view.shape[:2]
    h = walker.height * height
    cx, cy = feet[0] * width, feet[1] * height
    body = (round(cx), round(cy - 0.42 * h))
    axes = (max(1, round(0.18 * h)), max(1, round(0.36 * h)))
    colour = tuple(float(c) for c in walker.shade)
    cv2.ellipse(view, body, axes, 0, 0, 360, colour, -1)
    head = (round(cx), round(cy - 0.88 * h))
    cv2.circle(view, head, max(1, round(0.11 * h)), colour, -1)


def _hand(seed: int, width: int, height: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """A hand over the lens: its dark, nearly flat colour, and how much it covers each pixel."""
    rng = np.random.default_rng(seed + 2)
    skin = np.array([40, 50, 70], np.float32) * float(rng.uniform(0.5, 1.2))
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    shade = skin[None, None, :] * (1.0 + 0.1 * ys[:, :, None])
    colour = np.broadcast_to(shade, (height, width, 3)).astype(np.float32)
    cover = np.ones((height, width, 1), np.float32)
    corner = int(rng.integers(0, 4))
    leak = math.hypot(width, height) * 0.15  # light leaking at one corner
    yy, xx = np.mgrid[0:height, 0:width]
    cx, cy = (0 if corner % 2 == 0 else width), (0 if corner < 2 else height)
    dist = np.hypot(xx - cx, yy - cy).astype(np.float32)
    cover[:, :, 0] = np.clip(dist / leak, 0.85, 1.0)
    return colour, cover
