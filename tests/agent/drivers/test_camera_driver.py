"""The camera driver: its config section, snapshots, and real streams from the simulator."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pytest

import wire
from agent.config import AgentConfig
from agent.drivers.camera import (
    MAX_SNAPSHOT_BYTES,
    Box,
    CameraConfig,
    Cameras,
    CameraSection,
    FrameSource,
    SnapshotSpool,
    redact_url,
    snapshot_jpeg,
)
from agent.outbox import Outbox
from simulators.camera import MjpegCamera, Scene, Walker, write_video
from wire import EventType

if TYPE_CHECKING:
    from pydantic import BaseModel

SITE = "room-07"


def agent_config(tmp_path: Path, camera: dict[str, object], **section: object) -> AgentConfig:
    """An agent config with one camera device `cam-01` and the given camera entry."""
    return AgentConfig.model_validate(
        {
            "site": SITE,
            "mqtt": {"host": "127.0.0.1"},
            "outbox": {"path": str(tmp_path / "outbox.sqlite3")},
            "canary": {"enabled": False},
            "camera": {"cameras": [{"device": "cam-01", **camera}], **section},
            "devices": [{"id": "cam-01", "kind": "camera", "driver": "camera", "checkin_s": 60}],
        }
    )


def test_redact_url_hides_user_and_password() -> None:
    """An RTSP URL's credentials never reach logs or the status."""
    assert redact_url("rtsp://admin:hunter2@10.0.0.5:554/s1") == "rtsp://***@10.0.0.5:554/s1"
    assert redact_url("http://10.0.0.5/video.mjpg") == "http://10.0.0.5/video.mjpg"


def test_camera_section_keeps_the_url_secret_and_checks_it(tmp_path: Path) -> None:
    """The URL is a secret shown redacted; an unknown scheme or a bad zone is refused."""
    config = agent_config(tmp_path, {"url": "rtsp://admin:hunter2@10.0.0.5/s1"})
    assert config.camera is not None
    camera = config.camera.cameras[0]
    assert "hunter2" not in repr(camera)
    assert camera.source == "rtsp://***@10.0.0.5/s1"
    with pytest.raises(ValueError, match="must start with one of"):
        agent_config(tmp_path, {"url": "ftp://10.0.0.5/x"})
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        agent_config(
            tmp_path,
            {"url": "device:0", "zones": [{"name": "z", "points": [[0, 0], [2, 0], [0, 1]]}]},
        )


def test_camera_devices_must_be_named_by_the_section(tmp_path: Path) -> None:
    """A `driver: camera` device that no camera entry names is refused."""
    with pytest.raises(ValueError, match="names device 'cam-02'"):
        AgentConfig.model_validate(
            {
                "site": SITE,
                "mqtt": {"host": "127.0.0.1"},
                "outbox": {"path": str(tmp_path / "o.sqlite3")},
                "camera": {"cameras": [{"device": "cam-01", "url": "device:0"}]},
                "devices": [
                    {"id": f"cam-0{n}", "kind": "camera", "driver": "camera", "checkin_s": 60}
                    for n in (1, 2)
                ],
            }
        )


def test_zones_and_tuning_reach_the_detector(tmp_path: Path) -> None:
    """Zones, masks and thresholds of the section become the detector's parameters."""
    zone = {"name": "gate", "points": [[0.1, 0.5], [0.6, 0.5], [0.6, 1.0]]}
    config = agent_config(tmp_path, {"url": "device:0", "zones": [zone], "min_area": 0.01})
    assert config.camera is not None
    params = config.camera.cameras[0].motion_params()
    assert [z.name for z in params.zones] == ["gate"]
    assert params.min_area == 0.01


def test_snapshot_fits_the_contract_with_the_box_drawn() -> None:
    """Even a 4K frame of noise becomes a JPEG under 256 KiB, with the red box on it."""
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (2160, 3840, 3), dtype=np.uint8)
    jpeg = snapshot_jpeg(noise, Box(0.25, 0.25, 0.5, 0.5))
    assert len(jpeg) <= MAX_SNAPSHOT_BYTES
    assert jpeg.startswith(b"\xff\xd8\xff")
    flat = np.full((360, 640, 3), 128, np.uint8)
    jpeg = snapshot_jpeg(flat, Box(0.5, 0.5, 0.25, 0.25))
    image = np.asarray(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR))
    b, g, r = (int(v) for v in image[180, 400])  # on the box's top edge
    assert r > 200
    assert max(g, b) < 80


