"""The `modbus:` config section and the door state machine's rules (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from agent import AgentConfig
from agent.drivers.modbus import DoorInputs, DoorMachine, ModbusConfig
from wire import EventType

if TYPE_CHECKING:
    from pathlib import Path

_T = EventType


def _door(device: str, **more: Any) -> dict[str, Any]:
    return {"device": device, "position": {"address": 0}, "lock": {"address": 1}, **more}


def _agent(tmp_path: Path, modbus: dict[str, Any], devices: list[dict[str, Any]]) -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "site": "room-07",
            "mqtt": {"host": "127.0.0.1"},
            "outbox": {"path": str(tmp_path / "o.sqlite3")},
            "modbus": modbus,
            "devices": devices,
        }
    )


def _device(device: str, driver: str = "modbus") -> dict[str, Any]:
    return {"id": device, "kind": "door_lock", "driver": driver, "checkin_s": 300}


def test_defaults_and_device_refs() -> None:
    """A minimal controller gets the documented defaults; device_refs names each door's path."""
    config = ModbusConfig.model_validate(
        {"controllers": [{"host": "10.0.0.5", "doors": [_door("d-1"), _door("d-2")]}]}
    )
    [controller] = config.controllers
    assert (controller.port, controller.device_id, controller.poll_interval_s) == (502, 1, 0.25)
    assert (controller.offline_after, controller.timeout_s) == (3, 1.0)
    assert controller.doors[0].held_open_s == 30.0
    assert controller.doors[0].position.table == "discrete_input"
    assert list(config.device_refs()) == [
        (("controllers", 0, "doors", 0, "device"), "d-1"),
        (("controllers", 0, "doors", 1, "device"), "d-2"),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"poll_interval_s": 0}, "poll_interval_s"),
        ({"offline_after": 0}, "offline_after"),
        ({"reconnect_min_s": 5, "reconnect_max_s": 1}, "at least reconnect_min_s"),
        ({"device_id": 256}, "device_id"),
        ({"doors": []}, "doors"),
        ({"doors": [_door("d-1", tamper={"address": 70000})]}, "address"),
        ({"doors": [_door("d-1", forced={"address": 2, "bit": 3})]}, "only for registers"),
        ({"doors": [_door("d-1", lock={"table": "coils", "address": 1})]}, "table"),
        ({"doors": [_door("d-1"), _door("d-1")]}, "already the door controllers"),
        ({"doors": [_door("d-1", surprise=1)]}, "surprise"),
    ],
)
def test_bad_sections_are_refused(change: dict[str, Any], message: str) -> None:
    """Every field is bounded; bits only in registers; a door listed twice is refused."""
    controller = {"host": "10.0.0.5", "doors": [_door("d-1")], **change}
    with pytest.raises(ValidationError, match=message):
        ModbusConfig.model_validate({"controllers": [controller]})


def test_doors_must_be_modbus_devices(tmp_path: Path) -> None:
    """A door naming an unlisted or non-modbus device, or a modbus device unnamed, is refused."""
    modbus = {"controllers": [{"host": "h", "doors": [_door("d-1")]}]}
    assert _agent(tmp_path, modbus, [_device("d-1")]).modbus is not None
    with pytest.raises(ValidationError, match="not listed under devices"):
        _agent(tmp_path, modbus, [])
    with pytest.raises(ValidationError, match="has driver 'sia'"):
        _agent(tmp_path, modbus, [_device("d-1", "sia")])
    with pytest.raises(ValidationError, match="names device 'd-2'"):
        _agent(tmp_path, modbus, [_device("d-1"), _device("d-2")])


def _machine() -> DoorMachine:
    return DoorMachine(held_open_s=10.0, grant_s=5.0)


CLOSED = DoorInputs(open=False, locked=True, exit_request=False)


def test_an_exit_request_grant_expires_after_grant_s() -> None:
    """A REX seen 5 s before excuses an opening; one seen 6 s before does not."""
    for gap, expected in ((5.0, [_T.DOOR_OPENED]), (6.0, [_T.DOOR_OPENED, _T.DOOR_FORCED])):
        machine = _machine()
        machine.step(0.0, CLOSED)
        machine.step(1.0, DoorInputs(open=False, locked=True, exit_request=True))
        machine.step(1.5, CLOSED)
        opened = machine.step(1.0 + gap, DoorInputs(open=True, locked=True, exit_request=False))
        assert [t.type for t in opened] == expected


def test_an_unlock_in_the_same_poll_is_a_grant() -> None:
    """Unlocked and opened between two polls: unlocked then opened, never forced."""
    machine = _machine()
    machine.step(0.0, CLOSED)
    out = machine.step(0.25, DoorInputs(open=True, locked=False, exit_request=False))
    assert [t.type for t in out] == [_T.DOOR_UNLOCKED, _T.DOOR_OPENED]


def test_forced_input_with_a_forced_opening_is_one_event() -> None:
    """Opened while locked and the forced input rising together: one door.forced."""
    machine = _machine()
    machine.step(0.0, DoorInputs(open=False, locked=True, forced=False))
    out = machine.step(0.25, DoorInputs(open=True, locked=True, forced=True))
    assert [t.type for t in out] == [_T.DOOR_OPENED, _T.DOOR_FORCED]
    assert out[1].data["reason"] == "forced_input"


def test_held_open_counts_from_the_first_poll_when_open_at_start() -> None:
    """A door open at start is timed from the first poll, and reported held open once."""
    machine = _machine()
    assert machine.step(0.0, DoorInputs(open=True, locked=False)) == []
    assert machine.step(9.0, DoorInputs(open=True, locked=False)) == []
    [held] = machine.step(10.0, DoorInputs(open=True, locked=False))
    assert held.type is _T.DOOR_HELD_OPEN
    assert machine.step(30.0, DoorInputs(open=True, locked=False)) == []
