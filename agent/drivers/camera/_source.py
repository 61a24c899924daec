"""A camera's picture, read by a thread of its own: OpenCV's reads block.

`FrameSource` opens the source with `cv2.VideoCapture` (the FFmpeg backend for URLs and
files, the platform's for `device:N`) with open and read deadlines, and reads every
frame the source sends (`grab`, which keeps the stream drained), decoding only those the
analysis will take (`retrieve`, at most `fps` per second): so the analysed rate is
decoupled from the source's, and a 25 fps stream costs the decode of 5. The newest
decoded frame waits in a one-frame slot; a frame decoded while the previous one was not
taken yet replaces it and counts as dropped.

When the source fails (cannot open, a read fails or times out, the file ends without
`loop`), the capture is released and reopened after a jittered exponential backoff
(`agent._backoff`). `last_frame_at` (monotonic) is what the camera's watchdog reads.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from agent._backoff import Backoff
from agent.drivers.camera._motion import MAX_SOURCE_PIXELS

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import NDArray

    from agent.drivers.camera.config import CameraConfig

__all__ = ["Frame", "FrameSource", "open_capture"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded frame and when it was read (monotonic seconds)."""

    image: NDArray[np.uint8]
    at: float
    number: int


def open_capture(url: str, open_timeout_s: float, read_timeout_s: float) -> cv2.VideoCapture:
    """An opened capture for `url` (rtsp/http/file/device:N); `OSError` when it fails."""
    timeouts = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(read_timeout_s * 1000),
    ]
    if url.startswith("device:"):
        capture = cv2.VideoCapture(int(url.removeprefix("device:")), cv2.CAP_ANY, timeouts)
    else:
        target = url.removeprefix("file://") if url.startswith("file://") else url
        capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, timeouts)
    if not capture.isOpened():
        capture.release()
        message = "the source did not open"
        raise OSError(message)
    return capture


class FrameSource:
    """The frames of one camera, read by a daemon thread from `start` to `stop`."""

    def __init__(self, config: CameraConfig) -> None:
        self._config = config
        self._url = config.url.get_secret_value()
        self._backoff = Backoff(config.reconnect_min_s, config.reconnect_max_s)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._slot: Frame | None = None
        self._thread: threading.Thread | None = None
        self._period = 1.0 / config.fps
        self.last_frame_at: float | None = None
        """When the last frame arrived (monotonic), None before the first."""
        self.connected = False
        self.last_error: str | None = None
        self.frames_read = 0
        self.frames_decoded = 0
        self.frames_dropped = 0
        """Decoded frames replaced before the analysis took them."""
        self.reconnects = 0
        self.on_frame: Callable[[], None] | None = None
        """Called from the reading thread after each decoded frame (must be thread-safe)."""

    def start(self) -> None:
        """Start the reading thread."""
        name = f"camera:{self._config.device}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread and wait for it (a blocked read ends at its deadline)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def take(self) -> Frame | None:
        """The newest frame not taken yet, if any."""
        with self._lock:
            frame, self._slot = self._slot, None
        return frame

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                capture = open_capture(
                    self._url, self._config.open_timeout_s, self._config.read_timeout_s
                )
            except (OSError, cv2.error) as exc:
                self._failed(f"cannot open: {_reason(exc)}")
            else:
                attempt = 0 if self._read_all(capture) else attempt
                capture.release()
            self.connected = False
            if self._stop.wait(self._backoff.delay(attempt)):
                return
            attempt += 1
            self.reconnects += 1

    def _read_all(self, capture: cv2.VideoCapture) -> bool:
        """Read until the source fails or `stop`; whether any frame came."""
        self.connected = True
        got_any = False
        is_file = self._url.startswith("file://")
        file_period = 1.0 / max(1.0, capture.get(cv2.CAP_PROP_FPS) or 25.0)
        due = 0.0  # when the next decode is due: one per analysis period
        next_read = time.monotonic()
        while not self._stop.is_set():
            if is_file:  # a file is read at its own frame rate, as a camera would send it
                next_read += file_period
                delay = next_read - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
            try:
                ok = capture.grab()
            except cv2.error as exc:
                self._failed(f"read failed: {_reason(exc)}")
                return got_any
            if not ok:
                if is_file and self._config.loop and got_any:
                    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    continue
                self._failed("no frame (stream ended or read timed out)")
                return got_any
            now = time.monotonic()
            got_any = True
            self.frames_read += 1
            self.last_frame_at = now
            # Decoupled: only as many decodes as the analysis takes. Half a period of slack,
            # so that a source sending at the analysis rate with jitter loses no frame.
            if now < due - self._period / 2:
                continue
            ok, image = capture.retrieve()
            if not ok or image is None or image.size > MAX_SOURCE_PIXELS * 3:
                self._failed("a frame could not be decoded or is too large")
                return got_any
            due = (now if now > due + self._period else due) + self._period
            self.frames_decoded += 1
            with self._lock:
                if self._slot is not None:
                    self.frames_dropped += 1
                self._slot = Frame(np.asarray(image, np.uint8), now, self.frames_read)
            if self.on_frame is not None:
                self.on_frame()
        return got_any

    def _failed(self, reason: str) -> None:
        if reason != self.last_error:
            logger.warning("camera %s (%s): %s", self._config.device, self._config.source, reason)
        self.last_error = reason


def _reason(exc: BaseException) -> str:
    """An exception as a short reason that cannot carry the URL (it may hold a password)."""
    return type(exc).__name__
