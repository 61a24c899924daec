"""Quality of the camera motion and tamper detectors on the labelled scene suite.

Runs the agent's detectors (`MotionDetector` → `MotionTracker`, `TamperMonitor`) frame by
frame, as fast as the CPU allows (scene time comes from the frame number, not a clock),
over the seeded suite of `simulators.camera` and scores them against the labels:

- positives: event-level recall (a label is found when an event overlaps it), precision
  (events overlapping a label, within 1 s before it and the off-delay after it, over all
  events of positive scenes), onset latency (event start minus the moment at least half
  the figure is in view; 0 when it fired earlier);
- hard negatives: false events per camera-hour (every event there is false);
- tamper: detection delay of the right reason after the label starts, share detected
  within 10 s; tamper alarms raised on positives and negatives (all false).

Both splits are scored and reported separately; tuning looks at `tuning` only.

Run: `.venv/bin/python bench/bench_motion.py [--split tuning|held_back|both] [--scale 1]
[--size 320x180] [--set name=value ...] [--json FILE]`. `--ci` scores a short subset
(one scene per family, 60 s negatives) and exits 1 when it misses the targets.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.drivers.camera import (
    ActivityParams,
    MotionDetector,
    MotionParams,
    MotionStarted,
    MotionStopped,
    MotionTracker,
    TamperMonitor,
    TamperParams,
    TamperRaised,
)
from simulators.camera import NEGATIVES, POSITIVES, TAMPERS, LabelKind, Scene, Split, render, suite

_REASONS = {
    LabelKind.COVERED: "covered",
    LabelKind.TURNED_AWAY: "turned_away",
    LabelKind.DEFOCUSED: "defocused",
}
TAMPER_DEADLINE_S = 10.0


@dataclass(frozen=True)
class Params:
    """Every detector parameter the harness runs with."""

    motion: MotionParams = field(default_factory=MotionParams)
    activity: ActivityParams = field(default_factory=ActivityParams)
    tamper: TamperParams = field(default_factory=TamperParams)


@dataclass(frozen=True)
class Run:
    """What the detectors did over one scene."""

    scene: Scene
    events: tuple[tuple[float, float], ...]  # (start, stop) in scene seconds
    tampers: tuple[tuple[float, str], ...]  # (raised at, reason)
    frames: int
    seconds: float  # CPU wall time for the scene (render + detect)


def run_scene(job: tuple[Scene, Params, tuple[int, int]]) -> Run:
    """Run the detectors over every frame of one scene."""
    scene, params, (width, height) = job
    started = time.perf_counter()
    detector = MotionDetector(params.motion)
    tracker = MotionTracker(params.activity)
    monitor = TamperMonitor(params.tamper)
    events: list[tuple[float, float]] = []
    tampers: list[tuple[float, str]] = []
    start: float | None = None
    n = 0
    for n, frame in enumerate(render(scene, width, height)):
        now = n / scene.fps
        small = detector.prepare(frame)
        motion = detector.step(small)
        event = tracker.step(motion, now)
        if isinstance(event, MotionStarted):
            start = event.at
        elif isinstance(event, MotionStopped) and start is not None:
            events.append((start, event.at))
            start = None
        alarm = monitor.step(small, now, motion.boxes)
        if isinstance(alarm, TamperRaised):
            tampers.append((alarm.at, alarm.reason.value))
    if start is not None:
        events.append((start, scene.duration_s))
    return Run(scene, tuple(events), tuple(tampers), n + 1, time.perf_counter() - started)


def _recall(run: Run, off_delay: float) -> tuple[int, int, list[float], int]:
    """Labels found, labels, onsets of found ones, events matching a label."""
    labels = [label for label in run.scene.labels if label.kind is LabelKind.MOTION]
    found, onsets = 0, []
    for label in labels:
        hits = [s for s, e in run.events if s <= label.end_s and e >= label.start_s - 1.0]
        if hits:
            found += 1
            onsets.append(max(0.0, hits[0] - label.start_s))
    matched = sum(
        1
        for s, e in run.events
        if any(s <= label.end_s + off_delay + 1.0 and e >= label.start_s - 1.0 for label in labels)
    )
    return found, len(labels), onsets, matched


def score(runs: list[Run], params: Params) -> dict[str, Any]:
    """The figures for one split."""
    off_delay = params.activity.off_delay_s
    found = total = matched = events = 0
    onsets: list[float] = []
    per_family: dict[str, dict[str, Any]] = {}
    for run in runs:
        family = per_family.setdefault(
            run.scene.family, {"scenes": 0, "events": 0, "hours": 0.0, "tamper_alarms": 0}
        )
        family["scenes"] += 1
        family["events"] += len(run.events)
        family["hours"] += run.scene.duration_s / 3600.0
        if run.scene.family in POSITIVES:
            f, t, o, m = _recall(run, off_delay)
            found, total, matched, events = (
                found + f,
                total + t,
                matched + m,
                events + len(run.events),
            )
            onsets += o
            family.setdefault("found", 0)
            family.setdefault("labels", 0)
            family.setdefault("onsets", [])
            family["found"] += f
            family["labels"] += t
            family["onsets"] += o
        if run.scene.family not in TAMPERS:
            family["tamper_alarms"] += len(run.tampers)
    neg_runs = [r for r in runs if r.scene.family in NEGATIVES]
    neg_hours = sum(r.scene.duration_s for r in neg_runs) / 3600.0
    neg_events = sum(len(r.events) for r in neg_runs)
    tamper: dict[str, dict[str, Any]] = {}
    for run in runs:
        if run.scene.family not in TAMPERS:
            continue
        label = run.scene.labels[0]
        want = _REASONS[label.kind]
        delays = [at - label.start_s for at, reason in run.tampers if reason == want]
        entry = tamper.setdefault(run.scene.family, {"scenes": 0, "in_time": 0, "delays": []})
        entry["scenes"] += 1
        if delays and 0.0 <= delays[0] <= TAMPER_DEADLINE_S:
            entry["in_time"] += 1
        if delays:
            entry["delays"].append(delays[0])
        entry["false_before"] = entry.get("false_before", 0) + sum(
            1 for at, _ in run.tampers if at < label.start_s
        )
    for entry in [*per_family.values(), *tamper.values()]:
        for key in ("onsets", "delays"):
            if key in entry:
                entry[key] = _spread(entry[key])
    frames = sum(r.frames for r in runs)
    cpu = sum(r.seconds for r in runs)
    return {
        "recall": found / total if total else None,
        "labels": total,
        "precision": matched / events if events else None,
        "events_on_positives": events,
        "onset": _spread(onsets),
        "negative_hours": neg_hours,
        "negative_events": neg_events,
        "false_per_hour": neg_events / neg_hours if neg_hours else None,
        "lighting_tamper_alarms": sum(len(r.tampers) for r in neg_runs),
        "positive_tamper_alarms": sum(len(r.tampers) for r in runs if r.scene.family in POSITIVES),
        "tamper": tamper,
        "families": per_family,
        "frames": frames,
        "frames_per_s": frames / cpu if cpu else None,
    }


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p95": None, "max": None}
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 3),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
        "max": round(ordered[-1], 3),
    }


def meets_targets(figures: dict[str, Any]) -> list[str]:
    """The targets the figures miss (empty: all met)."""
    misses = []
    if figures["recall"] is None or figures["recall"] < 0.95:
        misses.append(f"recall {figures['recall']} < 0.95")
    if figures["false_per_hour"] is not None and figures["false_per_hour"] > 1.0:
        misses.append(f"{figures['false_per_hour']:.2f} false events per camera-hour > 1")
    misses.extend(
        f"{spread} onset {figures['onset'][spread]} s > 1 s"
        for spread in ("median", "p95")
        if (figures["onset"][spread] or 0.0) > 1.0
    )
    for name, entry in figures["tamper"].items():
        if name in ("covered", "knocked") and entry["in_time"] < entry["scenes"]:
            misses.append(f"{name}: {entry['in_time']}/{entry['scenes']} within 10 s")
    if figures["lighting_tamper_alarms"]:
        misses.append(f"{figures['lighting_tamper_alarms']} tamper alarms on lighting negatives")
    return misses


def with_settings(params: Params, settings: list[str]) -> Params:
    """`params` with each `name=value` applied to whichever parameter set has `name`."""
    for setting in settings:
        name, _, raw = setting.partition("=")
        for part in ("motion", "activity", "tamper"):
            current = getattr(params, part)
            if name in {f.name for f in dataclasses.fields(current)}:
                kind = type(getattr(current, name))
                value = (raw.lower() == "true") if kind is bool else kind(raw)
                params = dataclasses.replace(
                    params, **{part: dataclasses.replace(current, **{name: value})}
                )
                break
        else:
            raise SystemExit(f"unknown parameter {name!r}")
    return params


def evaluate(scenes: list[Scene], params: Params, size: tuple[int, int], workers: int) -> list[Run]:
    """Every scene's run, on `workers` processes."""
    jobs = [(scene, params, size) for scene in scenes]
    if workers <= 1:
        return [run_scene(job) for job in jobs]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return list(pool.imap_unordered(run_scene, jobs, chunksize=1))


