"""`python -m agent check`: each misconfiguration is named specifically, and a box that
works passes (simulated door controller and camera, a real broker)."""

from __future__ import annotations

import contextlib
import socket
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from agent.__main__ import main
from agent.check import Verdict, check_config
from hub.provision import Principal, ProvisionStore
from simulators.camera import MjpegCamera, Scene
from simulators.door_controller import DoorController
from tests.harness import PrivateMosquitto, free_port

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from agent.check import Row
    from tests.harness import MqttEndpoint

pytestmark = pytest.mark.integration

SITE = "room-07"
CAMERA_PASSWORD = "cam-pass-5150"
TOKEN = "lock-token-0123456789"


def write_config(tmp_path: Path, **overrides: Any) -> Path:
    """A config of one HTTP lock, plus door-1 and cam-1 when `modbus` and `camera` are given."""
    listed = [{"id": "lock-1", "kind": "door_lock", "driver": "http", "token": TOKEN}]
    if "modbus" in overrides:
        listed.append({"id": "door-1", "kind": "door_lock", "driver": "modbus"})
    if "camera" in overrides:
        listed.append({"id": "cam-1", "kind": "camera", "driver": "camera"})
    data: dict[str, Any] = {
        "site": SITE,
        "mqtt": {"host": "127.0.0.1", "port": 1883, "timeout_s": 3},
        "outbox": {"path": str(tmp_path / "data" / "outbox.sqlite3")},
        "http": {"port": free_port()},
        "devices": [{**device, "checkin_s": 60} for device in listed],
        **overrides,
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    path.chmod(0o600)
    return path


def modbus(port: int) -> dict[str, Any]:
    """The modbus section: door-1 on the controller at 127.0.0.1:`port`."""
    door = {"device": "door-1", "position": {"address": 0}, "lock": {"address": 1}}
    controller = {"host": "127.0.0.1", "port": port, "timeout_s": 1, "doors": [door]}
    return {"controllers": [controller]}


def camera(url: str) -> dict[str, Any]:
    """The camera section: cam-1 at `url`."""
    return {"cameras": [{"device": "cam-1", "url": url, "open_timeout_s": 3, "read_timeout_s": 3}]}


@contextlib.asynccontextmanager
async def devices() -> AsyncIterator[tuple[DoorController, MjpegCamera]]:
    """A simulated door controller and a simulated camera, listening."""
    scene = Scene("check", "static", 1, 60.0)
    async with DoorController(doors=1) as controller, MjpegCamera(scene, size=(160, 90)) as cam:
        yield controller, cam


def row(rows: list[Row], check: str) -> Row:
    """The one row of `check`."""
    (found,) = [r for r in rows if r.check == check]
    return found


def camera_url(cam: MjpegCamera, path: str = "/stream.mjpg") -> str:
    """The simulator's URL with a user and password in it, and `path`."""
    return f"http://viewer:{CAMERA_PASSWORD}@127.0.0.1:{cam.port}{path}"


async def test_a_working_box_passes(tmp_path: Path, mqtt_endpoint: MqttEndpoint) -> None:
    """Door controller, camera, HTTP port, outbox and broker all answer: exit 0, all ok."""
    async with devices() as (controller, cam):
        mqtt = {"host": mqtt_endpoint.host, "port": mqtt_endpoint.port, "timeout_s": 3}
        path = write_config(
            tmp_path, mqtt=mqtt, modbus=modbus(controller.port), camera=camera(camera_url(cam))
        )
        rows, code = await check_config(path)
    assert code == 0, rows
    assert {r.check for r in rows} == {"config", "outbox", "http", "modbus", "camera", "broker"}
    assert all(r.verdict is Verdict.OK for r in rows), rows
    assert row(rows, "camera").detail == "delivers frames (160x90)"
    assert CAMERA_PASSWORD not in repr(rows)


async def test_a_wrong_camera_url_is_named(tmp_path: Path, mqtt_endpoint: MqttEndpoint) -> None:
    """A camera URL with a wrong path fails with HTTP 404, its password never shown."""
    async with devices() as (controller, cam):
        mqtt = {"host": mqtt_endpoint.host, "port": mqtt_endpoint.port, "timeout_s": 3}
        url = camera_url(cam, "/video.mjpg")
        path = write_config(tmp_path, mqtt=mqtt, modbus=modbus(controller.port), camera=camera(url))
        rows, code = await check_config(path)
    assert code == 1
    failed = [r for r in rows if r.verdict is Verdict.FAIL]
    assert [r.check for r in failed] == ["camera"]
    assert failed[0].detail == "HTTP 404 Not Found: wrong path in the URL"
    assert failed[0].target == f"cam-1 http://***@127.0.0.1:{cam.port}/video.mjpg"
    assert CAMERA_PASSWORD not in repr(rows)


async def test_a_closed_modbus_port_is_named(tmp_path: Path, mqtt_endpoint: MqttEndpoint) -> None:
    """A controller whose port nobody listens on fails as 'connection refused' on that port."""
    closed = free_port()
    async with devices() as (_, cam):
        mqtt = {"host": mqtt_endpoint.host, "port": mqtt_endpoint.port, "timeout_s": 3}
        path = write_config(tmp_path, mqtt=mqtt, modbus=modbus(closed), camera=camera(cam.url))
        rows, code = await check_config(path)
    assert code == 1
    failed = [r for r in rows if r.verdict is Verdict.FAIL]
    assert [(r.check, r.target) for r in failed] == [("modbus", f"127.0.0.1:{closed} unit 1")]
    assert failed[0].detail.startswith(f"connection refused: nothing listens on 127.0.0.1:{closed}")


async def test_a_wrong_door_map_is_named(tmp_path: Path, mqtt_endpoint: MqttEndpoint) -> None:
    """A door input past the controller's addresses fails with the exception it answered."""
    async with devices() as (controller, cam):
        section = modbus(controller.port)
        section["controllers"][0]["doors"][0]["lock"] = {"address": 900}
        mqtt = {"host": mqtt_endpoint.host, "port": mqtt_endpoint.port, "timeout_s": 3}
        path = write_config(tmp_path, mqtt=mqtt, modbus=section, camera=camera(cam.url))
        rows, code = await check_config(path)
    assert code == 1
    assert "exception 2 (illegal data address)" in row(rows, "modbus").detail


async def test_a_wrong_broker_password_is_named(tmp_path: Path) -> None:
    """A broker enforcing a password file refuses the agent's wrong password, so named;
    neither password appears in the table."""
    store = ProvisionStore(tmp_path / "provision")
    issued = store.ensure(Principal.agent(SITE))
    assert issued.password is not None
    broker_config = [
        f"password_file {store.passwd_path}",
        f"acl_file {store.acl_path}",
        "allow_anonymous false",
    ]
    wrong = "not-the-password-42"
    with PrivateMosquitto(extra_config=broker_config) as broker:
        mqtt = {"host": broker.host, "port": broker.port, "password": wrong, "timeout_s": 3}
        rows, code = await check_config(write_config(tmp_path, mqtt=mqtt))
        right = {**mqtt, "password": issued.password}
        good_rows, _ = await check_config(write_config(tmp_path, mqtt=right))
    broker_row = row(rows, "broker")
    assert (code, broker_row.verdict) == (1, Verdict.FAIL)
    assert broker_row.detail.startswith("the broker refused user 'room-07': ")
    assert "password" in broker_row.detail
    assert row(good_rows, "broker").verdict is Verdict.OK
    assert wrong not in repr(rows)
    assert issued.password not in repr(good_rows)


async def test_no_broker_is_named(tmp_path: Path) -> None:
    """A broker port nobody listens on fails as 'connection refused'."""
    port = free_port()
    rows, code = await check_config(
        write_config(tmp_path, mqtt={"host": "127.0.0.1", "port": port})
    )
    assert code == 1
    assert row(rows, "broker").detail.startswith(
        f"connection refused: nothing listens on port {port}"
    )


async def test_a_config_typo_is_named_with_its_line(tmp_path: Path) -> None:
    """A misspelt key is a failing config row naming the line and key; exit 2, no probes."""
    path = write_config(tmp_path, mqtt={"host": "127.0.0.1", "pasword": "s3cret-pass-99"})
    rows, code = await check_config(path)
    assert code == 2
    (typo,) = rows
    assert typo.verdict is Verdict.FAIL
    assert typo.target == "agent.yaml:4"
    assert typo.detail.startswith("mqtt.pasword: unknown key (expected one of: host, port,")
    assert "s3cret-pass-99" not in repr(rows)


async def test_skeleton_placeholders_are_refused(tmp_path: Path) -> None:
    """A value still holding the skeleton's `change-me` fails the check (exit 2)."""
    mqtt = {"host": "127.0.0.1", "password": "CHANGE-ME"}
    rows, code = await check_config(write_config(tmp_path, mqtt=mqtt))
    assert code == 2
    assert [r.detail for r in rows if r.verdict is Verdict.FAIL] == [
        "mqtt.password: still a placeholder: set it"
    ]


async def test_a_port_taken_by_another_process_is_named(tmp_path: Path) -> None:
    """The HTTP push port held by some other process fails, naming its pid."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = write_config(
            tmp_path, http={"port": port}, mqtt={"host": "127.0.0.1", "port": free_port()}
        )
        rows, _ = await check_config(path)
    http = row(rows, "http")
    assert http.verdict is Verdict.FAIL
    assert http.detail.startswith(f"port {port} is in use by ")


def test_the_command_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`check --config FILE` prints the table on stdout and exits non-zero on a failure."""
    path = write_config(tmp_path, mqtt={"host": "127.0.0.1", "port": free_port()})
    assert main(["check", "--config", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["CHECK", "TARGET", "RESULT", "DETAIL"]
    assert out[-1].endswith("1 failed, 0 warnings")
    assert TOKEN not in "\n".join(out)
