"""The `camera` subcommand of `shouwang-sim`: serve a labelled scene as MJPEG, or write it."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from pathlib import Path

from simulators.camera._mjpeg import MjpegCamera, labels_json, write_video
from simulators.camera._suite import FAMILIES, build

__all__ = ["add_arguments", "run_from_arguments"]


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    try:
        size = (int(width), int(height))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from exc
    if not (16 <= size[0] <= 1920 and 16 <= size[1] <= 1080):
        raise argparse.ArgumentTypeError(f"size {text} is outside 16x16..1920x1080")
    return size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The subcommand's options."""
    parser.add_argument("--family", choices=sorted(FAMILIES), default="walkers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration-s", type=float, help="cut or extend the scene")
    parser.add_argument("--size", type=_size, default=(640, 360), help="WIDTHxHEIGHT")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--write", type=Path, help="write an MJPG AVI file instead of serving")


async def run_from_arguments(args: argparse.Namespace) -> None:
    """Serve (until cancelled, looping) or write the scene the arguments name."""
    scene = build(args.family, args.seed)
    if args.duration_s is not None:
        scene = dataclasses.replace(scene, duration_s=args.duration_s)
    if args.write is not None:
        count = await asyncio.to_thread(write_video, scene, args.write, args.size)
        print(f"{count} frames of {scene.name} written to {args.write}", flush=True)  # noqa: T201
        print(labels_json(scene), flush=True)  # noqa: T201
        return
    async with MjpegCamera(scene, size=args.size, host=args.host, port=args.port) as camera:
        print(f"{scene.name} on {camera.url}", flush=True)  # noqa: T201 - the tool's output
        print(labels_json(scene), flush=True)  # noqa: T201
        await asyncio.Event().wait()
