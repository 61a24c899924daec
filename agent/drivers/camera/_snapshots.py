"""Snapshots: a JPEG of the moment motion started, with its box drawn, sent on lane P2.

`snapshot_jpeg` draws the box and encodes the frame, downscaling and lowering the quality
until it fits the contract's 256 KiB. `SnapshotSpool` keeps the JPEGs waiting to be
sent as files in one directory (`{device}.{event_id}.jpg`, written to a temporary name
then renamed, so a crash never leaves half a file), bounded in count: past the bound the
oldest go, as P2 is shed first. `publish_snapshots` is the link's task that sends them
at QoS 1 and deletes each once the broker has it (PUBACK). Snapshots are best effort
beyond that hop: the hub stores the first copy of each event's snapshot and ignores
repeats, and a snapshot whose event never reached the hub is kept by the hub anyway
(it is keyed by the event id).
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from typing import TYPE_CHECKING, Final

import cv2
import numpy as np

import wire

if TYPE_CHECKING:
    from pathlib import Path

    import aiomqtt
    from numpy.typing import NDArray

    from agent.drivers.camera._motion import Box

__all__ = ["MAX_SNAPSHOT_BYTES", "SnapshotSpool", "publish_snapshots", "snapshot_jpeg"]

logger = logging.getLogger(__name__)

MAX_SNAPSHOT_BYTES: Final = 256 * 1024
_MAX_WIDTH: Final = 1280  # a snapshot wider than this is downscaled first
_QUALITIES: Final = (85, 70, 55, 40)
_BOX_COLOUR: Final = (0, 0, 255)  # red, in BGR
_SUFFIX: Final = ".jpg"


def snapshot_jpeg(
    frame: NDArray[np.uint8], box: Box | None, limit: int = MAX_SNAPSHOT_BYTES
) -> bytes:
    """`frame` as a JPEG of at most `limit` bytes, `box` (normalised) drawn on it."""
    image = frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if image.shape[1] > _MAX_WIDTH:
        scale = _MAX_WIDTH / image.shape[1]
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    image = np.ascontiguousarray(image).copy()
    if box is not None:
        h, w = image.shape[:2]
        top_left = (int(box.x * w), int(box.y * h))
        bottom_right = (int((box.x + box.w) * w), int((box.y + box.h) * h))
        cv2.rectangle(image, top_left, bottom_right, _BOX_COLOUR, max(1, w // 320))
    while True:
        for quality in _QUALITIES:
            ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok and len(data) <= limit:
                return bytes(data)
        if image.shape[1] <= 64:
            raise ValueError(f"no JPEG of this frame fits {limit} bytes")
        image = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)


class SnapshotSpool:
    """JPEGs waiting to be sent, one file each in `directory`, at most `max_files`."""

    def __init__(self, directory: Path, *, max_files: int = 256) -> None:
        self.directory = directory
        self._max_files = max_files
        self._ready = asyncio.Event()
        self.dropped = 0
        """Snapshots removed unsent because the spool was full."""
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.tmp"):
            stale.unlink(missing_ok=True)
        if self.pending():
            self._ready.set()

    def pending(self) -> list[Path]:
        """The spooled snapshots, oldest first."""
        files = [p for p in self.directory.iterdir() if p.suffix == _SUFFIX]
        return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def put(self, device: str, event_id: uuid.UUID, jpeg: bytes) -> Path:
        """Spool one snapshot (durably renamed into place); drops the oldest past the bound."""
        if not wire.is_valid_id(device):
            raise ValueError(f"{device!r} is not a device id")
        if len(jpeg) > MAX_SNAPSHOT_BYTES or not jpeg.startswith(b"\xff\xd8\xff"):
            raise ValueError(f"not a JPEG of at most {MAX_SNAPSHOT_BYTES} bytes")
        path = self.directory / f"{device}.{event_id}{_SUFFIX}"
        temporary = path.with_suffix(".tmp")
        with temporary.open("wb") as out:
            out.write(jpeg)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(path)
        files = self.pending()
        for old in files[: max(0, len(files) - self._max_files)]:
            old.unlink(missing_ok=True)
            self.dropped += 1
            logger.warning("snapshot spool full: dropped %s", old.name)
        self._ready.set()
        return path

    async def wait(self) -> None:
        """Until something may be pending."""
        await self._ready.wait()
        self._ready.clear()


def parse_name(path: Path) -> tuple[str, uuid.UUID] | None:
    """(device, event id) of a spooled file's name, or None for a foreign file."""
    device, _, event = path.stem.partition(".")
    try:
        return (device, uuid.UUID(event)) if wire.is_valid_id(device) else None
    except ValueError:
        return None


async def publish_snapshots(
    client: aiomqtt.Client, spool: SnapshotSpool, topics: wire.TopicSpace, site: str
) -> None:
    """Publish every spooled snapshot at QoS 1, deleting each once acknowledged; forever."""
    while True:
        for path in spool.pending():
            parsed = parse_name(path)
            if parsed is None:
                continue
            device, event_id = parsed
            try:
                jpeg = await asyncio.to_thread(path.read_bytes)
            except FileNotFoundError:
                continue  # dropped meanwhile
            topic = topics.snapshot(site, wire.Kind.CAMERA, device, event_id)
            await client.publish(topic, jpeg, qos=1)
            path.unlink(missing_ok=True)
        await spool.wait()
