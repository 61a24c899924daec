"""A camera on the network: a scene served as MJPEG over HTTP, in real time; or as a file.

`MjpegCamera` is an async context manager serving `GET /stream.mjpg`
(`multipart/x-mixed-replace`, one JPEG per part, at the scene's fps, looping) and
`GET /labels.json` (the scene's ground truth, times from the stream's start). `freeze()`
stops sending frames while keeping connections open (a stream that stalls), `thaw()`
resumes. `write_video` writes a scene to an MJPG AVI file for file sources.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from typing import TYPE_CHECKING, Final, Self

import cv2
from aiohttp import web

from simulators.camera._scene import render

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

    from simulators.camera._scene import Scene

__all__ = ["BOUNDARY", "MjpegCamera", "encode_jpeg", "write_video"]

logger = logging.getLogger(__name__)

BOUNDARY: Final = "shouwangframe"
_QUALITY: Final = 80


def encode_jpeg(frame: object, quality: int = _QUALITY) -> bytes:
    """A frame as JPEG bytes."""
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])  # type: ignore[call-overload]
    if not ok:
        message = "the frame could not be encoded as JPEG"
        raise ValueError(message)
    return bytes(data)


def _frames(scene: Scene, size: tuple[int, int]) -> list[bytes]:
    """Every frame of the scene, encoded once (scenes served live are short)."""
    return [encode_jpeg(frame) for frame in render(scene, *size)]


class MjpegCamera:
    """`scene` served as MJPEG over HTTP on `host:port` (0: a free port) from entry to exit."""

    def __init__(
        self,
        scene: Scene,
        *,
        size: tuple[int, int] = (640, 360),
        host: str = "127.0.0.1",
        port: int = 0,
        loop: bool = True,
    ) -> None:
        self.scene = scene
        self._size = size
        self._host = host
        self._port = port
        self._loop = loop
        self._frames: list[bytes] = []
        self._runner: web.AppRunner | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._closing = False
        self._started = 0.0
        self.port = 0
        """The port it listens on (known after entry)."""
        self.frames_sent = 0

    @property
    def url(self) -> str:
        """The stream's URL."""
        return f"http://{self._host}:{self.port}/stream.mjpg"

    def freeze(self) -> None:
        """Stop sending frames (connections stay open): the stream stalls."""
        self._flowing.clear()

    def thaw(self) -> None:
        """Send frames again."""
        self._flowing.set()

    async def __aenter__(self) -> Self:
        self._frames = await asyncio.to_thread(_frames, self.scene, self._size)
        app = web.Application()
        app.router.add_get("/stream.mjpg", self._stream)
        app.router.add_get("/labels.json", self._labels)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._started = time.monotonic()
        logger.info("camera simulator: %s on %s", self.scene.name, self.url)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        runner, self._runner = self._runner, None
        self._closing = True
        self._flowing.set()  # a frozen stream's handlers wake up, see `_closing` and end
        if runner is not None:
            await runner.cleanup()

    async def _labels(self, _request: web.Request) -> web.Response:
        labels = [dataclasses.asdict(label) for label in self.scene.labels]
        return web.json_response({"scene": self.scene.name, "labels": labels})

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}"}
        )
        await response.prepare(request)
        period = 1.0 / self.scene.fps
        n = 0
        next_at = time.monotonic()
        with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
            while self._loop or n < len(self._frames):
                await self._flowing.wait()
                if self._closing:
                    break
                frame = self._frames[n % len(self._frames)]
                head = (
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(frame)}\r\n\r\n"
                ).encode()
                await response.write(head + frame + b"\r\n")
                self.frames_sent += 1
                n += 1
                next_at += period
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        return response


def write_video(scene: Scene, path: Path, size: tuple[int, int] = (640, 360)) -> int:
    """Write `scene` to `path` as an MJPG AVI at its fps; the number of frames written."""
    fourcc = cv2.VideoWriter.fourcc(*"MJPG")
    writer = cv2.VideoWriter(str(path), fourcc, scene.fps, size)
    if not writer.isOpened():
        raise OSError(f"cannot write video {path}")
    count = 0
    try:
        for frame in render(scene, *size):
            writer.write(frame)
            count += 1
    finally:
        writer.release()
    return count


def labels_json(scene: Scene) -> str:
    """The scene's labels as JSON (what `/labels.json` serves)."""
    return json.dumps([dataclasses.asdict(label) for label in scene.labels])