def ci_scenes(split: Split) -> list[Scene]:
    """One scene per family, negatives cut to 60 s: the subset CI runs."""
    scenes = suite(split, scale=0.0)
    return [dataclasses.replace(s, duration_s=min(s.duration_s, 60.0)) for s in scenes]


def table(name: str, figures: dict[str, Any]) -> str:
    """The figures of one split as Markdown rows."""
    t = figures["tamper"]

    def delay(family: str) -> str:
        entry = t.get(family)
        if not entry:
            return "-"
        delays = entry["delays"]
        within = f"{entry['in_time']}/{entry['scenes']} in 10 s"
        return f"{within}, median {delays['median']} s, max {delays['max']} s"

    onset = figures["onset"]
    hours = f"{figures['negative_events']} in {figures['negative_hours']:.1f} h"
    false_events = f"{figures['false_per_hour']:.2f} ({hours})"
    rows = [
        ("recall (events)", f"{figures['recall']:.3f} ({figures['labels']} labels)"),
        (
            "precision (events on positives)",
            f"{figures['precision']:.3f} ({figures['events_on_positives']} events)",
        ),
        (
            "onset latency median / p95 / max",
            f"{onset['median']} / {onset['p95']} / {onset['max']} s",
        ),
        (
            "false events per camera-hour (hard negatives)",
            false_events,
        ),
        ("covered detected", delay("covered")),
        ("knocked (turned away) detected", delay("knocked")),
        ("defocused detected", delay("defocused")),
        (
            "tamper alarms on lighting negatives / positives",
            f"{figures['lighting_tamper_alarms']} / {figures['positive_tamper_alarms']}",
        ),
    ]
    return "\n".join(f"| {name} | {what} | {value} |" for what, value in rows)


