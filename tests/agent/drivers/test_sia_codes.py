"""The Contact ID and SIA-DCS tables, row by row, and the data readers that feed them.

The expected rows are written out here from the issue's list, independently of
`agent.drivers.sia.codes`, so a wrong row in the table fails its own test.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.drivers.sia.codes import CONTACT_ID, SIA_DCS, Subject, contact_id, sia_dcs
from agent.drivers.sia.messages import (
    ContentError,
    parse_content,
    read_contact_id,
    read_sia_dcs,
)
from wire import LANES, EventType, Lane

T = EventType


def _expand(
    codes: tuple[int, ...], new: EventType, restore: EventType
) -> list[tuple[int, EventType, EventType]]:
    return [(code, new, restore) for code in codes]


# (code, qualifier 1 type, qualifier 3 type), straight from the issue.
EXPECTED_CID = [
    *_expand((110, 111, 112, 113, 114, 115, 116, 117, 118), T.ALARM_FIRE, T.ALARM_RESTORE),
    *_expand((120, 122, 123), T.ALARM_PANIC, T.ALARM_RESTORE),
    (121, T.ALARM_DURESS, T.ALARM_RESTORE),
    *_expand((130, 131, 132, 133, 134, 135, 136, 138, 139), T.ALARM_INTRUSION, T.ALARM_RESTORE),
    *_expand((137, 144, 145, 383), T.ALARM_TAMPER, T.ALARM_RESTORE),
    (301, T.POWER_AC_LOST, T.POWER_AC_RESTORED),
    *_expand((302, 309, 384), T.BATTERY_LOW, T.BATTERY_OK),
    *_expand((333, 381, 147), T.DEVICE_OFFLINE, T.DEVICE_ONLINE),
    *_expand((350, 354), T.DEVICE_TROUBLE, T.DEVICE_TROUBLE),
    *_expand((401, 403, 407, 409, 441), T.PANEL_DISARMED, T.PANEL_ARMED),
    *_expand((421, 424), T.ACCESS_DENIED, T.ACCESS_DENIED),
    *_expand((422, 425), T.ACCESS_GRANTED, T.ACCESS_GRANTED),
    (423, T.DOOR_FORCED, T.DOOR_CLOSED),
    (426, T.DOOR_HELD_OPEN, T.DOOR_CLOSED),
    *_expand((427, 428), T.DEVICE_TROUBLE, T.DEVICE_TROUBLE),
    *_expand((601, 602), T.TEST_PERIODIC, T.TEST_PERIODIC),
]
USER_CODES = {121, 401, 403, 407, 409, 441}

EXPECTED_SIA = [
    ("BA", T.ALARM_INTRUSION),
    ("BR", T.ALARM_RESTORE),
    ("PA", T.ALARM_PANIC),
    ("PR", T.ALARM_RESTORE),
    ("HA", T.ALARM_DURESS),
    ("TA", T.ALARM_TAMPER),
    ("TR", T.ALARM_RESTORE),
    ("FA", T.ALARM_FIRE),
    ("FR", T.ALARM_RESTORE),
    ("AT", T.POWER_AC_LOST),
    ("AR", T.POWER_AC_RESTORED),
    ("YT", T.BATTERY_LOW),
    ("YR", T.BATTERY_OK),
    ("OP", T.PANEL_DISARMED),
    ("CL", T.PANEL_ARMED),
    ("DF", T.DOOR_FORCED),
    ("DG", T.ACCESS_GRANTED),
    ("DD", T.ACCESS_DENIED),
    ("RP", T.TEST_PERIODIC),
]


@pytest.mark.parametrize(("code", "new", "restore"), EXPECTED_CID)
def test_contact_id_row(code: int, new: EventType, restore: EventType) -> None:
    """Qualifier 1 and 6 give the new type, 3 the restore; user codes name no zone."""
    assert contact_id(1, code) == contact_id(6, code)
    opened, closed = contact_id(1, code), contact_id(3, code)
    assert opened is not None
    assert closed is not None
    assert (opened.type, opened.restore) == (new, False)
    assert (closed.type, closed.restore) == (restore, True)
    subject = Subject.USER if code in USER_CODES else Subject.ZONE
    assert opened.subject is closed.subject is subject


def test_contact_id_table_has_exactly_the_listed_rows() -> None:
    """No code is mapped that the issue does not list."""
    assert sorted(CONTACT_ID) == sorted(code for code, _, _ in EXPECTED_CID)


@pytest.mark.parametrize("code", [130, 120, 110, 137, 121])
def test_alarm_codes_are_p0_and_their_restores_are_not(code: int) -> None:
    """Alarms ride P0 (never shed); their restores P1."""
    opened, closed = contact_id(1, code), contact_id(3, code)
    assert opened is not None
    assert closed is not None
    assert (LANES[opened.type], LANES[closed.type]) == (Lane.P0, Lane.P1)


@pytest.mark.parametrize(("qualifier", "code"), [(2, 130), (9, 130), (1, 999), (3, 100)])
def test_unmapped_qualifier_or_code_reads_as_none(qualifier: int, code: int) -> None:
    """An unknown qualifier or event code has no reading (the receiver makes it `unknown`)."""
    assert contact_id(qualifier, code) is None


@pytest.mark.parametrize(("code", "expected"), EXPECTED_SIA)
def test_sia_dcs_row(code: str, expected: EventType) -> None:
    """Each SIA-DCS code the issue names maps to its type."""
    reading = sia_dcs(code)
    assert reading is not None
    assert reading.type is expected


def test_sia_dcs_restores_are_flagged() -> None:
    """Every row whose type is alarm.restore says it is a restore."""
    for code, reading in SIA_DCS.items():
        if reading.type is T.ALARM_RESTORE:
            assert reading.restore, code


def test_contact_id_data_is_read() -> None:
    """`1130 01 015`: qualifier 1, code 130, partition 1, zone 15."""
    [signal] = read_contact_id("1130 01 015")
    assert (signal.code, signal.number, signal.partition) == ("1130", 15, 1)
    assert signal.reading is not None
    assert signal.reading.type is T.ALARM_INTRUSION


@pytest.mark.parametrize("data", ["1130 01", "113 01 015", "x130 01 015", ""])
def test_malformed_contact_id_data_reads_as_nothing(data: str) -> None:
    """Data that is not `QEEE PP ZZZ` gives no signal."""
    assert read_contact_id(data) == ()


def test_sia_dcs_data_with_several_codes_and_modifiers() -> None:
    """`Nri2/id7/OP/BA015/BR015^Hall^`: area and user carried, one signal per code."""
    signals = read_sia_dcs("Nri2/id7/OP/BA015/BR015^Hall^")
    assert [(s.code, s.number, s.partition, s.user) for s in signals] == [
        ("OP", None, 2, 7),
        ("BA", 15, 2, 7),
        ("BR", 15, 2, 7),
    ]


def test_sia_dcs_field_that_does_not_parse_reads_as_nothing() -> None:
    """One unreadable field makes the whole data unreadable (it becomes `unknown`)."""
    assert read_sia_dcs("Nri1/BA01/???") == ()


def test_content_with_account_prefix_x_data_and_timestamp() -> None:
    """`#1234|Nri1/BA01][Vhello]_12:30:00,11-26-2026` splits into its parts."""
    content = parse_content("#1234|Nri1/BA01][Vhello][Mmac]_12:30:00,11-26-2026")
    assert content.data == "Nri1/BA01"
    assert content.extended == ("Vhello", "Mmac")
    assert content.timestamp == datetime(2026, 11, 26, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["no bracket", "ok]_99:99:99,13-45-2026", "ok]junk"])
def test_malformed_content_is_refused(text: str) -> None:
    """No closing bracket, an impossible time, or trailing junk is a ContentError."""
    with pytest.raises(ContentError):
        parse_content(text)
