"""Probes of the devices the agent reads: Modbus door controllers and cameras.

A controller must answer every read its doors need (the same reads a poll makes), so a
wrong address map shows up here, not as a door that never moves. A camera must deliver
a decoded frame; an HTTP source is asked first, so that a wrong path (404), refused
credentials (401) or a page that is not a stream are named as such. A camera URL may
carry a password: targets and reasons show it redacted, never whole.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import aiohttp
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from agent.check._report import Row
from agent.drivers.modbus._plan import Read, plan_reads
from agent.drivers.modbus.config import Table

if TYPE_CHECKING:
    from agent.drivers.camera.config import CameraConfig
    from agent.drivers.modbus.config import ControllerConfig

__all__ = ["probe_camera", "probe_controller"]

_EXCEPTIONS: Final = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    10: "gateway path unavailable",
    11: "gateway target failed to respond (device_id?)",
}
_STREAM_TYPES: Final = ("multipart/x-mixed-replace", "image/jpeg", "video/")


async def probe_controller(config: ControllerConfig) -> Row:
    """Connect to a door controller and make every read its doors need."""
    check, target = "modbus", f"{config.host}:{config.port} unit {config.device_id}"
    points = ((p.table, p.address) for door in config.doors for _, p in door.inputs())
    reads = plan_reads(points, gap=config.coalesce_gap)
    client = AsyncModbusTcpClient(
        config.host, port=config.port, timeout=config.timeout_s, retries=0, reconnect_delay=0
    )
    try:
        reason = await _connect(client, config)
        if reason is not None:
            return Row.fail(check, target, reason)
        for read in reads:
            reason = await _read(client, read, config)
            if reason is not None:
                return Row.fail(check, target, reason)
    finally:
        client.close()
    doors = len(config.doors)
    return Row.ok(check, target, f"answers: {len(reads)} reads for {doors} doors")


async def _connect(client: AsyncModbusTcpClient, config: ControllerConfig) -> str | None:
    reason = await asyncio.to_thread(_tcp_reason, config.host, config.port, config.timeout_s)
    if reason is not None:
        return reason
    try:
        async with asyncio.timeout(config.timeout_s + 1):
            connected = await client.connect()
    except (TimeoutError, OSError, ModbusException):
        connected = False
    return None if connected else f"Modbus TCP connection to {config.host}:{config.port} failed"


async def _read(client: AsyncModbusTcpClient, read: Read, config: ControllerConfig) -> str | None:
    what = f"{read.table.value} {read.start}..{read.end - 1}"
    unit = config.device_id
    try:
        async with asyncio.timeout(config.timeout_s + 1):
            match read.table:
                case Table.DISCRETE_INPUT:
                    response = await client.read_discrete_inputs(
                        read.start, count=read.count, device_id=unit
                    )
                case Table.COIL:
                    response = await client.read_coils(read.start, count=read.count, device_id=unit)
                case Table.INPUT_REGISTER:
                    response = await client.read_input_registers(
                        read.start, count=read.count, device_id=unit
                    )
                case Table.HOLDING_REGISTER:
                    response = await client.read_holding_registers(
                        read.start, count=read.count, device_id=unit
                    )
    except (TimeoutError, ModbusException) as exc:
        return f"no answer to reading {what} (unit {unit}): {exc or 'timed out'}"
    if response.isError():
        code = getattr(response, "exception_code", None)
        name = _EXCEPTIONS.get(code if isinstance(code, int) else -1, "error")
        return f"reading {what} answered exception {code} ({name}): check the door map"
    return None


async def probe_camera(config: CameraConfig) -> Row:
    """Open a camera's source and decode one frame."""
    check, target = "camera", f"{config.device} {config.source}"
    url = config.url.get_secret_value()
    parts = urlsplit(url)
    match parts.scheme:
        case "http" | "https":
            port = parts.port or (443 if parts.scheme == "https" else 80)
            reason = await asyncio.to_thread(
                _tcp_reason, parts.hostname or "", port, config.open_timeout_s
            )
            reason = reason or await _http_source(url, config.open_timeout_s)
        case "rtsp" | "rtsps":
            port = parts.port or (322 if parts.scheme == "rtsps" else 554)
            reason = await asyncio.to_thread(
                _tcp_reason, parts.hostname or "", port, config.open_timeout_s
            )
        case "file":
            path = Path(url.removeprefix("file://"))
            found = await asyncio.to_thread(path.is_file)
            reason = None if found else f"no such file: {path}"
        case _:
            device = Path(f"/dev/video{url.removeprefix('device:')}")
            found = await asyncio.to_thread(device.exists)
            reason = None if found else f"no capture device {device}"
    if reason is not None:
        return Row.fail(check, target, reason)
    frame = await asyncio.to_thread(_one_frame, url, config)
    if isinstance(frame, str):
        return Row.fail(check, target, frame)
    width, height = frame
    return Row.ok(check, target, f"delivers frames ({width}x{height})")


async def _http_source(url: str, timeout_s: float) -> str | None:
    timeout = aiohttp.ClientTimeout(total=None, connect=timeout_s, sock_read=timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, allow_redirects=False) as response,
        ):
            status, reason = response.status, response.reason or ""
            media = response.headers.get("Content-Type", "")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return f"no HTTP answer within {timeout_s:g} s: {type(exc).__name__}"
    if status == 401:
        return "HTTP 401: the camera refused the credentials in the URL"
    if status == 404:
        return "HTTP 404 Not Found: wrong path in the URL"
    if status != 200:
        return f"HTTP {status} {reason}"
    if not media.startswith(_STREAM_TYPES):
        return f"not a video stream: the URL serves {media or 'no content type'}"
    return None


def _tcp_reason(host: str, port: int, timeout_s: float) -> str | None:
    """Why a TCP connection to `host:port` fails, or None when it opens."""
    where = f"{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except socket.gaierror as exc:
        return f"cannot resolve {host!r}: {exc.strerror}"
    except ConnectionRefusedError:
        return f"connection refused: nothing listens on {where} (port closed, or wrong port)"
    except TimeoutError:
        return f"no answer from {where} within {timeout_s:g} s (address? firewall?)"
    except OSError as exc:
        return f"cannot connect to {where}: {exc.strerror or exc}"


def _one_frame(url: str, config: CameraConfig) -> tuple[int, int] | str:
    # Imported here: OpenCV is the heaviest import of the agent, needed by cameras only.
    from agent.drivers.camera._source import open_capture  # noqa: PLC0415

    try:
        capture = open_capture(url, config.open_timeout_s, config.read_timeout_s)
    except OSError:
        return "the source did not open (OpenCV/FFmpeg could not read it)"
    try:
        ok, image = capture.read()
    finally:
        capture.release()
    if not ok or image is None:
        return f"opened, but no frame within {config.read_timeout_s:g} s"
    height, width = image.shape[:2]
    return int(width), int(height)