def main(argv: list[str] | None = None) -> int:
    """Score the suite and print the table (and JSON when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=["tuning", "held_back", "both"], default="both")
    parser.add_argument("--scale", type=float, default=1.0, help="share of each family's scenes")
    parser.add_argument("--size", default="320x180", help="frame size rendered, WxH")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--ci", action="store_true", help="the short CI subset; exit 1 on a miss")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    params = with_settings(Params(), args.set)
    splits = [Split.TUNING, Split.HELD_BACK] if args.split == "both" else [Split(args.split)]
    results: dict[str, Any] = {"size": args.size, "params": dataclasses.asdict(params)}
    misses: list[str] = []
    for split in splits:
        scenes = ci_scenes(split) if args.ci else suite(split, scale=args.scale)
        begun = time.perf_counter()
        runs = evaluate(scenes, params, (width, height), args.workers)
        figures = score(runs, params)
        figures["wall_s"] = round(time.perf_counter() - begun, 1)
        results[split.value] = figures
        print(table(split.value, figures))
        print(
            f"# {split.value}: {figures['frames']} frames in {figures['wall_s']} s", file=sys.stderr
        )
        misses += [f"{split.value}: {miss}" for miss in meets_targets(figures)]
    for miss in misses:
        print(f"MISS {miss}", file=sys.stderr)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 1 if args.ci and misses else 0


if __name__ == "__main__":
    sys.exit(main())
