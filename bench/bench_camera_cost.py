"""Cost of the camera driver: CPU per 640x360 MJPEG stream at 5 fps, drops, and memory.

The simulated cameras (`simulators.camera.MjpegCamera`, pre-encoded JPEGs of a walker
scene, looping) run in a child process: their CPU is not the agent's. The parent runs
two phases over the same `--streams` cameras for `--seconds` each, measuring its own CPU
time (`time.process_time()`, every thread):

1. **decode only**: each camera's `FrameSource` (the reading thread: grab, decode at 5 fps)
   and a loop that takes the frames and does nothing with them: the bare cost of getting
   the pictures;
2. **driver**: the real `Cameras` driver (reading threads, analysis tasks, motion and
   tamper detection, events into a real outbox, snapshots into a spool).

It reports per phase the CPU as a share of one core, the frames analysed against those
the cameras sent (drops), and the process's peak RSS (`VmHWM`) after the driver phase;
then the overhead (driver / decode-only) and the streams one core sustains at that cost.

Run: `.venv/bin/python bench/bench_camera_cost.py [--streams 22] [--seconds 20]
[--json FILE]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import AgentConfig, Outbox
from agent.drivers.camera import Cameras, FrameSource, SnapshotSpool
from simulators.camera import MjpegCamera, build

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

FPS = 5.0
SIZE = (640, 360)


def serve(count: int, pipe: Connection) -> None:
    """Child: `count` looping MJPEG cameras; sends their URLs, runs until the pipe closes."""

    async def main() -> None:
        async with AsyncExitStack() as stack:
            cameras = []
            for n in range(count):
                scene = build("walkers", 7000 + n)
                camera = MjpegCamera(scene, size=SIZE, loop=True)
                cameras.append(await stack.enter_async_context(camera))
            pipe.send([c.url for c in cameras])
            await asyncio.to_thread(pipe.recv)  # anything, or EOF: stop
            pipe.send(sum(c.frames_sent for c in cameras))

    asyncio.run(main())


def config(urls: list[str], directory: Path) -> AgentConfig:
    """An agent config with one camera per URL."""
    devices = [f"cam-{n:03d}" for n in range(len(urls))]
    return AgentConfig.model_validate(
        {
            "site": "bench",
            "mqtt": {"host": "127.0.0.1"},
            "outbox": {"path": str(directory / "outbox.sqlite3")},
            "canary": {"enabled": False},
            "camera": {
                "cameras": [
                    {"device": d, "url": u, "fps": FPS} for d, u in zip(devices, urls, strict=True)
                ],
                "snapshot_dir": str(directory / "snapshots"),
            },
            "devices": [
                {"id": d, "kind": "camera", "driver": "camera", "checkin_s": 60} for d in devices
            ],
        }
    )


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident set size of this process, in MiB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


async def decode_only(cfg: AgentConfig, seconds: float) -> dict[str, Any]:
    """Phase 1: the reading threads, frames taken and dropped on the floor."""
    if cfg.camera is None:
        msg = "no camera section"
        raise SystemExit(msg)
    sources = [FrameSource(camera) for camera in cfg.camera.cameras]
    for source in sources:
        source.start()
    await asyncio.sleep(2.0)  # connect, first frames
    taken = 0
    cpu0, wall0 = time.process_time(), time.monotonic()
    while time.monotonic() - wall0 < seconds:
        await asyncio.sleep(0.02)
        taken += sum(1 for source in sources if source.take() is not None)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    for source in sources:
        await asyncio.to_thread(source.stop)
    expected = len(sources) * FPS * wall
    return {"cpu_core": cpu / wall, "frames": taken, "expected": expected}


async def driver(cfg: AgentConfig, seconds: float) -> dict[str, Any]:
    """Phase 2: the `Cameras` driver as the agent runs it."""
    if cfg.camera is None:
        msg = "no camera section"
        raise SystemExit(msg)
    spool = SnapshotSpool(cfg.camera.snapshot_dir or Path(tempfile.mkdtemp()))
    async with (
        Outbox(cfg.outbox.path, site=cfg.site) as outbox,
        Cameras(cfg.camera, cfg.devices, outbox, spool=spool) as cameras,
    ):
        await asyncio.sleep(2.0)
        before = sum(c.analysed for c in cameras.cameras)
        dropped0 = sum(c.source.frames_dropped for c in cameras.cameras)
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        analysed = sum(c.analysed for c in cameras.cameras) - before
        dropped = sum(c.source.frames_dropped for c in cameras.cameras) - dropped0
        events = len(await outbox.pending())
    expected = len(cameras.cameras) * FPS * wall
    return {
        "cpu_core": cpu / wall,
        "frames": analysed,
        "expected": expected,
        "replaced_before_analysis": dropped,
        "events": events,
    }


async def measure(streams: int, seconds: float) -> dict[str, Any]:
    """Both phases against `streams` simulated cameras."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=serve, args=(streams, child))
    process.start()
    try:
        urls = await asyncio.to_thread(parent.recv)
        with tempfile.TemporaryDirectory() as directory:
            cfg = config(urls, Path(directory))
            bare = await decode_only(cfg, seconds)
            full = await driver(cfg, seconds)
            current, peak = rss_mib()
    finally:
        parent.send("stop")
        process.join(10)
    for phase in (bare, full):
        phase["drop_share"] = max(0.0, 1.0 - phase["frames"] / phase["expected"])
    per_stream = full["cpu_core"] / streams
    return {
        "streams": streams,
        "seconds": seconds,
        "decode_only": bare,
        "driver": full,
        "overhead_ratio": full["cpu_core"] / bare["cpu_core"] if bare["cpu_core"] else None,
        "streams_per_core": 1.0 / per_stream if per_stream else None,
        "rss_mib": current,
        "peak_rss_mib": peak,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure and print the figures (and JSON when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=22)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.streams, args.seconds))
    bare, full = result["decode_only"], result["driver"]
    print(f"streams: {args.streams} x 640x360 MJPEG at {FPS:g} fps, {args.seconds:g} s per phase")
    print(f"decode only: {bare['cpu_core']:.1%} of a core, drops {bare['drop_share']:.2%}")
    print(
        f"driver:      {full['cpu_core']:.1%} of a core, drops {full['drop_share']:.2%} "
        f"({full['frames']} analysed of {full['expected']:.0f}), {full['events']} events"
    )
    print(f"overhead (driver / decode only): {result['overhead_ratio']:.2f}x")
    print(f"streams per core at this cost: {result['streams_per_core']:.1f}")
    print(f"RSS: {result['rss_mib']:.0f} MiB now, {result['peak_rss_mib']:.0f} MiB peak")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
