"""Cameras: motion and tamper detection with OpenCV on RTSP, MJPEG, file or local sources.

Roles, one module each: `config` (the `camera:` section), `_motion` (one frame's changed
regions: pure steps and the background), `_activity` (frames with motion →
`motion.started` / `motion.stopped`, with off-delay and rate limits), `_tamper` (covered,
defocused, turned away), `_source` (a camera's reading thread), `_snapshots` (the JPEG of
a start, its spool and the link's publisher), `_camera` (one camera's analysis loop and
the `Cameras` driver).
"""

from agent.drivers.camera._activity import (
    ActivityParams,
    MotionStarted,
    MotionStopped,
    MotionTracker,
)
from agent.drivers.camera._camera import DRIVER, MAX_QUEUED, Camera, Cameras
from agent.drivers.camera._motion import (
    FULL_FRAME,
    Box,
    FrameMotion,
    MotionDetector,
    MotionParams,
    Zone,
)
from agent.drivers.camera._snapshots import (
    MAX_SNAPSHOT_BYTES,
    SnapshotSpool,
    publish_snapshots,
    snapshot_jpeg,
)
from agent.drivers.camera._source import Frame, FrameSource
from agent.drivers.camera._tamper import (
    TamperCleared,
    TamperMonitor,
    TamperParams,
    TamperRaised,
    TamperReason,
)
from agent.drivers.camera.config import CameraConfig, CameraSection, ZoneConfig, redact_url

__all__ = [
    "DRIVER",
    "FULL_FRAME",
    "MAX_QUEUED",
    "MAX_SNAPSHOT_BYTES",
    "ActivityParams",
    "Box",
    "Camera",
    "CameraConfig",
    "CameraSection",
    "Cameras",
    "Frame",
    "FrameMotion",
    "FrameSource",
    "MotionDetector",
    "MotionParams",
    "MotionStarted",
    "MotionStopped",
    "MotionTracker",
    "SnapshotSpool",
    "TamperCleared",
    "TamperMonitor",
    "TamperParams",
    "TamperRaised",
    "TamperReason",
    "Zone",
    "ZoneConfig",
    "publish_snapshots",
    "redact_url",
    "snapshot_jpeg",
]