def test_spool_is_bounded_and_keeps_the_newest(tmp_path: Path) -> None:
    """Past max_files the oldest snapshots go; names carry device and event id."""
    spool = SnapshotSpool(tmp_path / "spool", max_files=2)
    jpeg = snapshot_jpeg(np.zeros((36, 64, 3), np.uint8), None)
    ids = [uuid.uuid4() for _ in range(3)]
    for event_id in ids:
        spool.put("cam-01", event_id, jpeg)
    names = [p.name for p in spool.pending()]
    assert names == [f"cam-01.{ids[1]}.jpg", f"cam-01.{ids[2]}.jpg"]
    assert spool.dropped == 1
    with pytest.raises(ValueError, match="JPEG"):
        spool.put("cam-01", ids[0], b"not a jpeg")


def walker_scene(duration_s: float = 12.0) -> Scene:
    """A person crossing the view from 1 s to 3 s, then nothing."""
    walker = Walker(1.0, 3.0, -0.05, 1.05, 0.9, 0.4, (30, 30, 30))
    return Scene("walker", "walkers", 7, duration_s, walkers=(walker,))


def test_file_source_reads_and_loops(tmp_path: Path) -> None:
    """A video file is read at its own pace and, with loop, again from its start."""
    path = tmp_path / "clip.avi"
    assert write_video(Scene("still", "noise", 3, 1.0, fps=10.0), path, (320, 180)) == 10
    config = agent_config(tmp_path, {"url": f"file://{path}", "loop": True, "fps": 10})
    assert config.camera is not None
    source = FrameSource(config.camera.cameras[0])
    source.start()
    try:
        deadline = time.monotonic() + 10.0
        while source.frames_read < 15 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        source.stop()
    assert source.frames_read >= 15  # more than the file holds: it looped
    assert source.last_error is None


async def events_of(outbox: Outbox) -> list[wire.Event]:
    """Every event in the outbox, by seq."""
    entries = sorted(await outbox.pending(), key=lambda entry: entry.seq)
    return [wire.decode_event(entry.payload) for entry in entries]


async def wait_for(outbox: Outbox, kind: EventType, timeout_s: float) -> list[wire.Event]:
    """The outbox's events once one of `kind` is among them."""
    async with asyncio.timeout(timeout_s):
        while True:
            events = await events_of(outbox)
            if any(event.type is kind for event in events):
                return events
            await asyncio.sleep(0.1)


@pytest.mark.integration
async def test_a_walker_on_an_mjpeg_stream_makes_motion_events_and_a_snapshot(
    tmp_path: Path,
) -> None:
    """Over real MJPEG/HTTP: started (zones, box, snapshot) then stopped; a stall is offline."""
    async with MjpegCamera(walker_scene(), size=(640, 360), loop=False) as sim:
        config = agent_config(
            tmp_path,
            {"url": sim.url, "off_delay_s": 2.0, "offline_after_s": 2.0, "tamper": False},
        )
        assert config.camera is not None
        spool = SnapshotSpool(tmp_path / "spool")
        async with (
            Outbox(config.outbox.path, site=SITE) as outbox,
            Cameras(config.camera, config.devices, outbox, spool=spool) as cameras,
        ):
            events = await wait_for(outbox, EventType.MOTION_STOPPED, 20.0)
            types = [event.type for event in events]
            assert types[:3] == [
                EventType.DEVICE_ONLINE,
                EventType.MOTION_STARTED,
                EventType.MOTION_STOPPED,
            ]
            started = events[1]
            assert started.data["zones"] == ["all"]
            assert started.data["snapshot"] is True
            assert started.source["source"] == sim.url
            assert 0.0 <= started.data["box"][0] <= 1.0
            assert events[2].data["duration_s"] >= 2.0
            spooled = [path.name for path in spool.pending()]
            assert spooled == [f"cam-01.{started.id}.jpg"]
            sim.freeze()
            events = await wait_for(outbox, EventType.DEVICE_OFFLINE, 10.0)
            assert cameras.health().state is wire.DriverState.DOWN
            assert events[-1].data["reason"]


@pytest.mark.parametrize(
    ("heading", "model"), [("`camera`", CameraSection), ("`camera.cameras[]`", CameraConfig)]
)
def test_devices_doc_lists_exactly_the_camera_fields(heading: str, model: type[BaseModel]) -> None:
    """docs/devices.md's camera tables name every field of the section, and no other."""
    text = (Path(__file__).resolve().parents[3] / "docs" / "devices.md").read_text()
    table = text.split(f"### {heading}\n", 1)[1].split("\n#", 1)[0]
    keys = [
        key.strip().strip("`")
        for line in table.splitlines()
        if line.startswith("| `")
        for key in line.split("|")[1].split("/")
    ]
    assert keys == list(model.model_fields)
