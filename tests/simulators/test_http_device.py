"""The HTTP push device simulator: its script language and its refusal of bad ids."""

import pytest

import wire
from simulators.http_device import HttpDevice, Step, parse_script


def test_script_reads_delays_and_types_in_order() -> None:
    """`DELAY:TYPE,...` becomes steps in order, with fractional delays kept."""
    assert parse_script("60:alarm.panic, 0.5:alarm.restore") == [
        Step(60.0, wire.EventType.ALARM_PANIC),
        Step(0.5, wire.EventType.ALARM_RESTORE),
    ]


def test_empty_script_has_no_steps() -> None:
    """An empty script (or only separators) plays nothing."""
    assert parse_script(" , ") == []


@pytest.mark.parametrize(
    ("script", "names"),
    [
        ("alarm.panic", "is not DELAY:TYPE"),
        ("soon:alarm.panic", "soon"),
        ("5:alarm.nonsense", "alarm.nonsense"),
    ],
)
def test_bad_script_step_is_refused_naming_it(script: str, names: str) -> None:
    """A malformed step raises ValueError naming the step and what is wrong."""
    with pytest.raises(ValueError, match=names):
        parse_script(script)


def test_device_id_outside_the_contract_is_refused() -> None:
    """A device id that the wire contract would refuse is refused at construction."""
    with pytest.raises(ValueError, match="Panic-01"):
        HttpDevice("http://127.0.0.1:1", "Panic-01", "token")
