"""The `camera:` section of the agent's config (motion and tamper detection on cameras).

::

    camera:
      snapshot_dir: /var/lib/shouwang/snapshots
      cameras:
        - device: cam-01
          url: rtsp://viewer:secret@10.7.3.40/stream1   # or http://…/video.mjpg,
          fps: 5                                         # file:///…/clip.avi, device:0
          zones:
            - {name: gate, points: [[0.1, 0.5], [0.6, 0.5], [0.6, 1.0], [0.1, 1.0]]}
          masks:
            - {name: clock, points: [[0.0, 0.0], [0.3, 0.0], [0.3, 0.08], [0.0, 0.08]]}

The URL may carry a password (RTSP usually does): it is a secret, never logged or shown
in the status; `redact_url` gives the form that is. Zone and mask points are fractions
of the picture's width and height, so they survive a resolution change.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from agent._model import DriverSection, Id, Section, located
from agent.drivers.camera._activity import ActivityParams
from agent.drivers.camera._motion import MotionParams, Zone
from agent.drivers.camera._tamper import TamperParams

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["MAX_CAMERAS", "CameraConfig", "CameraSection", "ZoneConfig", "redact_url"]

MAX_CAMERAS: Final = 64
_MOTION: Final = MotionParams()  # the defaults below are the detectors' own
_ACTIVITY: Final = ActivityParams()
_TAMPER: Final = TamperParams()
_SCHEMES: Final = ("rtsp", "rtsps", "http", "https", "file", "device")


def redact_url(url: str) -> str:
    """`url` with any user and password replaced by `***` (safe for logs and status)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


