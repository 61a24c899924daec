"""One camera's analysis loop, and the `Cameras` driver that runs them all.

Each camera has a reading thread (`_source.FrameSource`, which decodes at most `fps`
frames a second) and an analysis task here, woken by each decoded frame: it runs the
motion detector, the event tracker and the tamper monitor on it, and turns what they say
into drafts for the outbox. A watchdog, woken every 1/fps without a frame, reports
`device.offline` when no frame came for `offline_after_s` (the stream is lost) and
`device.online` at the next frame; motion under way is closed with `motion.stopped`
first.

Events never skip the outbox: drafts wait in a bounded queue that a second task appends
in order, so the analysis never waits for the disk, and an outbox that cannot write
(`OutboxError`) is retried after a second, keeping the drafts. Past `MAX_QUEUED`, the
oldest non-P0 draft goes (logged); an `alarm.tamper` never does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Self

import wire
from agent.drivers._units import UnitTasks, unit_health
from agent.drivers.camera._activity import MotionStarted, MotionStopped, MotionTracker
from agent.drivers.camera._motion import MotionDetector
from agent.drivers.camera._snapshots import snapshot_jpeg
from agent.drivers.camera._source import FrameSource
from agent.drivers.camera._tamper import TamperCleared, TamperMonitor, TamperRaised
from agent.errors import EventShed, OutboxError
from agent.outbox import Draft
from wire import EventType, Lane

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    import numpy as np
    from numpy.typing import NDArray

    from agent.config import DeviceConfig
    from agent.drivers.camera._snapshots import SnapshotSpool
    from agent.drivers.camera.config import CameraConfig, CameraSection
    from agent.outbox import JsonScalar, Outbox

__all__ = ["DRIVER", "MAX_QUEUED", "Camera", "Cameras"]

logger = logging.getLogger(__name__)

DRIVER: Final = "camera"
MAX_QUEUED: Final = 1_000


@dataclass(frozen=True, slots=True)
class _Pending:
    """A draft waiting for the outbox, and the snapshot to spool once it has an id."""

    draft: Draft
    jpeg: bytes | None = None


class Camera:
    """The analysis of one camera (`run`) and the delivery of its events (`deliver`)."""

    def __init__(
        self, config: CameraConfig, outbox: Outbox, spool: SnapshotSpool | None = None
    ) -> None:
        self.config = config
        self.source = FrameSource(config)
        self._outbox = outbox
        self._spool = spool if config.snapshot else None
        self._detector = MotionDetector(config.motion_params())
        self._tracker = MotionTracker(config.activity_params())
        self._tamper = TamperMonitor(config.tamper_params()) if config.tamper else None
        self._queued: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._started = time.monotonic()
        self.online: bool | None = None
        """None until the first frame or the first timeout; then whether frames come."""
        self.analysed = 0

    @property
    def device(self) -> str:
        """The camera's device id."""
        return self.config.device

    async def run(self) -> None:
        """Analyse each frame the reading thread decodes (at most `fps` a second) until
        cancelled; between frames, watch for a lost stream."""
        period = 1.0 / self.config.fps
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()

        def wake() -> None:  # runs in the reading thread
            with contextlib.suppress(RuntimeError):  # the loop closed while stopping
                loop.call_soon_threadsafe(ready.set)

        self.source.on_frame = wake
        self.source.start()
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(period):
                        await ready.wait()
                ready.clear()
                now = time.monotonic()
                frame = self.source.take()
                if frame is not None:
                    self._analyse(frame.image, now)
                else:
                    self._watch(now)
        finally:
            self.source.on_frame = None
            await asyncio.to_thread(self.source.stop)

    def _analyse(self, image: NDArray[np.uint8], now: float) -> None:
        if self.online is not True:
            self._emit(EventType.DEVICE_ONLINE, {})
            self.online = True
            self._detector.reset()
        self.analysed += 1
        small = self._detector.prepare(image)
        motion = self._detector.step(small)
        event = self._tracker.step(motion, now)
        match event:
            case MotionStarted():
                jpeg = snapshot_jpeg(image, event.box) if self._spool is not None else None
                data = {
                    "zones": list(event.zones),
                    "box": event.box.as_list(),
                    "fraction": round(event.fraction, 4),
                    "snapshot": jpeg is not None,
                }
                self._emit(EventType.MOTION_STARTED, data, jpeg)
            case MotionStopped():
                self._emit(EventType.MOTION_STOPPED, {"duration_s": round(event.duration_s, 1)})
            case None:
                pass
        if self._tamper is not None:
            match self._tamper.step(small, now, motion.boxes):
                case TamperRaised(reason=reason):
                    self._emit(EventType.ALARM_TAMPER, {"reason": reason.value})
                case TamperCleared(reason=reason, duration_s=duration):
                    data = {"reason": reason.value, "duration_s": round(duration, 1)}
                    self._emit(EventType.ALARM_RESTORE, data)
                case None:
                    pass

    def _watch(self, now: float) -> None:
        """The stream watchdog: no frame for offline_after_s is `device.offline`."""
        last = self.source.last_frame_at
        silent_s = now - (last if last is not None else self._started)
        if self.online is False or silent_s < self.config.offline_after_s:
            return
        self.online = False
        if self._tracker.active:
            self._tracker = MotionTracker(self.config.activity_params())
            self._emit(EventType.MOTION_STOPPED, {"duration_s": None, "reason": "stream lost"})
        reason = self.source.last_error or "no frame"
        self._emit(EventType.DEVICE_OFFLINE, {"reason": reason, "silent_s": round(silent_s, 1)})

    def _emit(self, kind: EventType, data: dict[str, object], jpeg: bytes | None = None) -> None:
        source: dict[str, JsonScalar] = {"driver": DRIVER, "source": self.config.source}
        draft = Draft(
            device=self.device,
            kind=wire.Kind.CAMERA,
            type=kind,
            source=source,
            data=data,
            device_time=datetime.now(UTC),
        )
        logger.info("camera %s: %s %s", self.device, kind.value, data)
        if len(self._queued) >= MAX_QUEUED:
            self._drop_one()
        self._queued.append(_Pending(draft, jpeg))
        self._wake.set()

    def _drop_one(self) -> None:
        for index, pending in enumerate(self._queued):
            if wire.LANES[pending.draft.type] is not Lane.P0:
                del self._queued[index]
                logger.warning("camera %s: queue full, dropped %s", self.device, pending.draft.type)
                return

    async def deliver(self) -> None:
        """Append queued drafts to the outbox in order, and spool their snapshots; forever."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queued:
                pending = self._queued[0]
                try:
                    event = await self._outbox.append(pending.draft)
                except EventShed:
                    self._queued.popleft()
                    continue
                except OutboxError as exc:
                    logger.warning("camera %s: outbox cannot write (%s)", self.device, exc)
                    await asyncio.sleep(1.0)
                    continue
                self._queued.popleft()
                if pending.jpeg is not None and self._spool is not None:
                    await asyncio.to_thread(self._spool.put, self.device, event.id, pending.jpeg)


class Cameras:
    """The cameras of the `camera` section, analysed from entry to exit.

    Each camera has a task `camera:{device}` (analysis) and `camera:{device}:events`
    (delivery) under one task group, and a reading thread of its own.
    """

    def __init__(
        self,
        config: CameraSection,
        devices: Sequence[DeviceConfig],
        outbox: Outbox,
        *,
        spool: SnapshotSpool | None = None,
    ) -> None:
        known = {device.id for device in devices}
        missing = [c.device for c in config.cameras if c.device not in known]
        if missing:
            raise ValueError(f"cameras not listed under devices: {', '.join(missing)}")
        self.cameras = tuple(Camera(camera, outbox, spool) for camera in config.cameras)
        self._units = UnitTasks()

    async def __aenter__(self) -> Self:
        await self._units.start((f"camera:{c.device}", c) for c in self.cameras)
        logger.info("camera: analysing %d cameras", len(self.cameras))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._units.stop(exc_type, exc, tb)

    def health(self) -> wire.DriverHealth:
        """`ok` when every camera sends frames, `degraded` when some do not, `down` when none."""
        total = len(self.cameras)
        silent = [
            f"{c.device} ({c.source.last_error or 'no frame'})"
            for c in self.cameras
            if c.online is False
        ]
        return unit_health(
            total,
            silent,
            running=self._units.running,
            ok=f"{total} of {total} sending",
            trouble="cameras without frames",
        )
