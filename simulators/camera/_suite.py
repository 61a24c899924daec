"""The labelled scene suite the motion harness scores: fixed, seeded, split in two.

Families (each scene built from its family and a seed, nothing else):

- positives, 60 s each: `walkers` (people-sized), `far` (small far figures), `slow`
  (slow movers, 120 s), `busy` (walkers in rain and noise);
- hard negatives, 10 minutes each: `lighting` (brightness steps), `headlights`,
  `ir` (IR cut-filter switching), `rain`, `noise` (heavy sensor noise), `mixed`;
- tamper, 60 s each: `covered`, `knocked`, `defocused`.

The suite was fixed before any threshold was tuned. `Split.TUNING` is what tuning looks
at; `Split.HELD_BACK` uses other seeds and is only ever scored, never tuned on.
"""

from __future__ import annotations

import random
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Final

from simulators.camera._scene import (
    Cover,
    Defocus,
    Effect,
    Headlight,
    IrSwitch,
    Knock,
    Label,
    LabelKind,
    Lighting,
    Rain,
    Scene,
    Walker,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["FAMILIES", "NEGATIVES", "NEGATIVE_S", "POSITIVES", "TAMPERS", "Split", "build", "suite"]

NEGATIVE_S: Final = 600.0
POSITIVES: Final = ("walkers", "far", "slow", "busy")
NEGATIVES: Final = ("lighting", "headlights", "ir", "rain", "noise", "mixed")
TAMPERS: Final = ("covered", "knocked", "defocused")


class Split(StrEnum):
    """Which part of the suite: the one tuning may look at, or the held-back one."""

    TUNING = "tuning"
    HELD_BACK = "held_back"


def _shade(rng: random.Random) -> tuple[int, int, int]:
    """Clothes that stand out from the grey road: dark or light."""
    base = rng.randint(15, 55) if rng.random() < 0.5 else rng.randint(160, 230)
    b, g, r = (max(0, min(255, base + rng.randint(-15, 15))) for _ in range(3))
    return (b, g, r)


def _walk(
    rng: random.Random, start: float, height: tuple[float, float], speed: tuple[float, float]
) -> Walker:
    """A figure crossing the view from one side, entering at `start`."""
    h = rng.uniform(*height)
    v = rng.uniform(*speed)
    y = rng.uniform(0.66, 0.97)
    leftward = rng.random() < 0.5
    x0, x1 = (1.08, -0.08) if leftward else (-0.08, 1.08)
    return Walker(start, start + abs(x1 - x0) / v, x0, x1, y, h, _shade(rng))


def _motion_labels(walkers: tuple[Walker, ...]) -> tuple[Label, ...]:
    labels = []
    for walker in walkers:
        start, end = walker.visible()
        if end > start:
            labels.append(Label(LabelKind.MOTION, start, end))
    return tuple(labels)


def _positives(
    family: str, seed: int, height: tuple[float, float], speed: tuple[float, float], gap: float
) -> Scene:
    rng = random.Random(seed)  # noqa: S311 - seeded scenes, reproducible
    walkers: list[Walker] = []
    t = rng.uniform(3.0, 6.0)
    duration = 60.0 if family != "slow" else 120.0
    while True:
        walker = _walk(rng, t, height, speed)
        if walker.end_s > duration - 1.0:
            break
        walkers.append(walker)
        t = walker.end_s + gap + rng.uniform(0.0, 4.0)
    effects: tuple[Effect, ...] = ()
    noise = rng.uniform(1.0, 4.0)
    if family == "busy":
        effects = (Rain(0.0, duration, rng.uniform(0.001, 0.004)),)
        noise = rng.uniform(4.0, 7.0)
    frozen = tuple(walkers)
    return Scene(
        f"{family}-{seed}", family, seed, duration, noise=noise, walkers=frozen,
        effects=effects, labels=_motion_labels(frozen),
    )  # fmt: skip


def _walkers(seed: int) -> Scene:
    return _positives("walkers", seed, (0.22, 0.45), (0.12, 0.25), 8.0)


def _far(seed: int) -> Scene:
    return _positives("far", seed, (0.06, 0.09), (0.04, 0.09), 8.0)


def _slow(seed: int) -> Scene:
    return _positives("slow", seed, (0.2, 0.35), (0.012, 0.02), 8.0)


def _busy(seed: int) -> Scene:
    return _positives("busy", seed, (0.2, 0.4), (0.1, 0.2), 8.0)


def _repeat(rng: random.Random, every: tuple[float, float]) -> list[float]:
    """Times through a negative scene, `every` seconds apart (uniform)."""
    times, t = [], rng.uniform(*every)
    while t < NEGATIVE_S - 5.0:
        times.append(t)
        t += rng.uniform(*every)
    return times


def _steps(rng: random.Random) -> list[Effect]:
    effects: list[Effect] = []
    level = 1.0
    for t in _repeat(rng, (30.0, 90.0)):
        target = rng.choice([0.45, 0.6, 0.8, 1.25, 1.5, 1.8])
        effects.append(Lighting(t, target / level))
        level = target
    return effects


def _sweeps(rng: random.Random) -> list[Effect]:
    return [
        Headlight(t, rng.uniform(1.5, 4.0), rng.uniform(0.6, 1.5), rng.random() < 0.5)
        for t in _repeat(rng, (20.0, 60.0))
    ]


def _ir(rng: random.Random) -> list[Effect]:
    return [IrSwitch(t, n % 2 == 0) for n, t in enumerate(_repeat(rng, (60.0, 180.0)))]


def _rain(rng: random.Random) -> list[Effect]:
    return [
        Rain(t, t + rng.uniform(30.0, 120.0), rng.uniform(0.002, 0.01))
        for t in _repeat(rng, (60.0, 150.0))
    ]


def _negative(family: str, seed: int) -> Scene:
    rng = random.Random(seed)  # noqa: S311 - seeded scenes, reproducible
    noise = rng.uniform(1.0, 4.0)
    effects: list[Effect]
    match family:
        case "lighting":
            effects = _steps(rng)
        case "headlights":
            effects = _sweeps(rng)
        case "ir":
            effects = _ir(rng)
        case "rain":
            effects = _rain(rng)
        case "noise":
            effects, noise = [], rng.uniform(6.0, 10.0)
        case _:
            effects = _steps(rng) + _sweeps(rng) + _ir(rng) + _rain(rng)
    return Scene(f"{family}-{seed}", family, seed, NEGATIVE_S, noise=noise, effects=tuple(effects))


def _tamper(family: str, seed: int) -> Scene:
    rng = random.Random(seed)  # noqa: S311 - seeded scenes, reproducible
    at = rng.uniform(20.0, 30.0)
    effect: Effect
    match family:
        case "covered":
            end = at + rng.uniform(15.0, 25.0)
            effect, label = Cover(at, end), Label(LabelKind.COVERED, at + 0.6, end)
        case "knocked":
            shift = rng.uniform(0.4, 0.8) * rng.choice([-1, 1])
            effect = Knock(at, shift, rng.uniform(-12.0, 12.0))
            label = Label(LabelKind.TURNED_AWAY, at, 60.0)
        case _:
            effect = Defocus(at, rng.uniform(0.012, 0.025))
            label = Label(LabelKind.DEFOCUSED, at, 60.0)
    noise = rng.uniform(1.0, 4.0)
    return Scene(
        f"{family}-{seed}", family, seed, 60.0, noise=noise, effects=(effect,), labels=(label,)
    )


FAMILIES: Final[dict[str, Callable[[int], Scene]]] = {
    "walkers": _walkers,
    "far": _far,
    "slow": _slow,
    "busy": _busy,
    **{name: partial(_negative, name) for name in NEGATIVES},
    **{name: partial(_tamper, name) for name in TAMPERS},
}
"""Each family's scene builder, by name."""

_COUNTS: Final = {  # scenes per family: (tuning, held back)
    "walkers": (20, 10),
    "far": (20, 10),
    "slow": (12, 6),
    "busy": (12, 6),
    "lighting": (10, 5),
    "headlights": (10, 5),
    "ir": (10, 5),
    "rain": (10, 5),
    "noise": (10, 5),
    "mixed": (10, 5),
    "covered": (10, 5),
    "knocked": (10, 5),
    "defocused": (10, 5),
}
_HELD_BACK_SEED: Final = 1_000_000  # held-back seeds never overlap tuning ones


def build(family: str, seed: int) -> Scene:
    """The scene of `family` with `seed`."""
    if family not in FAMILIES:
        raise ValueError(f"unknown scene family {family!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[family](seed)


def suite(split: Split, *, scale: float = 1.0) -> list[Scene]:
    """Every scene of `split`; `scale` < 1 keeps that share of each family (at least one)."""
    scenes: list[Scene] = []
    for index, (family, counts) in enumerate(_COUNTS.items()):
        count = counts[0] if split is Split.TUNING else counts[1]
        count = max(1, round(count * scale))
        base = (index + 1) * 1000 + (_HELD_BACK_SEED if split is Split.HELD_BACK else 0)
        scenes.extend(build(family, base + i) for i in range(count))
    return scenes