class ZoneConfig(Section):
    """A named polygon, its points fractions (0..1) of the picture's width and height."""

    name: str = Field(
        min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Zone name."
    )
    points: tuple[tuple[float, float], ...] = Field(
        min_length=3, max_length=64, description="Corners as [x, y] fractions, 3 to 64 of them."
    )

    @field_validator("points")
    @classmethod
    def _inside(cls, points: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        for index, (x, y) in enumerate(points):
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise located(f"point ({x}, {y}) is outside 0..1", index)
        return points

    def zone(self) -> Zone:
        """As the detector's value."""
        return Zone(self.name, self.points)


class CameraConfig(Section):
    """One camera: where its picture comes from, how it is analysed, what it reports."""

    device: Id = Field(description="Device id of the camera (a `driver: camera` device).")
    url: SecretStr = Field(
        description="rtsp://, http(s):// (MJPEG), file:// (a video file) or device:N (local "
        "capture device N). A secret: it may carry a password."
    )
    loop: bool = Field(default=False, description="For file:// sources: start again at the end.")
    fps: float = Field(
        default=5.0, ge=0.5, le=30.0, description="Frames analysed per second, whatever the source."
    )
    open_timeout_s: float = Field(
        default=10.0, ge=0.5, le=120.0, description="Deadline for opening the source."
    )
    read_timeout_s: float = Field(
        default=5.0, ge=0.5, le=120.0, description="Deadline for each frame read."
    )
    offline_after_s: float = Field(
        default=15.0, ge=1.0, le=3600.0, description="No frame this long: device.offline."
    )
    reconnect_min_s: float = Field(
        default=1.0, ge=0.1, le=60.0, description="First delay before reopening (jittered)."
    )
    reconnect_max_s: float = Field(
        default=60.0, ge=0.1, le=3600.0, description="Longest delay before reopening."
    )
    analysis_width: int = Field(
        default=160, ge=32, le=640, description="Width of the grey frame analysed, in pixels."
    )
    threshold: float = Field(
        default=_MOTION.threshold,
        gt=0.0,
        le=5.0,
        description="Relative pixel change that counts (log ratio; 0.2 is about 22 %).",
    )
    min_area: float = Field(
        default=_MOTION.min_area,
        gt=0.0,
        lt=1.0,
        description="Smallest moving region, as a fraction of the picture.",
    )
    zones: tuple[ZoneConfig, ...] = Field(
        default=(), max_length=32, description="Where motion counts (none: the whole picture)."
    )
    masks: tuple[ZoneConfig, ...] = Field(
        default=(), max_length=32, description="Areas never analysed (an overlay, a tree)."
    )
    off_delay_s: float = Field(
        default=_ACTIVITY.off_delay_s,
        ge=0.0,
        le=600.0,
        description="Seconds without motion before motion.stopped.",
    )
    min_interval_s: float = Field(
        default=_ACTIVITY.min_interval_s,
        ge=0.0,
        le=3600.0,
        description="Least time between two motion.started of this camera.",
    )
    max_per_hour: int = Field(
        default=_ACTIVITY.max_per_hour,
        ge=1,
        le=3600,
        description="Most motion.started per rolling hour; the rest are counted, not sent.",
    )
    tamper: bool = Field(default=True, description="Whether covered/defocused/turned away count.")
    tamper_hold_s: float = Field(
        default=_TAMPER.hold_s,
        ge=0.0,
        le=600.0,
        description="How long a tamper condition lasts before alarm.tamper.",
    )
    snapshot: bool = Field(default=True, description="Send a JPEG with motion.started.")
    label: str | None = Field(default=None, max_length=200, description="Where it looks.")

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: SecretStr) -> SecretStr:
        text = url.get_secret_value()
        scheme = urlsplit(text).scheme
        if scheme not in _SCHEMES:
            message = f"the url must start with one of {', '.join(_SCHEMES)} (found {scheme!r})"
            raise located(message)
        if scheme == "device" and not text.removeprefix("device:").isdigit():
            msg = "a capture device is device:N, N its index"
            raise located(msg)
        if len(text) > 2048:
            raise located(f"the url has {len(text)} characters; at most 2048")
        return url

    @model_validator(mode="after")
    def _backoff_in_order(self) -> CameraConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            msg = "must be at least reconnect_min_s"
            raise located(msg, "reconnect_max_s")
        return self

    @property
    def source(self) -> str:
        """The URL, password redacted: what logs and the status show."""
        return redact_url(self.url.get_secret_value())

    def motion_params(self) -> MotionParams:
        """The detector's parameters."""
        zones = tuple(z.zone() for z in self.zones) or _MOTION.zones
        return MotionParams(
            analysis_width=self.analysis_width,
            threshold=self.threshold,
            min_area=self.min_area,
            zones=zones,
            masks=tuple(m.zone() for m in self.masks),
        )

    def activity_params(self) -> ActivityParams:
        """The event tracker's parameters."""
        return ActivityParams(
            off_delay_s=self.off_delay_s,
            min_interval_s=self.min_interval_s,
            max_per_hour=self.max_per_hour,
        )

    def tamper_params(self) -> TamperParams:
        """The tamper monitor's parameters."""
        return TamperParams(hold_s=self.tamper_hold_s)


class CameraSection(DriverSection):
    """The cameras the agent analyses and where their snapshots wait to be sent."""

    DRIVER: ClassVar[str] = "camera"

    cameras: tuple[CameraConfig, ...] = Field(
        min_length=1, max_length=MAX_CAMERAS, description="Every camera analysed."
    )
    snapshot_dir: Path | None = Field(
        default=None,
        description="Directory of the snapshot spool (default: next to the outbox).",
    )
    snapshot_max_files: int = Field(
        default=256, ge=1, le=100_000, description="Snapshots kept unsent at most; oldest go."
    )

    @model_validator(mode="after")
    def _each_camera_once(self) -> CameraSection:
        seen: dict[str, int] = {}
        for index, camera in enumerate(self.cameras):
            if camera.device in seen:
                message = f"device {camera.device!r} is already cameras[{seen[camera.device]}]"
                raise located(message, "cameras", index, "device")
            seen[camera.device] = index
        return self

    def device_refs(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """Each camera's device id."""
        for index, camera in enumerate(self.cameras):
            yield ("cameras", index, "device"), camera.device
